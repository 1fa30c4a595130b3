/**
 * The agent's gRPC server: mutual TLS (the client must present a certificate signed by our CA),
 * thin handlers that translate between the wire types and agent/upgrade, and ONE mapping from
 * typed errors to gRPC statuses. Mutating calls are logged with the caller's certificate subject.
 */
import * as grpc from '@grpc/grpc-js';
import { KipError, InvalidInputError } from '../lib/errors.ts';
import type { Logger } from '../lib/logger.ts';
import { loadKipGrpcObject } from '../proto/kip/loader.ts';
import { ERROR_CODE_KEY, ERROR_DETAILS_KEY } from '../proto/kip/errors.ts';
import type { ProtoGrpcType } from '../proto/kip/generated/agent.ts';
import type { AgentHandlers } from '../proto/kip/generated/kip/v1/Agent.ts';
import type { NodeInfo as PbNodeInfo } from '../proto/kip/generated/kip/v1/NodeInfo.ts';
import type { RunState as PbRunState } from '../proto/kip/generated/kip/v1/RunState.ts';
import type { StageBinaryChunk__Output } from '../proto/kip/generated/kip/v1/StageBinaryChunk.ts';
import type { StepEvent as PbStepEvent } from '../proto/kip/generated/kip/v1/StepEvent.ts';
import type { UpgradeAgent } from './upgrade/agent.ts';
import { Codes, NotFoundError, PreconditionError, StepFailedError } from './upgrade/errors.ts';
import type { StageStore } from './upgrade/stage.ts';
import type { NodeInfo, RunRecord, StepEvent } from './upgrade/types.ts';

export interface TlsMaterial {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** The one place that decides the gRPC status of an error. */
export function toServiceError(err: unknown): grpc.ServiceError {
  let status: grpc.status = grpc.status.INTERNAL;
  let code = 'INTERNAL';
  let message = err instanceof Error ? err.message : String(err);
  let details: Record<string, unknown> = {};
  if (err instanceof KipError) {
    code = err.code;
    message = err.message;
    details = { ...err.details };
    if (err instanceof InvalidInputError) status = grpc.status.INVALID_ARGUMENT;
    else if (err instanceof PreconditionError) status = grpc.status.FAILED_PRECONDITION;
    else if (err instanceof NotFoundError) status = grpc.status.NOT_FOUND;
    else if (err instanceof StepFailedError) status = grpc.status.ABORTED;
  }
  const metadata = new grpc.Metadata();
  metadata.set(ERROR_CODE_KEY, code);
  let json: string;
  try {
    json = JSON.stringify(details);
  } catch (jsonErr) {
    json = JSON.stringify({ unserializable: String(jsonErr) });
  }
  metadata.set(ERROR_DETAILS_KEY, json);
  const e = new Error(`${code}: ${message}`) as grpc.ServiceError;
  e.code = status;
  e.details = `${code}: ${message}`;
  e.metadata = metadata;
  return e;
}

function peerOf(call: { getPeer(): string; getAuthContext(): { sslPeerCertificate?: { subject?: { CN?: string | string[] } } } | null }): string {
  const cn = call.getAuthContext()?.sslPeerCertificate?.subject?.CN;
  return `${Array.isArray(cn) ? cn.join(',') : (cn ?? '?')}@${call.getPeer()}`;
}

export function nodeInfoToProto(n: NodeInfo): PbNodeInfo {
  return { ...n, disks: [...n.disks], staged: n.staged.map((b) => ({ version: b.version, sha256: b.sha256, size: b.size, patched: b.patched })), lastRunPhase: n.lastRunPhase || 'RUN_PHASE_UNSPECIFIED' };
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
  };
}

async function* dataChunks(it: AsyncIterator<StageBinaryChunk__Output>): AsyncGenerator<Buffer> {
  for (;;) {
    const r = await it.next();
    if (r.done) return;
    if (r.value.payload !== 'data' || !r.value.data) {
      throw new InvalidInputError(Codes.STAGE_BAD_METADATA, 'only the first StageBinary message may carry metadata');
    }
    yield r.value.data;
  }
}

