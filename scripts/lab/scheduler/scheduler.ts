/**
 * The lab scheduler's loop: a pod watch (unassigned pods) and a periodic resync trigger scheduling
 * cycles; each cycle lists nodes and pods, asks the pure decision (decide.ts) and binds through the
 * pods/binding subresource, with the real scheduler's events (Scheduled, FailedScheduling) and the
 * PodScheduled=False/Unschedulable condition on pods it cannot place.
 */
import type { Clock } from '../../../lib/clock.ts';
import type { Logger } from '../../../lib/logger.ts';
import type { WatchHandle } from '../../../lib/kube/index.ts';
import { countPods, DEFAULT_SCHEDULER_NAME, isSchedulable, schedulePod, schedulingOrder } from './decide.ts';
import type { ControlPlaneApi } from './kube-api.ts';
import { nodeView, podView, type PodView } from './model.ts';

export interface SchedulerConfig {
  readonly schedulerName?: string;
  /** How often unschedulable pods are retried without any watch event. */
  readonly resyncPeriodMs: number;
}

export interface SchedulerDeps {
  readonly api: ControlPlaneApi;
  readonly logger: Logger;
  readonly clock: Clock;
}

export interface CycleResult {
  readonly bound: ReadonlyArray<{ pod: string; node: string }>;
  readonly unschedulable: ReadonlyArray<{ pod: string; message: string }>;
}

const COMPONENT = 'default-scheduler';

export class LabScheduler {
  private watch: WatchHandle | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly schedulerName: string;

  constructor(private readonly config: SchedulerConfig, private readonly deps: SchedulerDeps) {
    this.schedulerName = config.schedulerName ?? DEFAULT_SCHEDULER_NAME;
  }

  async start(): Promise<void> {
    await this.openWatch();
    this.timer = setInterval(() => this.trigger(), this.config.resyncPeriodMs);
    this.trigger();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.watch?.stop();
    await this.running;
  }

  /** Asks for a cycle; coalesces requests while one runs. */
  trigger(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.cycle();
        } catch (err) {
          this.deps.logger.warn({ err }, 'scheduling cycle failed');
        }
      } while (this.again && !this.stopped);
    })().finally(() => {
      this.running = undefined;
    });
  }

  private async openWatch(): Promise<void> {
    const handle = await this.deps.api.watchPods('spec.nodeName=', (e) => {
      if ((e.type === 'ADDED' || e.type === 'MODIFIED') && !e.object.spec?.nodeName) this.trigger();
    });
    this.watch = handle;
    void handle.ended.then((err) => {
      if (this.stopped) return;
      this.deps.logger.info({ err }, 'pod watch ended; reopening');
      const reopen = (): void => {
        if (this.stopped) return;
        this.openWatch().catch((e: unknown) => {
          this.deps.logger.warn({ err: e }, 'cannot reopen the pod watch; retrying');
          setTimeout(reopen, 1000).unref();
        });
      };
      setTimeout(reopen, 200).unref();
    });
  }

  /** One pass over every unassigned pod. */
  async cycle(): Promise<CycleResult> {
    const { api, logger } = this.deps;
    const [rawNodes, rawPods] = await Promise.all([api.listNodes(), api.listPods()]);
    const nodes = rawNodes.map(nodeView);
    const pods = rawPods.map(podView);
    const counts = countPods(pods);
    const bound: Array<{ pod: string; node: string }> = [];
    const unschedulable: Array<{ pod: string; message: string }> = [];
    for (const pod of schedulingOrder(pods.filter((p) => isSchedulable(p, this.schedulerName)))) {
      if (this.stopped) break;
      const key = `${pod.namespace}/${pod.name}`;
      const decision = schedulePod(pod, nodes, counts);
      if (decision.kind === 'bind') {
        try {
          await api.bindPod(pod.namespace, pod.name, pod.uid, decision.node);
        } catch (err) {
          logger.warn({ err, pod: key, node: decision.node }, 'binding failed');
          continue;
        }
        counts.set(decision.node, (counts.get(decision.node) ?? 0) + 1);
        bound.push({ pod: key, node: decision.node });
        logger.info({ pod: key, node: decision.node }, 'bound pod');
        await this.event(pod, 'Normal', 'Scheduled', `Successfully assigned ${key} to ${decision.node}`);
      } else {
        unschedulable.push({ pod: key, message: decision.message });
        await this.markUnschedulable(pod, decision.message);
      }
    }
    return { bound, unschedulable };
  }

  private async markUnschedulable(pod: PodView, message: string): Promise<void> {
    const { api, logger } = this.deps;
    const nowMs = (): number => this.deps.clock.now();
    const key = `${pod.namespace}/${pod.name}`;
    const current = pod.conditions.PodScheduled;
    if (current?.status === 'False' && current.reason === 'Unschedulable' && current.message === message) return;
    try {
      await api.patchPodStatus(pod.namespace, pod.name, {
        status: { conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message, lastProbeTime: null, lastTransitionTime: new Date(nowMs()).toISOString() }] },
      });
    } catch (err) {
      logger.warn({ err, pod: key }, 'cannot set PodScheduled=False');
      return;
    }
    logger.info({ pod: key, message }, 'pod is unschedulable');
    await this.event(pod, 'Warning', 'FailedScheduling', message);
  }

  private async event(pod: PodView, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    try {
      await this.deps.api.createEvent({ namespace: pod.namespace, involved: { kind: 'Pod', name: pod.name, namespace: pod.namespace, uid: pod.uid }, type, reason, message, component: COMPONENT }, this.deps.clock.now());
    } catch (err) {
      this.deps.logger.warn({ err, pod: `${pod.namespace}/${pod.name}`, reason }, 'cannot record event');
    }
  }
}
