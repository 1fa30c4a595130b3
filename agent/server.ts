/**
 * The agent's gRPC server: mutual TLS (the client must present a certificate signed by our CA),
 * thin handlers that translate between the wire types and agent/upgrade, and ONE mapping from
 * typed errors to gRPC statuses (./server-errors.ts).
 *
 * Every handler runs inside its caller's context (./audit.ts): mutating calls and every call
 * that executes an uploaded binary are logged with the caller's certificate subject. No error
 * path can throw out of a handler (issue 8, defect 9): statuses are built so grpc-js accepts any
 * message, and replying is guarded. Work per caller is bounded (defect 14): GetNode shares one
 * look at the node, StageBinary streams have an idle timeout, the TLS handshake has a deadline.
 */
import * as grpc from '@grpc/grpc-js';
import { systemClock, type Clock } from '../lib/clock.ts';
import { KipError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import { loadKipGrpcObject } from '../proto/kip/loader.ts';
import { boundText } from '../proto/kip/errors.ts';
import type { ProtoGrpcType } from '../proto/kip/generated/agent.ts';
import type { AgentHandlers } from '../proto/kip/generated/kip/v1/Agent.ts';
import type { NodeInfo as PbNodeInfo } from '../proto/kip/generated/kip/v1/NodeInfo.ts';
import type { RunState as PbRunState } from '../proto/kip/generated/kip/v1/RunState.ts';
import type { StageBinaryChunk__Output } from '../proto/kip/generated/kip/v1/StageBinaryChunk.ts';
import type { StepEvent as PbStepEvent } from '../proto/kip/generated/kip/v1/StepEvent.ts';
import { callerOf, withCaller, type Caller } from './audit.ts';
import { checkLength, checkList, checkUpgradeRequest, MAX_VERSION_CHARS } from './request-limits.ts';
import { toServiceError } from './server-errors.ts';
import { dataChunks, nextWithin, type StreamBounds } from './stage-stream.ts';
import { SingleFlight } from './single-flight.ts';
import type { UpgradeAgent } from './upgrade/agent.ts';
import { Codes, InvalidInputError, PreconditionError } from './upgrade/errors.ts';
import type { StageStore } from './upgrade/stage.ts';
import type { NodeInfo, RunRecord, StepEvent } from './upgrade/types.ts';
import { createWatchHandlers, type WatchHandlers } from './server-watch.ts';
import { EventLog } from './watch/event-log.ts';

export { toServiceError } from './server-errors.ts';
import { componentNodeFields, createComponentHandlers, type ComponentService } from './server-components.ts';
import { createHealHandler } from './server-heal.ts';
import type { HealService } from './heal/heal.ts';

export interface TlsMaterial {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

export function nodeInfoToProto(n: NodeInfo): PbNodeInfo {
  return { ...n, disks: [...n.disks], staged: n.staged.map((b) => ({ version: b.version, sha256: b.sha256, size: b.size, patched: b.patched, component: b.component })), lastRunPhase: n.lastRunPhase || 'RUN_PHASE_UNSPECIFIED' };
}

export function eventToProto(e: StepEvent): PbStepEvent {
  return { ...e, journalTail: [...e.journalTail] };
}

export function runToProto(r: RunRecord): PbRunState {
  return {
    runId: r.runId,
    fromVersion: r.fromVersion,
    toVersion: r.toVersion,
    phase: r.phase,
    step: r.step,
    stepStatus: r.stepStatus,
    events: r.events.map(eventToProto),
    errorCode: r.errorCode,
    errorMessage: r.errorMessage,
    journalTail: [...r.journalTail],
    startedAtUnixMs: r.startedAtMs,
    finishedAtUnixMs: r.finishedAtMs,
    component: r.component ?? 'kubelet',
  };
}

export interface HandlerOptions {
  readonly clock?: Clock;
  /** GetNode answers from one look at the node for this long (agent/config.ts nodeInfoCacheMs). */
  readonly nodeInfoCacheMs?: number;
  /** A StageBinary stream silent this long is ended (stageIdleTimeoutMs). */
  readonly stageIdleTimeoutMs?: number;
  /** Node components (issue 9): Hold, Release, EtcdSnapshot, FetchSnapshot and GetNode's component fields. */
  readonly components?: ComponentService;
  /** Issue 11: the Heal RPC (agent/heal/); without it Heal fails with HEAL_UNAVAILABLE. */
  readonly heal?: HealService;
  /** Issue 11: GetNode's eyes fields (apiserver connections, closed-connection errors). */
  readonly eyesNodeFields?: () => Partial<PbNodeInfo>;
}

/** A request, bounded for a log line (a hostile caller may send 4 MB strings). */
function forLog(v: unknown): unknown {
  if (typeof v === 'string') return boundText(v, 256);
  if (Array.isArray(v)) return v.slice(0, 20).map(forLog);
  if (Buffer.isBuffer(v)) return `(${v.length} bytes)`;
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, forLog(x)]));
  return v;
}