export function createAgentHandlers(agent: UpgradeAgent, stage: StageStore, logger: Logger): AgentHandlers {
  const log = logger.child({ component: 'grpc' });
  const unary =
    <Req, Res>(name: string, mutating: boolean, fn: (req: Req) => Promise<Res>): grpc.handleUnaryCall<Req, Res> =>
    (call, callback) => {
      if (mutating) log.info({ method: name, peer: peerOf(call), request: call.request }, 'call');
      fn(call.request).then(
        (res) => callback(null, res),
        (err: unknown) => {
          log.warn({ method: name, err }, 'call failed');
          callback(toServiceError(err));
        },
      );
    };
  return {
    GetNode: unary('GetNode', false, async () => nodeInfoToProto(await agent.nodeInfo())),
    GetRun: unary('GetRun', false, async (req: { runId: string }) => runToProto(await agent.getRun(req.runId || undefined))),
    Preflight: unary('Preflight', false, async (req: { targetVersion: string; allowDroppedFlags: string[]; allowUnpatched: boolean }) =>
      agent.preflight(req.targetVersion, { allowDroppedFlags: req.allowDroppedFlags, allowUnpatched: req.allowUnpatched }).then((r) => ({ ...r, checks: [...r.checks] })),
    ),
    Rollback: unary('Rollback', true, async (req: { runId: string }) => runToProto(await agent.rollback(req.runId))),
    StageBinary: (call, callback) => {
      const peer = peerOf(call);
      const run = async () => {
        const it = call[Symbol.asyncIterator]() as AsyncIterator<StageBinaryChunk__Output>;
        const first = await it.next();
        if (first.done || first.value.payload !== 'metadata' || !first.value.metadata) {
          throw new InvalidInputError(Codes.STAGE_NO_METADATA, 'the first StageBinary message must carry the metadata (version, sha256, size)');
        }
        const meta = first.value.metadata;
        log.info({ method: 'StageBinary', peer, version: meta.version, sha256: meta.sha256, size: meta.size }, 'call');
        const r = await stage.stage({ version: meta.version, sha256: meta.sha256, size: meta.size }, dataChunks(it));
        return { binary: { version: r.binary.version, sha256: r.binary.sha256, size: r.binary.size, patched: r.binary.patched }, alreadyStaged: r.alreadyStaged, path: r.binary.path };
      };
      run().then(
        (res) => callback(null, res),
        (err: unknown) => {
          log.warn({ method: 'StageBinary', err }, 'call failed');
          callback(toServiceError(err));
        },
      );
    },
    Upgrade: (call) => {
      const req = call.request;
      log.info({ method: 'Upgrade', peer: peerOf(call), request: req }, 'call');
      const run = async () => {
        await agent.begin({
          runId: req.runId,
          targetVersion: req.targetVersion,
          verifyTimeoutMs: req.verifyTimeoutMs,
          allowDroppedFlags: req.allowDroppedFlags,
          allowUnpatched: req.allowUnpatched,
        });
        for await (const ev of agent.events(req.runId)) {
          if (call.cancelled) return;
          call.write(eventToProto(ev));
        }
      };
      run().then(
        () => call.end(),
        (err: unknown) => {
          log.warn({ method: 'Upgrade', err }, 'call failed');
          call.emit('error', toServiceError(err));
        },
      );
    },
  };
}

export interface RunningServer {
  readonly port: number;
  /** Stops accepting calls, lets running calls finish for up to graceMs, then cancels them. */
  shutdown(graceMs: number): Promise<void>;
}

export async function startAgentServer(options: { address: string; tls: TlsMaterial | grpc.ServerCredentials; handlers: AgentHandlers; logger: Logger }): Promise<RunningServer> {
  const proto = loadKipGrpcObject() as unknown as ProtoGrpcType;
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 8 << 20 });
  server.addService(proto.kip.v1.Agent.service, options.handlers);
  const creds = options.tls instanceof grpc.ServerCredentials ? options.tls : grpc.ServerCredentials.createSsl(options.tls.ca, [{ private_key: options.tls.key, cert_chain: options.tls.cert }], true);
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
