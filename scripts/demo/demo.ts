/**
 * What the demos wait for before they judge (shared by ./cli-demo.ts, ./unpatched-demo.ts and the
 * lab e2e tests): pods settled, and each kubelet's first completed sync at a version. The demos
 * drive nothing themselves: the upgrade is the kip CLI's (./kip-cli.ts).
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { Clock } from '../../lib/clock.ts';
import { KipError } from '../../lib/errors.ts';
import type { SyncReport } from '../lab/kubelet/kubelet.ts';
import { settled, snapshotOf } from './snapshot.ts';

export class DemoError extends KipError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('DEMO_FAILED', message, details);
  }
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/**
 * Waits until every live pod runs with all its containers reported, and the same answer comes
 * twice a kubelet sync apart (so a recreation in flight is not mistaken for the end state).
 */
export async function waitSettled(
  listPods: () => Promise<readonly V1Pod[]>,
  clock: Clock,
  timeoutMs: number,
): Promise<V1Pod[]> {
  const deadline = clock.now() + timeoutMs;
  let previous = '';
  for (;;) {
    const pods = (await listPods()).filter((p) => p.status?.phase !== 'Failed' && p.status?.phase !== 'Succeeded');
    const key = JSON.stringify([...snapshotOf(pods).containers]);
    if (settled(pods) && key === previous) return pods;
    previous = key;
    if (clock.now() > deadline) throw new DemoError(`pods did not settle within ${seconds(timeoutMs)}`);
    await clock.sleep(1_500);
  }
}

/**
 * Waits until the kubelet of each node runs `version` and has completed a sync of every pod
 * bound to it: only then has it done whatever it would do to the containers it found (a restart
 * counted after that is real, and "nothing restarted" is not a guess after a sleep).
 */
export async function waitFirstSync(
  nodes: readonly string[],
  version: string,
  syncs: (node: string) => Promise<SyncReport | undefined>,
  clock: Clock,
  timeoutMs: number,
): Promise<Map<string, SyncReport>> {
  const deadline = clock.now() + timeoutMs;
  const out = new Map<string, SyncReport>();
  for (;;) {
    for (const node of nodes) {
      if (out.has(node)) continue;
      const r = await syncs(node).catch(() => undefined);
      if (r && r.version === version && r.completedSyncs >= 1) out.set(node, r);
    }
    if (out.size === nodes.length) return out;
    if (clock.now() > deadline) throw new DemoError(`the kubelets of ${nodes.filter((n) => !out.has(n)).join(', ')} did not complete a sync as ${version} within ${seconds(timeoutMs)}`);
    await clock.sleep(250);
  }
}
