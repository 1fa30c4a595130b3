/** The agent as the engine and commands see it: AgentConnection implements it; tests pass fakes. */
import type { HealResponse, InventoryReport, NodeInfo, PreflightReport, RunState, StageBinaryResponse, StepEvent } from './client.ts';
import type { HealRequest } from '../../proto/kip/generated/kip/v1/HealRequest.ts';
import type { PreflightRequest } from '../../proto/kip/generated/kip/v1/PreflightRequest.ts';
import type { UpgradeRequest } from '../../proto/kip/generated/kip/v1/UpgradeRequest.ts';
import type { EtcdSnapshotInfo__Output as EtcdSnapshotInfo } from '../../proto/kip/generated/kip/v1/EtcdSnapshotInfo.ts';
import type { HoldState__Output as HoldState } from '../../proto/kip/generated/kip/v1/HoldState.ts';
import type { ReleaseResponse__Output as ReleaseResponse } from '../../proto/kip/generated/kip/v1/ReleaseResponse.ts';
import type { SnapshotChunk__Output as SnapshotChunk } from '../../proto/kip/generated/kip/v1/SnapshotChunk.ts';
import type { WatchEvent__Output as WatchEvent } from '../../proto/kip/generated/kip/v1/WatchEvent.ts';

export type { NodeInfo, PreflightReport, RunState, StageBinaryResponse, StepEvent, PreflightRequest, UpgradeRequest, EtcdSnapshotInfo, HoldState, ReleaseResponse, SnapshotChunk, WatchEvent };
import type { HashReportResponse__Output as HashReport } from '../../proto/kip/generated/kip/v1/HashReportResponse.ts';
export type { HealRequest, HealResponse, InventoryReport, HashReport };

export interface AgentTls {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface AgentEndpoint {
  /** The Node name (or the inventory name of a host without a Node). */
  readonly node: string;
  /** host:port */
  readonly address: string;
  /** The name in the agent's certificate, when it is not the address host. */
  readonly serverName?: string;
  /** Where the endpoint came from. */
  readonly source: 'node' | 'inventory';
}

export interface AgentPort {
  getNode(): Promise<NodeInfo>;
  getRun(runId?: string): Promise<RunState>;
  preflight(req: PreflightRequest): Promise<PreflightReport>;
  /** `component` empty or absent: the kubelet. */
  stageBinary(meta: { version: string; sha256: string; size: number; component?: string }, data: Buffer | AsyncIterable<Buffer>): Promise<StageBinaryResponse>;
  /** Starts or re-attaches to the run `req.runId` and yields its events once each. */
  upgradeFollow(req: UpgradeRequest): AsyncIterable<StepEvent>;
  rollback(runId: string): Promise<RunState>;
  /** Stops a component and keeps it stopped until release (idempotent). */
  hold(component: string): Promise<HoldState>;
  /** Starts a held component and checks its health (idempotent; fails with a kip code when unhealthy). */
  release(component: string): Promise<ReleaseResponse>;
  etcdSnapshot(endpoint?: string): Promise<EtcdSnapshotInfo>;
  /** The snapshot's metadata, then its bytes in order. */
  fetchSnapshot(id: string): AsyncIterable<SnapshotChunk>;
  /** The node's events after `fromSequence` (0: the oldest held), then every new one, until `signal` aborts. */
  watch(fromSequence: number, signal: AbortSignal): AsyncIterable<WatchEvent>;
  /** Issue 11 (optional so fakes of older shape still type-check): kip heal / kip finalize. */
  heal?(req: HealRequest): Promise<HealResponse>;
  /** Issue 11: the node's containers with hash, owner, old-hash and drift facts (kip status --live). */
  inventory?(): Promise<InventoryReport>;
  /** The node's hash self-check, consistency and, for targetVersion, the containers whose label is stale there (they restart under an unpatched kubelet of that version). */
  hashReport?(targetVersion: string): Promise<HashReport>;
  close(): void;
}
