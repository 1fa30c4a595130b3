/**
 * A typed gRPC client to one kip-agent: mutual TLS, a deadline on every call and retries for
 * idempotent calls (both in ./interceptor.ts), and errors mapped to typed errors (./errors.ts).
 */
import { isIP } from 'node:net';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { ProtoGrpcType } from '../../proto/kip/generated/agent.ts';
import type { AgentClient } from '../../proto/kip/generated/kip/v1/Agent.ts';
import type { NodeInfo__Output } from '../../proto/kip/generated/kip/v1/NodeInfo.ts';
import type { PreflightReport__Output } from '../../proto/kip/generated/kip/v1/PreflightReport.ts';
import type { PreflightRequest } from '../../proto/kip/generated/kip/v1/PreflightRequest.ts';
import type { HashReportResponse__Output } from '../../proto/kip/generated/kip/v1/HashReportResponse.ts';
import type { RunState__Output } from '../../proto/kip/generated/kip/v1/RunState.ts';
import type { StageBinaryResponse__Output } from '../../proto/kip/generated/kip/v1/StageBinaryResponse.ts';
import type { StepEvent__Output } from '../../proto/kip/generated/kip/v1/StepEvent.ts';
import type { UpgradeRequest } from '../../proto/kip/generated/kip/v1/UpgradeRequest.ts';
import type { EtcdSnapshotInfo__Output } from '../../proto/kip/generated/kip/v1/EtcdSnapshotInfo.ts';
import type { HoldState__Output } from '../../proto/kip/generated/kip/v1/HoldState.ts';
import type { ReleaseResponse__Output } from '../../proto/kip/generated/kip/v1/ReleaseResponse.ts';
import type { SnapshotChunk__Output } from '../../proto/kip/generated/kip/v1/SnapshotChunk.ts';
import type { WatchEvent__Output } from '../../proto/kip/generated/kip/v1/WatchEvent.ts';
import type { HealRequest } from '../../proto/kip/generated/kip/v1/HealRequest.ts';
import type { HealResponse__Output } from '../../proto/kip/generated/kip/v1/HealResponse.ts';
import type { InventoryReport__Output } from '../../proto/kip/generated/kip/v1/InventoryReport.ts';
import { loadKipGrpcObject } from '../../proto/kip/loader.ts';
import { AgentCallError, fromGrpcError } from './errors.ts';
import { kipInterceptor } from './interceptor.ts';
import { CHUNK_BYTES } from './chunk.ts';

export type { HealResponse__Output as HealResponse, InventoryReport__Output as InventoryReport };
export type { NodeInfo__Output as NodeInfo, PreflightReport__Output as PreflightReport, RunState__Output as RunState, StepEvent__Output as StepEvent, StageBinaryResponse__Output as StageBinaryResponse };

const M = (name: string) => `/kip.v1.Agent/${name}`;

export interface AgentClientOptions {
  /** host:port of the agent. */
  readonly address: string;
  readonly tls: { readonly ca: Buffer; readonly cert: Buffer; readonly key: Buffer };
  /** The name the agent's certificate is issued for, when it differs from the address host. */
  readonly serverName?: string;
  readonly defaultDeadlineMs?: number;
  readonly deadlineMs?: Readonly<Record<string, number>>;
  readonly maxRetries?: number;
  readonly backoffMs?: number;
  /**
   * Fixed reconnect backoff of the channel (grpc.initial/max_reconnect_backoff_ms); absent:
   * grpc-js's own (1 s, x1.6, up to 120 s). Tests that kill a loopback agent on purpose set it low,
   * so the time until the next call reaches the restarted agent is the agent's, not the backoff's.
   */
  readonly reconnectBackoffMs?: number;
}

export const DEFAULT_DEADLINES: Readonly<Record<string, number>> = {
  [M('StageBinary')]: 15 * 60_000,
  [M('Upgrade')]: 30 * 60_000,
  [M('Rollback')]: 15 * 60_000,
  [M('Preflight')]: 120_000,
  [M('Hold')]: 180_000,
  [M('Release')]: 180_000,
  [M('EtcdSnapshot')]: 15 * 60_000,
  [M('FetchSnapshot')]: 30 * 60_000,
  [M('Heal')]: 10 * 60_000,
  [M('Inventory')]: 60_000,
};

/** Calls that can be repeated without effect: retried on UNAVAILABLE. */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set([M('GetNode'), M('GetRun'), M('Preflight'), M('Rollback'), M('RemoveStaged'), M('Hold'), M('Release')]);

export { CHUNK_BYTES } from './chunk.ts';

