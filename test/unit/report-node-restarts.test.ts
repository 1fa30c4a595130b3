/**
 * kip report's Nodes table sets each node's restarts (the inventory gate's figure from its latest
 * attempt) against what kip predicted an unpatched kubelet restarts on that node.
 */
import { describe, expect, it } from 'vitest';
import { markdownReport } from '../../coordinator/report/report.ts';
import { ACTION_KUBELET } from '../../coordinator/rollout/engine.ts';
import type { RunSpec } from '../../coordinator/rollout/spec.ts';
import type { ActionRecord, NodeRecord, RunRecord } from '../../coordinator/store/store.ts';

const spec = {
  target: 'v1.12.10', plan: 'every-step', maxConcurrency: 1, maxUnavailable: 1, canary: { count: 1 }, nodeTimeoutMs: 1, readyTimeoutMs: 1, verifyTimeoutMs: 0,
  allowUnpatched: true, allowDroppedFlags: [],
  steps: [{ index: 0, to: 'v1.12.10', nodes: [{ name: 'w1', from: 'v1.11.10', zone: '' }, { name: 'w2', from: 'v1.11.10', zone: '' }, { name: 'w3', from: 'v1.11.10', zone: '' }] }],
  predictedRestarts: [{ step: 0, containers: 46, wouldRestart: 9, nodes: { w1: { containers: 16, wouldRestart: 4 }, w2: { containers: 15, wouldRestart: 3 }, w3: { containers: 15, wouldRestart: 2 } } }],
} as unknown as RunSpec;
const run: RunRecord = { id: 'r1', cluster: 'https://x', target: 'v1.12.10', phase: 'paused', reason: 'containers restarted', spec: JSON.stringify(spec), createdAt: 0, updatedAt: 10_000 };
const node = (n: string, phase: NodeRecord['phase'], attempt: number): NodeRecord => ({ runId: 'r1', step: 0, node: n, from: 'v1.11.10', to: 'v1.12.10', phase, agentRunId: `a-${n}-${attempt}`, attempt, startedAt: 1_000, finishedAt: 5_000, downtimeMs: 2_000, error: '' });
let id = 0;
const action = (n: string, attempt: number, result: Record<string, unknown> | null): ActionRecord => ({
  id: ++id, runId: 'r1', kind: ACTION_KUBELET, node: n, payload: JSON.stringify({ step: 0, attempt }), begunAt: 1_000, outcome: result === null ? null : result.ok ? 'ok' : 'error', result: result === null ? '' : JSON.stringify(result), finishedAt: result === null ? null : 5_000,
});

describe('kip report: restarts per node against the prediction', () => {
  it('shows the latest attempt\'s restarts and the per-node prediction; a node not looked at shows "-"', () => {
    const md = markdownReport({
      run, spec, events: [],
      nodes: [node('w1', 'failed', 2), node('w2', 'succeeded', 1)],
      actions: [action('w1', 1, { ok: true, restarted: 0 }), action('w1', 2, { ok: false, restarted: 4 }), action('w2', 1, { ok: true, restarted: 0 }), action('w3', 1, null)],
    });
    expect(md).toContain('| Step | Node | Kubelet | State | Attempt | Duration | Kubelet down | Restarted | Unpatched kubelet would restart | Error |');
    expect(md).toMatch(/\| 1 \| w1 \| v1\.11\.10 -> v1\.12\.10 \| failed \| 2 \| 4\.0 s \| 2\.0 s \| 4 \| 4 of 16 \|/);
    expect(md).toMatch(/\| 1 \| w2 \| v1\.11\.10 -> v1\.12\.10 \| succeeded \| 1 \| 4\.0 s \| 2\.0 s \| 0 \| 3 of 15 \|/);
    expect(md).toMatch(/\| 1 \| w3 \| v1\.11\.10 -> v1\.12\.10 \| pending \| 0 \| - \| - \| - \| 2 of 15 \|/);
  });

  it('a run stored before the per-node prediction shows "-" for it', () => {
    const old = { ...spec, predictedRestarts: [{ step: 0, containers: 46, wouldRestart: 9 }] } as RunSpec;
    const md = markdownReport({ run, spec: old, events: [], nodes: [node('w1', 'succeeded', 1)], actions: [action('w1', 1, { ok: true, restarted: 0 })] });
    expect(md).toMatch(/\| 1 \| w1 \| v1\.11\.10 -> v1\.12\.10 \| succeeded \| 1 \| 4\.0 s \| 2\.0 s \| 0 \| - \|/);
  });
});