/**
 * At most `n` at a time; the rest wait their turn. With n = 1 the check-and-claim of a run cannot
 * interleave with another (defect 10: two same-tick Upgrade calls started two drivers).
 */
class Limiter {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly n: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.n) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running += 1;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }
}

/** Concurrent Preflight calls (each runs binaries and systemctl): the rest wait. */
export const PREFLIGHT_CONCURRENCY = 2;

export function createAgentHandlers(agent: UpgradeAgent, stage: StageStore, logger: Logger, options: HandlerOptions = {}, watch?: WatchHandlers): AgentHandlers {
  const log = logger.child({ component: 'grpc' });
  const clock = options.clock ?? systemClock;
  const idleMs = options.stageIdleTimeoutMs ?? 60_000;
  const nodeView = new SingleFlight(() => agent.nodeInfo(), options.nodeInfoCacheMs ?? 1_000, clock);
  const claims = new Limiter(1);
  const preflights = new Limiter(PREFLIGHT_CONCURRENCY);

  /** Logs a failure and replies; nothing here may throw (a throw here used to end the process). */
  const fail = (caller: Caller, err: unknown, reply: (e: grpc.ServiceError) => void) => {
    try {
      const level = err instanceof KipError && err.code !== 'INTERNAL' ? 'info' : 'warn';
      log[level]({ method: caller.method, caller, err }, 'call failed');
    } catch {
      // Logging must not decide whether the caller gets an answer.
    }
    try {
      reply(toServiceError(err));
    } catch (replyErr) {
      try {
        log.error({ method: caller.method, err: replyErr }, 'could not send the error status');
      } catch {
        // Nothing left to do: the call ends when its stream closes.
      }
    }
  };

  const unary =
    <Req, Res>(name: string, audited: boolean, fn: (req: Req, caller: Caller) => Promise<Res>): grpc.handleUnaryCall<Req, Res> =>
    (call, callback) => {
      const caller = callerOf(name, call);
      withCaller(caller, () => {
        if (audited) log.info({ method: name, caller, request: forLog(call.request) }, 'call');
        Promise.resolve()
          .then(() => fn(call.request, caller))
          .then(
            (res) => {
              try {
                callback(null, res);
              } catch (err) {
                fail(caller, err, (e) => callback(e));
              }
            },
            (err: unknown) => fail(caller, err, (e) => callback(e)),
          );
      });
    };

  const mutated = () => nodeView.invalidate();

  return {
    // --- eyes (issue 11): Watch, Inventory, HashReport live in agent/server-watch.ts
    ...(watch ?? createWatchHandlers({ events: new EventLog(1), logger })),
    GetNode: unary('GetNode', false, async () => ({ ...nodeInfoToProto(await nodeView.get()), ...(await componentNodeFields(options.components)), ...(options.eyesNodeFields?.() ?? {}) })),
    GetRun: unary('GetRun', false, async (req: { runId: string }) => {
      checkLength('run_id', req.runId, 128);
      return runToProto(await agent.getRun(req.runId || undefined));
    }),
    // Preflight runs the staged binary (`--help` for the flag check): audited.
    Preflight: unary('Preflight', true, async (req: { targetVersion: string; allowDroppedFlags: string[]; allowUnpatched: boolean; component?: string }) => {
      checkLength('target_version', req.targetVersion, MAX_VERSION_CHARS);
      checkList('allow_dropped_flags', req.allowDroppedFlags);
      checkLength('component', req.component ?? '', 64);
      const r = await preflights.run(() => agent.preflight(req.targetVersion, { allowDroppedFlags: req.allowDroppedFlags, allowUnpatched: req.allowUnpatched, component: req.component ?? '' }));
      return { ...r, checks: [...r.checks] };
    }),
    Rollback: unary('Rollback', true, async (req: { runId: string }) => {
      checkLength('run_id', req.runId, 128);
      try {
        return runToProto(await agent.rollback(req.runId));
      } finally {
        mutated();
      }
    }),
    RemoveStaged: unary('RemoveStaged', true, async (req: { version: string; component?: string }) => {
      checkLength('component', req.component ?? '', 64);
      // Under the node claim: never while a run, a heal, a Hold or a Release acts.
      const r = await agent.claim.with('remove-staged', `${req.component || 'kubelet'}@${boundText(req.version, 128)}`, () => stage.remove(req.version, req.component ?? ''));
      mutated();
      return { removed: r.removed, freedBytes: r.freedBytes };
    }),
    StageBinary: (call, callback) => {
      const caller = callerOf('StageBinary', call);
      const cancel = new AbortController();
      call.on('cancelled', () => cancel.abort());
      const bounds: StreamBounds = { clock, idleMs, cancelled: cancel.signal };
      const run = async () => {
        const it = call[Symbol.asyncIterator]() as AsyncIterator<StageBinaryChunk__Output>;
        const first = await nextWithin(it, bounds);
        if (first.done || first.value.payload !== 'metadata' || !first.value.metadata) {
          throw new InvalidInputError(Codes.STAGE_NO_METADATA, 'the first StageBinary message must carry the metadata (version, sha256, size)');
        }
        const meta = first.value.metadata;
        // The upload's `--version` runs it: audited, before it runs.
        log.info({ method: 'StageBinary', caller, version: boundText(meta.version, 256), sha256: boundText(meta.sha256, 80), size: meta.size }, 'call');
        checkLength('version', meta.version, MAX_VERSION_CHARS);
        checkLength('component', meta.component, 64);
        const r = await stage.stage({ version: meta.version, sha256: meta.sha256, size: Number(meta.size), component: meta.component }, dataChunks(it, bounds));
        if (!r.alreadyStaged) mutated();
        return { binary: { version: r.binary.version, sha256: r.binary.sha256, size: r.binary.size, patched: r.binary.patched, component: r.binary.component }, alreadyStaged: r.alreadyStaged, path: r.binary.path };
      };
      withCaller(caller, () => {
        run().then(
          (res) => {
            try {
              callback(null, res);
            } catch (err) {
              fail(caller, err, (e) => callback(e));
            }
          },
          (err: unknown) => fail(caller, err, (e) => callback(e)),
        );
      });
    },
    Upgrade: (call) => {
      const req = call.request;
      const caller = callerOf('Upgrade', call);
      const run = async () => {
        log.info({ method: 'Upgrade', caller, request: forLog(req) }, 'call');
        checkUpgradeRequest(req);
        checkLength('component', req.component, 64);
        checkList('keep_served_apis', req.keepServedApis);
        // A heal, Hold, Release or RemoveStaged holding the node claim refuses the run in begin()
        // (RUN_IN_PROGRESS naming the holder; agent/upgrade/node-claim.ts).
        await claims.run(() =>
          agent.begin({
            runId: req.runId,
            targetVersion: req.targetVersion,
            verifyTimeoutMs: req.verifyTimeoutMs,
            allowDroppedFlags: req.allowDroppedFlags,
            allowUnpatched: req.allowUnpatched,
            component: req.component,
            keepServedApis: req.keepServedApis,
          }),
        );
        for await (const ev of agent.events(req.runId)) {
          mutated();
          if (call.cancelled) return;
          call.write(eventToProto(ev));
        }
      };
      withCaller(caller, () => {
        run().then(
          () => {
            try {
              call.end();
            } catch (err) {
              fail(caller, err, (e) => call.emit('error', e));
            }
          },
          (err: unknown) => fail(caller, err, (e) => call.emit('error', e)),
        );
      });
    },
    // Node components (issue 9): Hold, Release, EtcdSnapshot, FetchSnapshot.
    ...createComponentHandlers(options.components, { unary, toServiceError, log }),
    // Issue 11: Heal (kip heal, kip finalize).
    ...createHealHandler(options.heal, (name, audited, fn) => unary(name, audited, async (req) => {
      try {
        return await fn(req);
      } finally {
        mutated();
      }
    })),
  };
}

