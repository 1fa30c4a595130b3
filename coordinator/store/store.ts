/**
 * The run journal, behind an interface so a distributed store can replace SQLite. The rule the
 * engine keeps: an action is recorded (beginAction) before it is taken and its outcome
 * (finishAction) after; a restarted coordinator reads the open actions to re-attach instead of
 * acting again.
 */
import { InvalidInputError } from '../../lib/errors.ts';

/** The journal's schema version: a store written by a newer kip is refused (exit 2). */
// 2: control-plane steps in the spec, watch cursors, noted actions (a kip that knows only 1 would resume a
// control-plane run as kubelets only, so it must refuse the store).
export const STORE_SCHEMA_VERSION = 2;

export type RunPhase = 'running' | 'paused' | 'succeeded' | 'failed';
export type NodePhase = 'pending' | 'upgrading' | 'succeeded' | 'failed' | 'rolled-back';

export interface RunRecord {
  readonly id: string;
  /** The cluster it runs against (API server URL), so `kip resume` finds it. */
  readonly cluster: string;
  readonly target: string;
  readonly phase: RunPhase;
  readonly reason: string;
  /** The plan and options as JSON (the engine's input, fixed at creation). */
  readonly spec: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface NodeRecord {
  readonly runId: string;
  /** Index of the kubelet step in the plan. */
  readonly step: number;
  readonly node: string;
  readonly from: string;
  readonly to: string;
  readonly phase: NodePhase;
  /** The agent run id (unique per node and attempt); set before the agent is called. */
  readonly agentRunId: string;
  readonly attempt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly downtimeMs: number | null;
  readonly error: string;
}

export interface ActionRecord {
  readonly id: number;
  readonly runId: string;
  readonly kind: string;
  readonly node: string;
  readonly payload: string;
  readonly begunAt: number;
  readonly outcome: 'ok' | 'error' | null;
  readonly result: string;
  readonly finishedAt: number | null;
}

export interface EventRecord {
  readonly runId: string;
  readonly at: number;
  readonly node: string;
  readonly kind: string;
  readonly message: string;
}

/**
 * A node's kubelet apiserver connections (agent GetNode, NodeInfo fields 17 and 18) as the engine
 * saw them right before it upgraded the node in a step, and after the node was done: the baseline
 * kip status --live and kip report compare with (a step that multiplies them: kubernetes PR
 * #95427, fixed by #105490). Kept in their own table; a store without it is from an older kip and
 * gets it on open (no schema bump: an older kip ignores the table).
 */
export interface ConnectionRecord {
  readonly runId: string;
  /** The kubelet step. */
  readonly step: number;
  readonly node: string;
  readonly when: 'before' | 'after';
  readonly at: number;
  /** endpoint (host:port) -> established connections of the kubelet's main process. */
  readonly counts: Readonly<Record<string, number>>;
  /** "use of closed network connection" lines in the kubelet's journal (recent window). */
  readonly closedConnectionErrors: number;
}

export interface RunStore {
  createRun(run: Omit<RunRecord, 'updatedAt'>): void;
  getRun(id: string): RunRecord | undefined;
  /** The newest run (optionally of one cluster). */
  latestRun(cluster?: string): RunRecord | undefined;
  setRunPhase(id: string, phase: RunPhase, reason: string, at: number): void;
  nodes(runId: string): NodeRecord[];
  putNode(node: NodeRecord): void;
  /** Journals an action before it is taken; returns its id. */
  beginAction(a: { runId: string; kind: string; node: string; payload: string; at: number }): number;
  finishAction(id: number, outcome: 'ok' | 'error', result: string, at: number): void;
  actions(runId: string): ActionRecord[];
  /** Begun and never finished: what a crashed coordinator was doing. */
  openActions(runId: string): ActionRecord[];
  addEvent(e: EventRecord): void;
  events(runId: string): EventRecord[];
  /** The last Watch sequence seen from a node's agent in this run (0: none yet). */
  watchCursor(runId: string, node: string): number;
  setWatchCursor(runId: string, node: string, sequence: number): void;
  /** Records what an open action has achieved so far (it stays open), e.g. the agent's snapshot id. */
  noteAction(id: number, result: string): void;
  /** Records a connection look; the first "before" of a node's step is kept (a re-attached or retried node is mid-step). */
  recordConnections(c: ConnectionRecord): void;
  /** The run's connection looks, by step, node, then before/after. */
  connections(runId: string): ConnectionRecord[];
  /** Runs the writes in fn as one transaction (one durable commit). */
  batch<T>(fn: () => T): T;
  close(): void;
}

export class StoreTooNewError extends InvalidInputError {
  constructor(path: string, found: number) {
    super('STORE_TOO_NEW', `the run store ${path} has schema version ${found}, written by a newer kip (this kip knows ${STORE_SCHEMA_VERSION}): use that kip, or another --state-dir`, { path, found, known: STORE_SCHEMA_VERSION });
  }
}
