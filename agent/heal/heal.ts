/**
 * The Heal RPC's work: restart the kubelet outside an upgrade run (./gate.ts says when), wait until
 * it answers healthy again on a new main PID, and prove no container restarted (the running
 * container ids before and after, once settleMs has passed).
 *
 * Crash safety: the heal is journaled (<stateDir>/heal/<id>.json, atomic write) before the kubelet
 * is stopped; a journal write that fails stops the heal before it acts. An agent killed between
 * stop and start finds the journal "restarting" at start-up (recover()) and starts the kubelet
 * again. A repeated heal id answers from the journal and never restarts twice.
 *
 * A heal holds the node's one mutating claim (agent/upgrade/node-claim.ts) from before its gate
 * until it ends: an Upgrade, Rollback, Hold, Release, RemoveStaged or another heal is refused
 * meanwhile with RUN_IN_PROGRESS naming it, and a heal is refused the same way while one of those
 * holds the node. The check and the take are one synchronous step, so two racing calls never both pass.
 */
import path from 'node:path';
import type { Clock } from '../../lib/clock.ts';
import { InvalidInputError, isKipError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import type { ContainerInfo } from '../runtime/types.ts';
import { PreconditionError, StepFailedError } from '../upgrade/errors.ts';
import type { NodeClaim } from '../upgrade/node-claim.ts';
import type { FileSystem } from '../upgrade/fs.ts';
import type { HealthPort, SystemdPort } from '../upgrade/ports.ts';
import { isKubernetesContainer } from '../watch/consistency.ts';
import { KubeLabel } from '../runtime/kube-labels.ts';
import { healGate, type HealFacts, type HealMode } from './gate.ts';

export interface HealRequest {
  readonly mode: HealMode;
  readonly dryRun: boolean;
  /** Empty: the agent picks one. */
  readonly healId: string;
  readonly timeoutMs?: number;
  readonly settleMs?: number;
}

export interface HealResult {
  readonly healId: string;
  readonly mode: HealMode;
  readonly dryRun: boolean;
  readonly restarted: boolean;
  readonly oldMainPid: number;
  readonly newMainPid: number;
  readonly downtimeMs: number;
  readonly firstHealthyAtUnixMs: number;
  readonly gate: string;
  readonly containersBefore: number;
  readonly containersRestarted: readonly string[];
  readonly oldHashContainers: readonly string[];
}

interface Journal {
  readonly healId: string;
  readonly mode: HealMode;
  readonly phase: 'restarting' | 'done' | 'failed' | 'recovered';
  readonly oldMainPid: number;
  readonly startedAtMs: number;
  readonly result?: HealResult;
  readonly error?: string;
}

export interface HealPorts {
  readonly fs: Pick<FileSystem, 'readText' | 'writeAtomic' | 'mkdirp' | 'list'>;
  readonly systemd: Pick<SystemdPort, 'unitInfo' | 'stop' | 'start'>;
  readonly health: HealthPort;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Everything the gate needs except mode (the node view and the hash consistency). */
  readonly facts: (mode: HealMode) => Promise<Omit<HealFacts, 'mode'>>;
  /** The runtime's containers (the before/after comparison). */
  readonly containers: () => Promise<readonly ContainerInfo[]>;
  readonly config: { readonly stateDir: string; readonly kubeletUnit: string; readonly healthzUrl: string; readonly verifyTimeoutMs: number; readonly pollMs: number };
  /** The node's one mutating claim, shared with the upgrade agent (UpgradeAgent.claim). */
  readonly claim: Pick<NodeClaim, 'take' | 'holder'>;
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const DEFAULT_SETTLE_MS = 5_000;

const running = (cs: readonly ContainerInfo[]): Map<string, string> =>
  new Map(cs.filter((c) => c.state === 'running' && isKubernetesContainer(c)).map((c) => [c.id, `${c.labels[KubeLabel.podNamespace] ?? ''}/${c.labels[KubeLabel.podName] ?? ''}/${c.name}`]));

export class HealService {
  readonly #p: HealPorts;
  readonly #log: Logger;

  constructor(ports: HealPorts) {
    this.#p = ports;
    this.#log = ports.logger.child({ component: 'heal' });
  }

  /** True while a heal holds the node claim. */
  get busy(): boolean {
    return this.#p.claim.holder?.kind === 'heal';
  }

  #dir(): string {
    return path.join(this.#p.config.stateDir, 'heal');
  }

  #file(id: string): string {
    return path.join(this.#dir(), `${id}.json`);
  }

  async #read(id: string): Promise<Journal | undefined> {
    const text = await this.#p.fs.readText(this.#file(id));
    if (text === undefined) return undefined;
    return JSON.parse(text) as Journal;
  }

  async #write(j: Journal): Promise<void> {
    await this.#p.fs.mkdirp(this.#dir());
    await this.#p.fs.writeAtomic(this.#file(j.healId), `${JSON.stringify(j)}\n`);
  }

  async heal(req: HealRequest): Promise<HealResult> {
    const healId = req.healId || `heal-${this.#p.clock.now()}`;
    if (!ID_RE.test(healId)) throw new InvalidInputError('HEAL_ID_INVALID', 'heal_id must be 1-128 characters of [A-Za-z0-9._-], starting with a letter or digit', { healId });
    const done = req.dryRun ? undefined : await this.#read(healId);
    if (done?.result) return done.result;
    if (done) throw new PreconditionError('HEAL_ID_USED', `heal ${healId} ended ${done.phase}${done.error ? `: ${done.error}` : ''}; use a new heal id`, { healId, phase: done.phase });
    // A dry run changes nothing: it answers the gate without the claim.
    if (req.dryRun) return this.#heal({ ...req, healId });
    const claim = this.#p.claim.take('heal', healId);
    try {
      await claim.journaled;
      return await this.#heal({ ...req, healId });
    } finally {
      await claim.release();
    }
  }

  async #heal(req: HealRequest & { healId: string }): Promise<HealResult> {
    const facts: HealFacts = { ...(await this.#p.facts(req.mode)), mode: req.mode };
    const verdict = healGate(facts);
    const oldHashContainers = facts.hashes?.oldHash ?? [];
    if (!verdict.ok) throw new PreconditionError(verdict.code, verdict.message, { mode: req.mode, oldHash: oldHashContainers.slice(0, 20) });
    const unit = this.#p.config.kubeletUnit;
    const before = await this.#p.systemd.unitInfo(unit);
    const base = { healId: req.healId, mode: req.mode, gate: verdict.gate as string, oldMainPid: before.mainPid, oldHashContainers: [...oldHashContainers] };
    // Finalize must prove no container restarted; a heal of a broken kubelet restarts it even when
    // the runtime cannot be listed (the gate already holds: the skip file protects the containers).
    let containersBefore: Map<string, string>;
    try {
      containersBefore = running(await this.#p.containers());
    } catch (err) {
      if (req.mode === 'finalize') throw err;
      this.#log.warn({ err }, 'the runtime cannot be listed: the containers are not compared around the restart');
      containersBefore = new Map();
      base.gate = `${base.gate} (containers not compared: ${err instanceof Error ? err.message : String(err)})`;
    }
    if (req.dryRun) return { ...base, dryRun: true, restarted: false, newMainPid: 0, downtimeMs: 0, firstHealthyAtUnixMs: 0, containersBefore: containersBefore.size, containersRestarted: [] };
    const startedAtMs = this.#p.clock.now();
    // Journaled before anything acts: a failed write leaves the kubelet as it was.
    await this.#write({ healId: req.healId, mode: req.mode, phase: 'restarting', oldMainPid: before.mainPid, startedAtMs });
    this.#log.info({ healId: req.healId, mode: req.mode, gate: verdict.gate, oldMainPid: before.mainPid }, 'restarting the kubelet');
    try {
      try {
        await this.#p.systemd.stop(unit);
      } finally {
        // Whatever stop did, the kubelet is started again (never left stopped).
        await this.#p.systemd.start(unit);
      }
      const up = await this.#waitHealthy(before.mainPid, req.timeoutMs && req.timeoutMs > 0 ? req.timeoutMs : this.#p.config.verifyTimeoutMs);
      await this.#p.clock.sleep(req.settleMs && req.settleMs > 0 ? req.settleMs : DEFAULT_SETTLE_MS);
      const after = containersBefore.size === 0 && req.mode === 'restart' ? new Map<string, string>() : running(await this.#p.containers());
      const containersRestarted = [...containersBefore].filter(([id]) => !after.has(id)).map(([id, name]) => `${name} (${id.slice(0, 12)})`);
      const result: HealResult = { ...base, dryRun: false, restarted: true, newMainPid: up.pid, downtimeMs: up.atMs - startedAtMs, firstHealthyAtUnixMs: up.atMs, containersBefore: containersBefore.size, containersRestarted };
      await this.#write({ healId: req.healId, mode: req.mode, phase: 'done', oldMainPid: before.mainPid, startedAtMs, result }).catch((err: unknown) => this.#log.warn({ err }, 'heal journal not updated (the kubelet is running)'));
      this.#log.info({ healId: req.healId, newMainPid: up.pid, downtimeMs: result.downtimeMs, restarted: containersRestarted.length }, 'kubelet healthy again');
      return result;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      await this.#write({ healId: req.healId, mode: req.mode, phase: 'failed', oldMainPid: before.mainPid, startedAtMs, error: message }).catch(() => undefined);
      if (isKipError(err)) throw err;
      throw new StepFailedError('HEAL_RESTART_FAILED', `restarting ${unit} failed: ${message}`, { healId: req.healId });
    }
  }

  async #waitHealthy(oldPid: number, timeoutMs: number): Promise<{ pid: number; atMs: number }> {
    const { clock, systemd, health, config } = this.#p;
    const deadline = clock.now() + timeoutMs;
    let why = 'not probed';
    for (;;) {
      const u = await systemd.unitInfo(config.kubeletUnit);
      if (u.activeState !== 'active' || u.mainPid <= 0) why = `${config.kubeletUnit} is ${u.activeState}/${u.subState}`;
      else if (u.mainPid === oldPid) why = `main PID is still the old ${oldPid}`;
      else {
        const h = await health.healthz(config.healthzUrl, Math.max(500, Math.min(2_000, config.pollMs * 4)));
        if (h.ok) return { pid: u.mainPid, atMs: clock.now() };
        why = `${config.healthzUrl}: ${h.detail}`;
      }
      if (clock.now() >= deadline) throw new StepFailedError('HEAL_KUBELET_NOT_HEALTHY', `the kubelet did not answer healthy within ${timeoutMs} ms after the restart: ${why}`, { lastProblem: why });
      await clock.sleep(config.pollMs);
    }
  }

  /** Start-up: a heal interrupted between stop and start leaves the kubelet stopped; start it. */
  async recover(): Promise<void> {
    let names: string[];
    try {
      names = await this.#p.fs.list(this.#dir());
    } catch {
      return;
    }
    for (const n of names.filter((x) => x.endsWith('.json'))) {
      const j = await this.#read(n.slice(0, -'.json'.length)).catch(() => undefined);
      if (!j || j.phase !== 'restarting') continue;
      const u = await this.#p.systemd.unitInfo(this.#p.config.kubeletUnit);
      if (u.activeState !== 'active') {
        this.#log.warn({ healId: j.healId }, 'a heal was interrupted with the kubelet stopped: starting it');
        await this.#p.systemd.start(this.#p.config.kubeletUnit);
      }
      await this.#write({ ...j, phase: 'recovered', error: 'the agent stopped during the restart; the kubelet was started again at agent start-up' });
    }
  }
}
