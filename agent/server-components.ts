/**
 * The node-component calls of the agent (Hold, Release, EtcdSnapshot, FetchSnapshot) and the
 * components / snapshots part of GetNode. Handlers are thin: ComponentService does the work;
 * agent/server.ts registers them with its own unary wrapper and error mapping (passed in, so this
 * file does not import server.ts).
 */
import type * as grpc from '@grpc/grpc-js';
import { isKipError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import type { AgentHandlers } from '../proto/kip/generated/kip/v1/Agent.ts';
import type { ComponentInfo as PbComponentInfo } from '../proto/kip/generated/kip/v1/ComponentInfo.ts';
import type { EtcdSnapshotInfo as PbEtcdSnapshotInfo } from '../proto/kip/generated/kip/v1/EtcdSnapshotInfo.ts';
import type { FetchSnapshotRequest__Output } from '../proto/kip/generated/kip/v1/FetchSnapshotRequest.ts';
import type { HoldState as PbHoldState } from '../proto/kip/generated/kip/v1/HoldState.ts';
import type { SnapshotChunk } from '../proto/kip/generated/kip/v1/SnapshotChunk.ts';
import { createReadStream } from 'node:fs';
import path from 'node:path';
import {
  COMPONENT_NAMES,
  ComponentNotOnNodeError,
  EtcdTargetInvalidError,
  UnknownComponentNameError,
  defaultHealthProbe,
  discoverComponents,
  isComponentName,
  parseStaticPodManifest,
  type Component,
  type ComponentConfig,
  type ComponentName,
  type DiscoveryDeps,
  type EtcdSnapshotInfo,
  type EtcdSnapshots,
  type EtcdTarget,
  type HoldRecord,
  type HoldStore,
} from './components/index.ts';
import { PreconditionError } from './upgrade/errors.ts';

export interface ComponentServiceDeps {
  readonly discovery: DiscoveryDeps;
  readonly configs: readonly ComponentConfig[];
  readonly holds: HoldStore;
  readonly snapshots: EtcdSnapshots;
  /** From the agent config; a request may name another endpoint, never other certificates. */
  readonly etcd: EtcdTarget;
  readonly logger: Logger;
}

export interface ComponentView {
  readonly component: Component | undefined;
  readonly name: ComponentName;
  readonly hold: HoldRecord | undefined;
}

const CHUNK = 1 << 20;

/** What the upgrade runs need around Hold and Release (wired by agent/main.ts to the UpgradeAgent). */
export interface RunHooks {
  /** Throws RUN_IN_PROGRESS while a run of this component is in progress. */
  assertNoRunOf(name: string): Promise<void>;
  /**
   * After Release started it: it runs healthy again (after a held swap, the verification the run
   * skipped); throws COMPONENT_UNHEALTHY. `heldSinceMs`: when the hold began. `onlyHeldSwap`: a
   * Release that found no hold checks only a held swap not yet verified.
   */
  verifyReleased(name: string, heldSinceMs: number, onlyHeldSwap?: boolean): Promise<void>;
  /**
   * Runs fn holding the node's one mutating claim (agent/upgrade/node-claim.ts): refused with
   * RUN_IN_PROGRESS naming the holder while a run, a heal or another Hold/Release holds it.
   */
  withClaim?<T>(kind: 'hold' | 'release', name: string, fn: () => Promise<T>): Promise<T>;
}

export class ComponentService {
  private queue: Promise<unknown> = Promise.resolve();
  private hooks: RunHooks | undefined;

  constructor(private readonly deps: ComponentServiceDeps) {}

  /** Called once by the composition root, which creates this service before the upgrade agent. */
  setRunHooks(hooks: RunHooks): void {
    this.hooks = hooks;
  }

  /** Where Hold keeps a static pod's manifest: <manifests>/../kip-held/<file> (HoldStore's rule). */
  heldManifestPath(manifest: string): string {
    return path.posix.join(path.posix.dirname(path.posix.dirname(manifest)), 'kip-held', path.posix.basename(manifest));
  }

  async holdPhase(name: string): Promise<string | undefined> {
    if (!isComponentName(name)) return undefined;
    return (await this.deps.holds.get(name))?.phase;
  }

  /**
   * The component as a run acts on it. A held static pod's manifest is not where discovery looks
   * (Hold moved it): it is read where Hold keeps it, and reported at its live path.
   */
  async resolve(name: string): Promise<Component> {
    if (!isComponentName(name)) throw new UnknownComponentNameError(name, COMPONENT_NAMES);
    const hold = await this.deps.holds.get(name);
    if (hold?.kind === 'static-pod') {
      const text = await this.deps.discovery.fs.readText(this.deps.discovery.hostPath(hold.heldManifest));
      if (text !== undefined) {
        const m = parseStaticPodManifest(text, hold.heldManifest, name);
        const health = defaultHealthProbe({ name, version: m.version, args: m.args, kubeletHealthzUrl: this.deps.discovery.kubeletHealthzUrl });
        const cfg = this.deps.configs.find((c) => c.name === name);
        return {
          name,
          runtime: { kind: 'static-pod', manifest: hold.manifest, container: m.container, image: m.image },
          version: m.version,
          health: cfg?.healthUrl ? { url: cfg.healthUrl, insecureSkipVerify: cfg.insecureSkipVerify ?? false, source: 'config' } : health,
          args: m.args,
          origin: cfg ? 'config' : 'discovered',
        };
      }
    }
    return this.find(name);
  }

  /** One mutating call at a time: a Hold and a Release of the same component never interleave. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Finishes holds and releases a crash interrupted (call once at agent start). */
  async start(): Promise<void> {
    const held = await this.serial(() => this.deps.holds.reconcile());
    if (held.length > 0) this.deps.logger.info({ held: held.map((h) => h.component) }, 'components held');
  }

  /** Discovered components plus held ones discovery cannot see (a held static pod's manifest is moved away). */
  async views(): Promise<ComponentView[]> {
    const found = await discoverComponents(this.deps.discovery, this.deps.configs);
    const holds = await this.deps.holds.list();
    return COMPONENT_NAMES.flatMap((name): ComponentView[] => {
      const component = found.find((c) => c.name === name);
      const hold = holds.find((h) => h.component === name);
      return component || hold ? [{ name, component, hold }] : [];
    });
  }

  private async find(name: string): Promise<Component> {
    if (!isComponentName(name)) throw new UnknownComponentNameError(name, COMPONENT_NAMES);
    const [c] = await discoverComponents(this.deps.discovery, this.deps.configs, name);
    if (c) return c;
    const found = await discoverComponents(this.deps.discovery, this.deps.configs).catch(() => []);
    throw new ComponentNotOnNodeError(name, found.map((x) => x.name));
  }

  private claimed<T>(kind: 'hold' | 'release', name: string, fn: () => Promise<T>): Promise<T> {
    const withClaim = this.hooks?.withClaim;
    return withClaim ? withClaim(kind, name, fn) : fn();
  }

  hold(name: string) {
    return this.serial(() => this.claimed('hold', name, async () => {
      await this.hooks?.assertNoRunOf(name);
      if (isComponentName(name)) {
        const existing = await this.deps.holds.get(name);
        if (existing?.phase === 'held') return { record: existing, changed: false };
        // A hold interrupted after the manifest moved is finished without discovery (which cannot see it).
        if (existing) return this.deps.holds.reconcileOne(name);
      }
      return this.deps.holds.hold(await this.find(name));
    }));
  }

  /**
   * Lets the component run again and waits until it runs healthy; when a run swapped it while it
   * was held, the new version (COMPONENT_UNHEALTHY otherwise: Rollback(run_id) restores the old one).
   */
  release(name: string) {
    return this.serial(async () => {
      if (!isComponentName(name)) throw new UnknownComponentNameError(name, COMPONENT_NAMES);
      return this.claimed('release', name, async () => {
        await this.hooks?.assertNoRunOf(name);
        const heldSinceMs = (await this.deps.holds.get(name))?.sinceMs ?? 0;
        const r = await this.deps.holds.release(name);
        // Also when this Release found no hold: a Release repeated after COMPONENT_UNHEALTHY, or one
        // a killed coordinator sends again, must answer as the first did until the held swap ran
        // healthy once; a repeated Release of a plain hold is done at once. A unit stopped before
        // Hold stays stopped on its first Release and is not checked then.
        if (r.started) await this.hooks?.verifyReleased(name, heldSinceMs);
        else if (!r.changed) await this.hooks?.verifyReleased(name, heldSinceMs, true);
        return r;
      });
    });
  }

  snapshot(endpoint: string): Promise<EtcdSnapshotInfo> {
    const target: EtcdTarget = endpoint === '' ? this.deps.etcd : { ...this.deps.etcd, endpoints: [endpoint] };
    if (target.endpoints.length === 0) throw new EtcdTargetInvalidError('no etcd endpoint: set etcdEndpoints in the agent config or name one in the request');
    return this.serial(() => this.deps.snapshots.save(target));
  }

  listSnapshots(): Promise<EtcdSnapshotInfo[]> {
    return this.deps.snapshots.list();
  }

  getSnapshot(id: string): Promise<EtcdSnapshotInfo> {
    return this.deps.snapshots.get(id);
  }
}

export function componentToProto(v: ComponentView): PbComponentInfo {
  const c = v.component;
  const h = v.hold;
  const rt = c?.runtime;
  return {
    name: v.name,
    runtime: rt?.kind ?? h?.kind ?? '',
    unit: rt?.kind === 'systemd' ? rt.unit : h?.kind === 'systemd' ? h.unit : '',
    binary: rt?.kind === 'systemd' ? rt.binary : '',
    manifest: rt?.kind === 'static-pod' ? rt.manifest : h?.kind === 'static-pod' ? h.manifest : '',
    image: rt?.kind === 'static-pod' ? rt.image : '',
    version: c?.version ?? '',
    healthUrl: c?.health.url ?? '',
    healthSource: c?.health.source ?? '',
    origin: c?.origin ?? 'held',
    held: h !== undefined,
    holdPhase: h?.phase ?? '',
  };
}

export function snapshotToProto(s: EtcdSnapshotInfo): PbEtcdSnapshotInfo {
  return {
    id: s.id,
    endpoint: s.endpoint,
    sizeBytes: s.sizeBytes,
    sha256: s.sha256,
    etcdHash: s.etcdHash,
    revision: s.revision,
    totalKeys: s.totalKeys,
    totalSize: s.totalSize,
    createdAtUnixMs: s.createdAtMs,
    durationMs: s.durationMs,
  };
}

function holdToProto(r: HoldRecord, changed: boolean): PbHoldState {
  return {
    component: r.component,
    runtime: r.kind,
    phase: r.phase,
    unit: r.kind === 'systemd' ? r.unit : '',
    manifest: r.kind === 'static-pod' ? r.manifest : '',
    heldManifest: r.kind === 'static-pod' ? r.heldManifest : '',
    sinceUnixMs: r.sinceMs,
    changed,
  };
}

/**
 * The GetNode fields this room owns. A component that cannot be read (a manifest that does not
 * parse) must not take GetNode down with it: the kubelet upgrade still needs the rest, so the
 * problem is reported in components_error instead.
 */
export async function componentNodeFields(svc: ComponentService | undefined): Promise<{ components: PbComponentInfo[]; etcdSnapshots: PbEtcdSnapshotInfo[]; componentsError: string }> {
  if (!svc) return { components: [], etcdSnapshots: [], componentsError: '' };
  const errText = (err: unknown) => (isKipError(err) ? `${err.code}: ${err.message}` : String(err));
  let components: PbComponentInfo[] = [];
  let componentsError = '';
  try {
    components = (await svc.views()).map(componentToProto);
  } catch (err) {
    componentsError = errText(err);
  }
  let etcdSnapshots: PbEtcdSnapshotInfo[] = [];
  try {
    etcdSnapshots = (await svc.listSnapshots()).map(snapshotToProto);
  } catch (err) {
    componentsError ||= errText(err);
  }
  return { components, etcdSnapshots, componentsError };
}

type Unary = <Req, Res>(name: string, mutating: boolean, fn: (req: Req) => Promise<Res>) => grpc.handleUnaryCall<Req, Res>;

export interface ComponentHandlerTools {
  readonly unary: Unary;
  readonly toServiceError: (err: unknown) => grpc.ServiceError;
  readonly log: Logger;
}

export type ComponentHandlers = Pick<AgentHandlers, 'Hold' | 'Release' | 'EtcdSnapshot' | 'FetchSnapshot'>;

export function createComponentHandlers(svc: ComponentService | undefined, t: ComponentHandlerTools): ComponentHandlers {
  const need = (): ComponentService => {
    if (!svc) throw new PreconditionError('COMPONENTS_DISABLED', 'this agent was started without the component service');
    return svc;
  };
  return {
    Hold: t.unary('Hold', true, async (req: { component: string }) => {
      const r = await need().hold(req.component);
      return holdToProto(r.record, r.changed);
    }),
    Release: t.unary('Release', true, async (req: { component: string }) => need().release(req.component)),
    EtcdSnapshot: t.unary('EtcdSnapshot', true, async (req: { endpoint: string }) => snapshotToProto(await need().snapshot(req.endpoint))),
    FetchSnapshot: (call: grpc.ServerWritableStream<FetchSnapshotRequest__Output, SnapshotChunk>) => {
      const run = async () => {
        const info = await need().getSnapshot(call.request.id);
        call.write({ info: snapshotToProto(info) });
        const stream = createReadStream(info.path, { highWaterMark: CHUNK });
        for await (const chunk of stream) {
          if (call.cancelled) {
            stream.destroy();
            return;
          }
          if (!call.write({ data: chunk as Buffer })) await new Promise<void>((r) => call.once('drain', () => r()));
        }
      };
      run().then(
        () => call.end(),
        (err: unknown) => {
          t.log.warn({ method: 'FetchSnapshot', err }, 'call failed');
          call.emit('error', t.toServiceError(err));
        },
      );
    },
  };
}
