/**
 * Hold and Release: stop a component and keep it stopped across agent and node restarts until
 * released. The coordinator holds kube-controller-manager and kube-scheduler while the cluster is
 * half upgraded.
 *
 * - systemd: a drop-in `90-kip-hold.conf` with a condition that can never hold
 *   (ConditionPathExists=/dev/null/kip-hold: nothing exists below a character device), then
 *   daemon-reload and stop. The drop-in lives in /etc, so the unit stays down after a reboot (its
 *   start job is skipped, not failed) and also when something runs `systemctl start`. A runtime
 *   mask would vanish with /run on reboot, and `systemctl mask` refuses units whose file is in
 *   /etc/systemd/system.
 * - static pod: the manifest is moved (rename, same file system) to <manifests>/../kip-held/, so
 *   the kubelet stops the pod; release moves it back.
 *
 * Every step is journaled in <stateDir>/holds/<component>.json before it acts and is idempotent,
 * so a kill -9 at any point is finished by reconcile() at the next start. Refused for the kubelet:
 * holding it would also stop every static pod, the agent's own upgrade door.
 */
import path from 'node:path';
import type { Clock } from '../../lib/clock.ts';
import type { Systemd } from '../systemd/index.ts';
import type { FileSystem } from '../upgrade/fs.ts';
import { HoldFailedError, HoldRefusedError } from './errors.ts';
import type { Component, ComponentName } from './types.ts';

export const HOLD_DROP_IN = '90-kip-hold.conf';
export const HOLD_DROP_IN_CONTENT =
  '# Written by kip-agent Hold: keeps this unit from starting (also after a reboot) until Release.\n' +
  '# Remove it only through kip (Release), or by hand followed by systemctl daemon-reload.\n' +
  '[Unit]\nConditionPathExists=/dev/null/kip-hold\n';

export type HoldPhase = 'holding' | 'held' | 'releasing';

export type HoldRecord =
  | {
      readonly component: ComponentName;
      readonly kind: 'systemd';
      readonly phase: HoldPhase;
      readonly unit: string;
      /** Node path of the drop-in. */
      readonly dropIn: string;
      /** Whether the unit was active when held: release starts it again only then. */
      readonly wasActive: boolean;
      readonly sinceMs: number;
    }
  | {
      readonly component: ComponentName;
      readonly kind: 'static-pod';
      readonly phase: HoldPhase;
      /** Node paths. */
      readonly manifest: string;
      readonly heldManifest: string;
      readonly sinceMs: number;
    };

export interface HoldDeps {
  readonly fs: FileSystem;
  readonly systemd: Systemd;
  readonly clock: Clock;
  /** Host path of the agent's state directory. */
  readonly stateDir: string;
  /** Node path -> host path. */
  readonly hostPath: (nodePath: string) => string;
}

export interface HoldResult {
  readonly record: HoldRecord;
  /** False when the component was already held (nothing was done). */
  readonly changed: boolean;
}

export interface ReleaseResult {
  readonly component: ComponentName;
  /** False when the component was not held. */
  readonly changed: boolean;
  readonly started: boolean;
}

function refuseKubelet(name: string): void {
  if (name === 'kubelet') throw new HoldRefusedError(name, 'the kubelet runs every static pod on the node (and the skip-file contract); upgrade it with Upgrade instead');
}

export class HoldStore {
  constructor(private readonly deps: HoldDeps) {}

  private dir(): string {
    return path.join(this.deps.stateDir, 'holds');
  }

  private file(name: string): string {
    return path.join(this.dir(), `${name}.json`);
  }

  async get(name: ComponentName): Promise<HoldRecord | undefined> {
    const t = await this.deps.fs.readText(this.file(name));
    if (t === undefined) return undefined;
    return JSON.parse(t) as HoldRecord;
  }

  async list(): Promise<HoldRecord[]> {
    const out: HoldRecord[] = [];
    for (const f of (await this.deps.fs.list(this.dir())).sort()) {
      if (!f.endsWith('.json')) continue;
      const r = await this.get(f.slice(0, -5) as ComponentName);
      if (r) out.push(r);
    }
    return out;
  }

  private async journal(r: HoldRecord): Promise<void> {
    await this.deps.fs.mkdirp(this.dir());
    await this.deps.fs.writeAtomic(this.file(r.component), `${JSON.stringify(r, null, 2)}\n`, 0o600);
  }

