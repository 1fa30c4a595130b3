/** The agent as the engine and commands see it: AgentConnection implements it; tests pass fakes. */
import type { HealResponse, InventoryReport, NodeInfo, PreflightReport, RunState, StageBinaryResponse, StepEvent } from './client.ts';
import type { HealRequest } from '../../proto/kip/generated/kip/v1/HealRequest.ts';
import type { PreflightRequest } from '../../proto/kip/generated/kip/v1/PreflightRequest.ts';
import type { UpgradeRequest } from '../../proto/kip/generated/kip/v1/UpgradeRequest.ts';

export type { HealRequest, HealResponse, InventoryReport };
export type { NodeInfo, PreflightReport, RunState, StageBinaryResponse, StepEvent, PreflightRequest, UpgradeRequest };

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
  stageBinary(meta: { version: string; sha256: string; size: number }, data: Buffer | AsyncIterable<Buffer>): Promise<StageBinaryResponse>;
  /** Starts or re-attaches to the run `req.runId` and yields its events once each. */
  upgradeFollow(req: UpgradeRequest): AsyncIterable<StepEvent>;
  rollback(runId: string): Promise<RunState>;
  /** Issue 11 (optional so fakes of older shape still type-check): kip heal / kip finalize. */
  heal?(req: HealRequest): Promise<HealResponse>;
  /** Issue 11: the node's containers with hash, owner, old-hash and drift facts (kip status --live). */
  inventory?(): Promise<InventoryReport>;
  close(): void;
}