/**
 * The SNI name sent when the agent is dialled by IP: a name under .invalid (RFC 2606, never a
 * real host). grpc-js passes the target host as tls.connect's servername, and Node warns
 * (DEP0123) and RFC 6066 section 3 forbids an IP literal there; the certificate is still checked
 * against the IP itself (its IP SANs, kip pki issue --agent --ip).
 */
export const IP_TARGET_SNI = 'kip-agent.invalid';

/** How to name and verify the agent's certificate for an address (exported for the unit test). */
export function tlsTarget(address: string, serverName?: string): { nameOverride?: string; checkServerIdentity?: (host: string, cert: PeerCertificate) => Error | undefined } {
  if (serverName) return { nameOverride: serverName };
  const host = address.startsWith('[') ? address.slice(1, address.indexOf(']')) : address.slice(0, address.lastIndexOf(':'));
  if (isIP(host) === 0) return {};
  // grpc-js calls this with the override name; the identity that must match is the IP dialled.
  return { nameOverride: IP_TARGET_SNI, checkServerIdentity: (_name, cert) => checkServerIdentity(host, cert) };
}

export class AgentConnection {
  private readonly client: AgentClient;

  constructor(readonly options: AgentClientOptions) {
    const proto = loadKipGrpcObject() as unknown as ProtoGrpcType;
    const tls = tlsTarget(options.address, options.serverName);
    const creds = grpc.credentials.createSsl(options.tls.ca, options.tls.key, options.tls.cert, tls.checkServerIdentity ? { checkServerIdentity: tls.checkServerIdentity } : {});
    const channelOptions: grpc.ChannelOptions = {
      interceptors: [
        kipInterceptor({
          defaultDeadlineMs: options.defaultDeadlineMs ?? 30_000,
          deadlineMs: { ...DEFAULT_DEADLINES, ...(options.deadlineMs ?? {}) },
          idempotent: IDEMPOTENT_METHODS,
          maxRetries: options.maxRetries ?? 3,
          backoffMs: options.backoffMs ?? 200,
        }),
      ],
    };
    if (tls.nameOverride) channelOptions['grpc.ssl_target_name_override'] = tls.nameOverride;
    if (options.reconnectBackoffMs !== undefined) {
      channelOptions['grpc.initial_reconnect_backoff_ms'] = options.reconnectBackoffMs;
      channelOptions['grpc.max_reconnect_backoff_ms'] = options.reconnectBackoffMs;
    }
    this.client = new proto.kip.v1.Agent(options.address, creds, channelOptions);
  }

  close(): void {
    this.client.close();
  }