  private async step<T>(name: ComponentName, what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw new HoldFailedError(name, what, err);
    }
  }

  /** Stops the component and keeps it stopped. Idempotent: holding a held component changes nothing. */
  async hold(c: Component, heldDir?: string): Promise<HoldResult> {
    refuseKubelet(c.name);
    const existing = await this.get(c.name);
    if (existing?.phase === 'held') return { record: existing, changed: false };
    let rec: HoldRecord;
    if (c.runtime.kind === 'systemd') {
      const unit = c.runtime.unit;
      const wasActive = existing?.kind === 'systemd' ? existing.wasActive : (await this.deps.systemd.isActive(unit)) === 'active';
      rec = { component: c.name, kind: 'systemd', phase: 'holding', unit, dropIn: `/etc/systemd/system/${unit}.d/${HOLD_DROP_IN}`, wasActive, sinceMs: this.deps.clock.now() };
    } else {
      const manifest = c.runtime.manifest;
      const dir = heldDir ?? path.posix.join(path.posix.dirname(path.posix.dirname(manifest)), 'kip-held');
      rec = { component: c.name, kind: 'static-pod', phase: 'holding', manifest, heldManifest: path.posix.join(dir, path.posix.basename(manifest)), sinceMs: this.deps.clock.now() };
    }
    await this.journal(rec);
    return { record: await this.finishHold(rec), changed: true };
  }

  private async finishHold(rec: HoldRecord): Promise<HoldRecord> {
    const { fs, systemd, hostPath } = this.deps;
    if (rec.kind === 'systemd') {
      const dropIn = hostPath(rec.dropIn);
      if ((await fs.readText(dropIn)) !== HOLD_DROP_IN_CONTENT) {
        await this.step(rec.component, 'write the hold drop-in', async () => {
          await fs.mkdirp(path.dirname(dropIn));
          await fs.writeAtomic(dropIn, HOLD_DROP_IN_CONTENT, 0o644);
        });
      }
      await this.step(rec.component, 'systemctl daemon-reload', () => systemd.daemonReload());
      await this.step(rec.component, `systemctl stop ${rec.unit}`, () => systemd.stop(rec.unit));
    } else {
      const from = hostPath(rec.manifest);
      const to = hostPath(rec.heldManifest);
      const present = (await fs.stat(from)) !== undefined;
      if (present) {
        await this.step(rec.component, `move ${rec.manifest} aside`, async () => {
          await fs.mkdirp(path.dirname(to));
          await fs.rename(from, to);
          await fs.fsyncDir(path.dirname(to));
          await fs.fsyncDir(path.dirname(from));
        });
      } else if ((await fs.stat(to)) === undefined) {
        throw new HoldFailedError(rec.component, 'hold', new Error(`neither ${rec.manifest} nor ${rec.heldManifest} exists`));
      }
    }
    const held: HoldRecord = { ...rec, phase: 'held' };
    await this.journal(held);
    return held;
  }

  /** Lets the component run again. Idempotent: releasing a component that is not held changes nothing. */
  async release(name: ComponentName): Promise<ReleaseResult> {
    refuseKubelet(name);
    const rec = await this.get(name);
    if (rec === undefined) return { component: name, changed: false, started: false };
    const releasing: HoldRecord = { ...rec, phase: 'releasing' };
    await this.journal(releasing);
    return this.finishRelease(releasing);
  }

  private async finishRelease(rec: HoldRecord): Promise<ReleaseResult> {
    const { fs, systemd, hostPath } = this.deps;
    let started = false;
    if (rec.kind === 'systemd') {
      const dropIn = hostPath(rec.dropIn);
      if ((await fs.stat(dropIn)) !== undefined) {
        await this.step(rec.component, 'remove the hold drop-in', async () => {
          await fs.remove(dropIn);
          await fs.fsyncDir(path.dirname(dropIn));
        });
      }
      await this.step(rec.component, 'systemctl daemon-reload', () => systemd.daemonReload());
      if (rec.wasActive) {
        await this.step(rec.component, `systemctl start ${rec.unit}`, () => systemd.start(rec.unit));
        started = true;
      }
    } else {
      const held = hostPath(rec.heldManifest);
      const live = hostPath(rec.manifest);
      if ((await fs.stat(held)) !== undefined && (await fs.stat(live)) === undefined) {
        await this.step(rec.component, `move ${rec.manifest} back`, async () => {
          await fs.rename(held, live);
          await fs.fsyncDir(path.dirname(live));
          await fs.fsyncDir(path.dirname(held));
        });
      }
      started = true;
    }
    await fs.remove(this.file(rec.component));
    await fs.fsyncDir(this.dir());
    return { component: rec.component, changed: true, started };
  }

  /** Finishes one journaled hold (after a crash) without asking discovery. */
  async reconcileOne(name: ComponentName): Promise<HoldResult> {
    const rec = await this.get(name);
    if (rec === undefined) throw new HoldFailedError(name, 'hold', new Error('no journaled hold to finish'));
    return { record: await this.finishHold({ ...rec, phase: 'holding' }), changed: true };
  }

  /** At agent start: finishes holds and releases a kill -9 interrupted, and re-asserts every hold. */
  async reconcile(): Promise<HoldRecord[]> {
    const out: HoldRecord[] = [];
    for (const rec of await this.list()) {
      if (rec.phase === 'releasing') await this.finishRelease(rec);
      else out.push(await this.finishHold(rec));
    }
    return out;
  }
}
