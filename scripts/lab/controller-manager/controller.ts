/**
 * The node lifecycle controller's loop (thin): every --node-monitor-period (or sooner, when a
 * scheduled eviction or a queued node is due) it lists nodes and pods, runs the pure
 * reconcileNodeLifecycle and applies its actions through the apiserver. One failed action is logged
 * and the pass goes on; the next pass recomputes from what the apiserver then holds.
 */
import type { Clock } from '../../../lib/clock.ts';
import type { Logger } from '../../../lib/logger.ts';
import { KubeApiError } from '../../../lib/kube/index.ts';
import type { ControlPlaneApi } from '../scheduler/kube-api.ts';
import { nodeView, podView, type NodeCondition, type Taint } from '../scheduler/model.ts';
import { initialLifecycleState, reconcileNodeLifecycle, type LifecycleAction, type LifecycleConfig, type LifecycleState } from './lifecycle.ts';

export interface NodeLifecycleControllerConfig {
  readonly lifecycle: LifecycleConfig;
  readonly nodeMonitorPeriodMs: number;
}

export interface NodeLifecycleControllerDeps {
  readonly api: ControlPlaneApi;
  readonly logger: Logger;
  readonly clock: Clock;
}

function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}

function conditionJson(c: NodeCondition): Record<string, unknown> {
  return { type: c.type, status: c.status, reason: c.reason, message: c.message, lastHeartbeatTime: iso(c.lastHeartbeatMs), lastTransitionTime: iso(c.lastTransitionMs) };
}

function taintJson(t: Taint): Record<string, unknown> {
  const out: Record<string, unknown> = { key: t.key, effect: t.effect };
  if (t.value) out.value = t.value;
  if (t.timeAddedMs !== undefined) out.timeAdded = new Date(t.timeAddedMs).toISOString();
  return out;
}

export class NodeLifecycleController {
  private state: LifecycleState = initialLifecycleState();
  private readonly abort = new AbortController();
  private running: Promise<void> | undefined;

  constructor(private readonly config: NodeLifecycleControllerConfig, private readonly deps: NodeLifecycleControllerDeps) {}

  start(): void {
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  private async loop(): Promise<void> {
    const { signal } = this.abort;
    while (!signal.aborted) {
      let nextDue: number | undefined;
      try {
        nextDue = await this.pass();
      } catch (err) {
        this.deps.logger.warn({ err }, 'node lifecycle pass failed');
      }
      if (signal.aborted) return;
      const now = this.deps.clock.now();
      const delay = Math.min(this.config.nodeMonitorPeriodMs, nextDue === undefined ? Number.POSITIVE_INFINITY : Math.max(50, nextDue - now + 5));
      await this.deps.clock.sleep(delay, signal);
    }
  }

  /** One pass; returns when something is next due (epoch ms), if anything. */
  async pass(): Promise<number | undefined> {
    const { api } = this.deps;
    const nowMs = (): number => this.deps.clock.now();
    const [rawNodes, rawPods] = await Promise.all([api.listNodes(), api.listPods()]);
    const result = reconcileNodeLifecycle({ nodes: rawNodes.map(nodeView), pods: rawPods.map(podView), nowMs: nowMs(), config: this.config.lifecycle }, this.state);
    this.state = result.state;
    for (const action of result.actions) await this.apply(action);
    return result.nextDueMs;
  }

  private async apply(a: LifecycleAction): Promise<void> {
    const { api, logger } = this.deps;
    const nowMs = (): number => this.deps.clock.now();
    try {
      switch (a.kind) {
        case 'setNodeConditions':
          await api.patchNodeStatus(a.node, { metadata: { resourceVersion: a.resourceVersion }, status: { conditions: a.conditions.map(conditionJson) } }, 'strategic');
          logger.info({ node: a.node, conditions: a.conditions.map((c) => `${c.type}=${c.status}`) }, 'updated node conditions');
          return;
        case 'setNodeTaints':
          await api.patchNode(a.node, { spec: { taints: a.taints.map(taintJson) } }, 'merge');
          logger.info({ node: a.node, added: a.added.map((t) => `${t.key}:${t.effect}`), removed: a.removed.map((t) => `${t.key}:${t.effect}`) }, 'updated node taints');
          return;
        case 'markPodNotReady':
          await api.patchPodStatus(a.pod.namespace, a.pod.name, { status: { conditions: [{ type: 'Ready', status: 'False', lastProbeTime: null, lastTransitionTime: new Date(nowMs()).toISOString() }] } }, 'strategic');
          return;
        case 'deletePod':
          await api.deletePod(a.pod.namespace, a.pod.name);
          logger.info({ pod: `${a.pod.namespace}/${a.pod.name}`, node: a.node, reason: a.reason }, 'deleted pod');
          return;
        case 'event':
          await api.createEvent({ namespace: a.object.namespace ?? 'default', involved: a.object, type: a.type, reason: a.reason, message: a.message, component: a.component }, nowMs());
          return;
      }
    } catch (err) {
      if (err instanceof KubeApiError && a.kind === 'deletePod' && err.code === 'KUBE_NOT_FOUND') return;
      logger.warn({ err, action: a.kind }, 'node lifecycle action failed; the next pass retries from the current state');
    }
  }
}
