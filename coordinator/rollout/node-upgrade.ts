/**
 * Drives one node's kubelet upgrade through its agent and turns the step stream into a
 * result: the run's outcome and the kubelet's downtime (from the stop of the old kubelet to the
 * new one verified healthy). Re-attaching with the same run id replays, never re-executes.
 */
import type { StepEvent, UpgradeRequest } from './types.ts';

export interface NodeAgent {
  upgrade(req: UpgradeRequest): AsyncIterable<StepEvent>;
}

export interface NodeUpgradeResult {
  readonly node: string;
  readonly runId: string;
  readonly targetVersion: string;
  readonly outcome: 'succeeded' | 'rolled-back' | 'failed';
  /** Old kubelet stopped -> new kubelet's first healthy answer, from the agent's own timestamps. */
  readonly kubeletDowntimeMs: number | undefined;
  readonly errorCode: string;
  readonly message: string;
  readonly journalTail: readonly string[];
  readonly events: readonly StepEvent[];
}

export async function upgradeNode(node: string, agent: NodeAgent, req: UpgradeRequest, onEvent: (e: StepEvent) => void = () => {}): Promise<NodeUpgradeResult> {
  const events: StepEvent[] = [];
  for await (const e of agent.upgrade(req)) {
    events.push(e);
    onEvent(e);
  }
  const last = events[events.length - 1];
  // The agent states the downtime (its stop step's start -> the new kubelet's first healthy
  // answer, on its own clock) as a field of the VERIFY done event; 0 means it has none.
  const verify = [...events].reverse().find((e) => e.step === 'VERIFY' && e.status === 'STEP_DONE');
  const downtime = verify && verify.firstHealthyAtUnixMs > 0 ? Number(verify.downtimeMs) : undefined;
  const phase = last?.phase;
  const outcome = phase === 'RUN_SUCCEEDED' ? 'succeeded' : phase === 'RUN_ROLLED_BACK' ? 'rolled-back' : 'failed';
  const failure = [...events].reverse().find((e) => e.status === 'STEP_FAILED');
  return {
    node,
    runId: req.runId ?? '',
    targetVersion: req.targetVersion ?? '',
    outcome,
    kubeletDowntimeMs: downtime,
    errorCode: failure?.errorCode ?? last?.errorCode ?? '',
    message: failure?.message ?? last?.message ?? (events.length === 0 ? 'the agent sent no events' : ''),
    journalTail: failure?.journalTail ?? [],
    events,
  };
}