  private unary<Res>(method: string, invoke: (cb: grpc.requestCallback<Res>) => void): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      invoke((err, res) => {
        if (err) reject(fromGrpcError(err, method));
        else if (res === undefined) reject(fromGrpcError(new Error('empty response'), method));
        else resolve(res);
      });
    });
  }

  getNode(): Promise<NodeInfo__Output> {
    return this.unary('GetNode', (cb) => this.client.getNode({}, cb));
  }

  /** Removes a staged binary; the answer says whether there was one (safe to repeat). */
  removeStaged(version: string): Promise<unknown> {
    return this.unary('RemoveStaged', (cb) => this.client.removeStaged({ version }, cb));
  }

  getRun(runId = ''): Promise<RunState__Output> {
    return this.unary('GetRun', (cb) => this.client.getRun({ runId }, cb));
  }

  /** The agent's hash self-check; with a target version, the containers whose hash label differs from that version's hash. */
  hashReport(targetVersion: string): Promise<HashReportResponse__Output> {
    return this.unary('HashReport', (cb) => this.client.hashReport({ targetVersion }, cb));
  }

  preflight(req: PreflightRequest): Promise<PreflightReport__Output> {
    return this.unary('Preflight', (cb) => this.client.preflight(req, cb));
  }

  rollback(runId: string): Promise<RunState__Output> {
    return this.unary('Rollback', (cb) => this.client.rollback({ runId }, cb));
  }

  // ---- eyes (issue 11) ----

  /** Restarts the kubelet (mode HEAL_RESTART or HEAL_FINALIZE) through the agent's gates; not retried (it restarts). */
  heal(req: HealRequest): Promise<HealResponse__Output> {
    return this.unary('Heal', (cb) => this.client.heal(req, cb));
  }

  inventory(): Promise<InventoryReport__Output> {
    return this.unary('Inventory', (cb) => this.client.inventory({}, cb));
  }

  // ---- node components (issue 9) ----

  hold(component: string): Promise<HoldState__Output> {
    return this.unary('Hold', (cb) => this.client.hold({ component }, cb));
  }

  release(component: string): Promise<ReleaseResponse__Output> {
    return this.unary('Release', (cb) => this.client.release({ component }, cb));
  }

  etcdSnapshot(endpoint = ''): Promise<EtcdSnapshotInfo__Output> {
    return this.unary('EtcdSnapshot', (cb) => this.client.etcdSnapshot({ endpoint }, cb));
  }

  /** The snapshot's metadata, then its bytes in order. */
  async *fetchSnapshot(id: string): AsyncGenerator<SnapshotChunk__Output> {
    const call = this.client.fetchSnapshot({ id });
    try {
      for await (const chunk of call as AsyncIterable<SnapshotChunk__Output>) yield chunk;
    } catch (err) {
      throw fromGrpcError(err, 'FetchSnapshot');
    } finally {
      call.cancel();
    }
  }

  /**
   * The node's event stream from `fromSequence` (no deadline: it lasts as long as the run; the
   * caller aborts it). WATCH_SEQUENCE_EXPIRED (OUT_OF_RANGE) surfaces as an AgentCallError with
   * the agent's details (requested, oldest, latest).
   */
  async *watch(fromSequence: number, signal: AbortSignal): AsyncGenerator<WatchEvent__Output> {
    const call = this.client.watch({ fromSequence }, { deadline: Infinity });
    const onAbort = (): void => call.cancel();
    signal.addEventListener('abort', onAbort, { once: true });
    // Aborted before this body ran (a generator starts at its first next()): no listener fires now.
    if (signal.aborted) onAbort();
    try {
      for await (const ev of call as AsyncIterable<WatchEvent__Output>) yield ev;
    } catch (err) {
      if (signal.aborted) return;
      throw fromGrpcError(err, 'Watch');
    } finally {
      signal.removeEventListener('abort', onAbort);
      call.cancel();
    }
  }

  /** Streams a binary: metadata first, then chunks of at most CHUNK_BYTES. */
  stageBinary(meta: { version: string; sha256: string; size: number; component?: string }, data: Buffer | AsyncIterable<Buffer>): Promise<StageBinaryResponse__Output> {
    return new Promise<StageBinaryResponse__Output>((resolve, reject) => {
      const call = this.client.stageBinary((err, res) => {
        if (err) reject(fromGrpcError(err, 'StageBinary'));
        else if (!res) reject(fromGrpcError(new Error('empty response'), 'StageBinary'));
        else resolve(res);
      });
      const write = (msg: object) =>
        new Promise<void>((ok) => {
          if (call.write(msg)) ok();
          else call.once('drain', () => ok());
        });
      const pump = async () => {
        await write({ metadata: meta });
        if (Buffer.isBuffer(data)) {
          for (let i = 0; i < data.length; i += CHUNK_BYTES) await write({ data: data.subarray(i, i + CHUNK_BYTES) });
        } else {
          for await (const chunk of data) {
            for (let i = 0; i < chunk.length; i += CHUNK_BYTES) await write({ data: chunk.subarray(i, i + CHUNK_BYTES) });
          }
        }
        call.end();
      };
      pump().catch((err: unknown) => {
        call.cancel();
        reject(fromGrpcError(err, 'StageBinary'));
      });
    });
  }

  /**
   * Like `upgrade`, but survives the agent going away mid-run (restart, crash, network): it
   * re-attaches with the same run id until the run ends or `reattachForMs` passes without an
   * answer, and yields each event once (by seq).
   */
  async *upgradeFollow(req: UpgradeRequest, options: { reattachForMs?: number; pauseMs?: number } = {}): AsyncGenerator<StepEvent__Output> {
    const reattachForMs = options.reattachForMs ?? 120_000;
    const pauseMs = options.pauseMs ?? 500;
    let lastSeq = 0;
    let failingSince: number | undefined;
    for (;;) {
      try {
        for await (const ev of this.upgrade(req)) {
          failingSince = undefined;
          if (ev.seq > lastSeq) {
            lastSeq = ev.seq;
            yield ev;
          }
        }
        return;
      } catch (err) {
        const transient = err instanceof AgentCallError && (err.kind === 'unavailable' || err.kind === 'cancelled' || err.kind === 'deadline' || (err.kind === 'internal' && err.code === 'AGENT_INTERNAL'));
        const now = Date.now();
        failingSince ??= now;
        if (!transient || now - failingSince > reattachForMs) throw err;
        await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
    }
  }

  /**
   * Starts (or re-attaches to) a run and yields its step events until the run ends. Calling it
   * again with the same run id replays the events from the first one.
   */
  async *upgrade(req: UpgradeRequest): AsyncGenerator<StepEvent__Output> {
    const call = this.client.upgrade(req);
    try {
      for await (const ev of call as AsyncIterable<StepEvent__Output>) yield ev;
    } catch (err) {
      throw fromGrpcError(err, 'Upgrade');
    } finally {
      call.cancel();
    }
  }
}