export interface RunningServer {
  readonly port: number;
  /** Stops accepting calls, lets running calls finish for up to graceMs, then cancels them. */
  shutdown(graceMs: number): Promise<void>;
}

export interface ServerOptions {
  readonly address: string;
  readonly tls: TlsMaterial | grpc.ServerCredentials;
  readonly handlers: AgentHandlers;
  readonly logger: Logger;
  /** A connection that has not completed the TLS handshake in this time is closed (Node's default: 120 s). */
  readonly tlsHandshakeTimeoutMs?: number;
}

export async function startAgentServer(options: ServerOptions): Promise<RunningServer> {
  const proto = loadKipGrpcObject() as unknown as ProtoGrpcType;
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 8 << 20 });
  server.addService(proto.kip.v1.Agent.service, options.handlers);
  const creds = options.tls instanceof grpc.ServerCredentials ? options.tls : grpc.ServerCredentials.createSsl(options.tls.ca, [{ private_key: options.tls.key, cert_chain: options.tls.cert }], true);
  // grpc-js hands these options to http2.createSecureServer (tls.Server's handshakeTimeout); it
  // offers no channel option of its own for the handshake.
  const serverOptions = creds._getConstructorOptions();
  if (serverOptions) serverOptions.handshakeTimeout = options.tlsHandshakeTimeoutMs ?? 10_000;
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(options.address, creds, (err, p) => (err ? reject(new KipError('AGENT_BIND_FAILED', `cannot listen on ${options.address}: ${err.message}`, { address: options.address }, { cause: err })) : resolve(p)));
  });
  options.logger.info({ address: options.address, port }, 'kip-agent listening (mutual TLS)');
  return {
    port,
    shutdown: (graceMs) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
