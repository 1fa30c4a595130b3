/**
 * The lab kubelet: registers and heartbeats its Node, runs the pods bound to it as real CRI pod
 * sandboxes and containers labelled as the kubelet labels them, and on every sync applies the
 * kubelet's container-hash rule (and, when patched, the skip-file rule) through rules.ts.
 * Every container runs the lab's local busybox image whatever image the spec names (there is no
 * registry); the hash covers the spec as written, as the real kubelet's does.
 */
import { createServer, type Server } from 'node:http';
import type { Logger } from '../../../lib/logger.ts';
import { objectField, stringField, type JsonNode } from '../../../lib/knowledge/hash/index.ts';
import type { ContainerInfo, PodSandboxInfo, PodSandboxSpec, RuntimeReader, RuntimeWriter } from '../../../agent/runtime/types.ts';
import { KubeAnnotation, KubeLabel, parseRestartCount } from '../../../agent/runtime/kube-labels.ts';
import type { KubeRest } from '../../../lib/kube/raw.ts';
import { RawKubeApiError } from '../../../lib/kube/raw.ts';
import { admitPod, decideContainer, type RunningContainer, type SyncContext } from './rules.ts';
import type { SkipState } from './skip-file.ts';

export interface LabKubeletConfig {
  readonly nodeName: string;
  /** As the kubelet prints it, e.g. v1.10.13. */
  readonly kubeletVersion: string;
  readonly patched: boolean;
  /** Labels set when the Node is first registered (like --node-labels). */
  readonly nodeLabels: Readonly<Record<string, string>>;
  readonly runImage: string;
  readonly healthzPort: number;
  readonly healthzHost?: string;
  readonly syncIntervalMs: number;
  readonly heartbeatIntervalMs: number;
  readonly podLogRoot?: string;
}

export interface LabKubeletDeps {
  readonly rest: KubeRest;
  readonly runtime: RuntimeReader & RuntimeWriter;
  readonly logger: Logger;
  readonly nowMs: () => number;
  readonly skip: SkipState | undefined;
}

interface ApiPod {
  readonly metadata: { name: string; namespace: string; uid: string; deletionTimestamp?: string; labels?: Record<string, string> };
  readonly spec: { nodeName?: string; nodeSelector?: Record<string, string>; containers: { name: string }[]; terminationGracePeriodSeconds?: number };
  readonly status?: { phase?: string; reason?: string };
}

const nowIso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export class LabKubelet {
  private readonly startedAtMs: number;
  private readonly admitted = new Set<string>();
  private readonly rejected = new Set<string>();
  private readonly lastStatus = new Map<string, string>();
  private timers: NodeJS.Timeout[] = [];
  private healthz: Server | undefined;
  private syncing: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly config: LabKubeletConfig, private readonly deps: LabKubeletDeps) {
    this.startedAtMs = deps.nowMs();
  }

  get context(): SyncContext {
    return { kubeletVersion: this.config.kubeletVersion, kubeletStartedAtMs: this.startedAtMs, skip: this.deps.skip };
  }

  async start(): Promise<void> {
    const { logger } = this.deps;
    logger.info({ version: this.config.kubeletVersion, patched: this.config.patched, skip: this.deps.skip }, 'lab kubelet starting');
    await this.registerNode();
    await this.serveHealthz();
    await this.runSync();
    this.timers.push(setInterval(() => void this.runSync(), this.config.syncIntervalMs));
    this.timers.push(setInterval(() => void this.heartbeat().catch((err: unknown) => logger.warn({ err }, 'node heartbeat failed')), this.config.heartbeatIntervalMs));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.syncing;
    await new Promise<void>((resolve) => (this.healthz ? this.healthz.close(() => resolve()) : resolve()));
  }

  private async runSync(): Promise<void> {
    if (this.syncing || this.stopped) return;
    this.syncing = this.syncOnce()
      .catch((err: unknown) => this.deps.logger.error({ err }, 'pod sync failed'))
      .finally(() => {
        this.syncing = undefined;
      });
    await this.syncing;
  }

  private nodeStatus(): Record<string, unknown> {
    const now = nowIso(this.deps.nowMs());
    return {
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: now, lastTransitionTime: nowIso(this.startedAtMs) }],
      nodeInfo: { kubeletVersion: this.config.kubeletVersion, kubeProxyVersion: this.config.kubeletVersion, containerRuntimeVersion: 'containerd', operatingSystem: 'linux', architecture: 'amd64' },
      addresses: [{ type: 'Hostname', address: this.config.nodeName }],
    };
  }

  private async registerNode(): Promise<void> {
    const path = `/api/v1/nodes/${this.config.nodeName}`;
    try {
      await this.deps.rest.get(path);
    } catch (err) {
      if (!(err instanceof RawKubeApiError) || err.status !== 404) throw err;
      const labels = { 'kubernetes.io/hostname': this.config.nodeName, 'beta.kubernetes.io/os': 'linux', 'beta.kubernetes.io/arch': 'amd64', ...this.config.nodeLabels };
      await this.deps.rest.send('POST', '/api/v1/nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: this.config.nodeName, labels }, spec: {}, status: this.nodeStatus() });
      this.deps.logger.info({ node: this.config.nodeName }, 'registered node');
      return;
    }
    await this.heartbeat();
  }

  async heartbeat(): Promise<void> {
    await this.deps.rest.send('PATCH', `/api/v1/nodes/${this.config.nodeName}/status`, { status: this.nodeStatus() }, 'application/merge-patch+json');
  }

  private async serveHealthz(): Promise<void> {
    const server = createServer((req, res) => {
      if (req.url === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.healthzPort, this.config.healthzHost ?? '127.0.0.1', () => resolve());
    });
    this.healthz = server;
  }

  /** One pass over the pods bound to this node. */
  async syncOnce(): Promise<void> {
    const { rest, runtime } = this.deps;
    const node = (await rest.get(`/api/v1/nodes/${this.config.nodeName}`)).value as { metadata: { labels?: Record<string, string> } };
    const nodeLabels = node.metadata.labels ?? {};
    const list = await rest.get(`/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${this.config.nodeName}`)}`);
    const items = (list.value as { items: ApiPod[] }).items;
    const itemNodes = objectField(list.node, 'items');
    const podNodes = itemNodes?.kind === 'array' ? itemNodes.items : [];
    const sandboxes = await runtime.listPodSandboxes();
    const containers = await runtime.listContainers();
    const liveUids = new Set<string>();

    for (let i = 0; i < items.length; i++) {
      const pod = items[i]!;
      const podNode = podNodes[i];
      if (!podNode) continue;
      const uid = pod.metadata.uid;
      const log = this.deps.logger.child({ pod: `${pod.metadata.namespace}/${pod.metadata.name}` });
      const terminal = pod.status?.phase === 'Failed' || pod.status?.phase === 'Succeeded';
      if (terminal || pod.metadata.deletionTimestamp) continue;
      if (!this.admitted.has(uid)) {
        const verdict = admitPod(pod.spec.nodeSelector, nodeLabels);
        if (!verdict.admitted) {
          if (!this.rejected.has(uid)) {
            this.rejected.add(uid);
            log.warn({ reason: verdict.reason }, 'Predicate MatchNodeSelector failed');
            log.warn('Killing unwanted pod');
            await this.killPod(uid, sandboxes, containers);
            await rest.send('PATCH', `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}/status`, {
              status: { phase: 'Failed', reason: verdict.reason, message: verdict.message },
            }, 'application/merge-patch+json');
            await this.event(pod, 'Warning', verdict.reason!, verdict.message!);
          }
          continue;
        }
        this.admitted.add(uid);
      }
      liveUids.add(uid);
      await this.syncPod(pod, podNode, sandboxes, containers, log);
    }

    // Sandboxes of pods no longer bound here (deleted, failed) are torn down.
    for (const sb of sandboxes) {
      if (!liveUids.has(sb.uid) && sb.labels[KubeLabel.podUid] !== undefined) {
        await this.killPod(sb.uid, [sb], containers);
      }
    }
  }

  private async killPod(uid: string, sandboxes: readonly PodSandboxInfo[], containers: readonly ContainerInfo[]): Promise<void> {
    const { runtime } = this.deps;
    for (const sb of sandboxes.filter((s) => s.uid === uid)) {
      for (const c of containers.filter((x) => x.podSandboxId === sb.id && x.state === 'running')) await runtime.stopContainer(c.id, 0);
      await runtime.stopPodSandbox(sb.id);
      await runtime.removePodSandbox(sb.id);
    }
  }

  private sandboxSpec(pod: ApiPod): PodSandboxSpec {
    return {
      name: pod.metadata.name,
      uid: pod.metadata.uid,
      namespace: pod.metadata.namespace,
      attempt: 0,
      logDirectory: this.config.podLogRoot ? `${this.config.podLogRoot}/${pod.metadata.namespace}_${pod.metadata.name}_${pod.metadata.uid}` : undefined,
      labels: { [KubeLabel.podName]: pod.metadata.name, [KubeLabel.podNamespace]: pod.metadata.namespace, [KubeLabel.podUid]: pod.metadata.uid },
      annotations: {},
      hostNetwork: true,
    };
  }

  private async syncPod(pod: ApiPod, podNode: JsonNode, sandboxes: readonly PodSandboxInfo[], containers: readonly ContainerInfo[], log: Logger): Promise<void> {
    const { runtime } = this.deps;
    const sandboxSpec = this.sandboxSpec(pod);
    let sandboxId = sandboxes.find((s) => s.uid === pod.metadata.uid && s.state === 'ready')?.id;
    if (!sandboxId) {
      sandboxId = await runtime.runPodSandbox(sandboxSpec);
      log.info({ sandboxId }, 'started pod sandbox');
    }
    const specNodes = containerNodes(podNode);
    const statuses: Record<string, unknown>[] = [];
    for (const spec of pod.spec.containers) {
      const specNode = specNodes.get(spec.name);
      if (!specNode) continue;
      const mine = containers.filter((c) => c.podSandboxId === sandboxId && c.name === spec.name).sort((a, b) => b.attempt - a.attempt);
      const latest = mine[0];
      const current: RunningContainer | undefined = latest && {
        id: latest.id,
        attempt: latest.attempt,
        running: latest.state === 'running' || latest.state === 'created',
        hashLabel: latest.annotations[KubeAnnotation.containerHash],
        restartCount: parseRestartCount(latest.annotations) ?? 0,
        startedAtMs: Number(latest.createdAtNs / 1_000_000n),
      };
      const action = decideContainer(specNode, current, this.context);
      const clog = log.child({ container: spec.name });
      let id = latest?.id;
      let restartCount = current?.restartCount ?? 0;
      let startedAtMs = current?.startedAtMs ?? this.deps.nowMs();
      if (action.kind === 'keep') {
        if (action.skippedHashCheck && latest?.annotations[KubeAnnotation.containerHash] !== action.hash) {
          clog.debug({ label: current?.hashLabel, expected: action.hash }, 'hash differs; container predates this kubelet and the skip file names another version: not restarted');
        }
      } else {
        if (action.reason === 'definition-changed' && latest) {
          clog.info({ label: current?.hashLabel, expected: action.hash }, 'Container definition changed, will be restarted');
          await runtime.stopContainer(latest.id, 0);
          await this.event(pod, 'Normal', 'Killing', `Container ${spec.name} definition changed, will be restarted`);
        } else if (action.reason === 'exited') {
          clog.info('container exited, restarting');
        }
        id = await runtime.createContainer(sandboxId, {
          name: spec.name,
          attempt: action.attempt,
          image: this.config.runImage,
          command: ['sleep', '2000000000'],
          labels: { [KubeLabel.podName]: pod.metadata.name, [KubeLabel.podNamespace]: pod.metadata.namespace, [KubeLabel.podUid]: pod.metadata.uid, [KubeLabel.containerName]: spec.name },
          annotations: {
            [KubeAnnotation.containerHash]: action.hash,
            [KubeAnnotation.containerRestartCount]: String(action.restartCount),
            [KubeAnnotation.terminationMessagePath]: '/dev/termination-log',
          },
          logPath: `${spec.name}/${action.attempt}.log`,
        }, sandboxSpec);
        await runtime.startContainer(id);
        restartCount = action.restartCount;
        startedAtMs = this.deps.nowMs();
        clog.info({ id, attempt: action.attempt, hash: action.hash }, 'started container');
        // Older attempts are garbage: the kubelet keeps one dead container; the lab keeps none.
        for (const old of mine) {
          if (old.state === 'running') await runtime.stopContainer(old.id, 0);
          await runtime.removeContainer(old.id);
        }
      }
      statuses.push({
        name: spec.name,
        ready: true,
        restartCount,
        image: (spec as { image?: string }).image ?? '',
        imageID: '',
        containerID: id ? `containerd://${id}` : '',
        state: { running: { startedAt: nowIso(startedAtMs) } },
      });
    }
    const status = { phase: 'Running', hostIP: '127.0.0.1', podIP: '127.0.0.1', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: statuses };
    const key = JSON.stringify(status);
    if (this.lastStatus.get(pod.metadata.uid) !== key) {
      await this.deps.rest.send('PATCH', `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}/status`, { status: { ...status, startTime: nowIso(this.startedAtMs) } }, 'application/merge-patch+json');
      this.lastStatus.set(pod.metadata.uid, key);
    }
  }

  private async event(pod: ApiPod, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const now = nowIso(this.deps.nowMs());
    try {
      await this.deps.rest.send('POST', `/api/v1/namespaces/${pod.metadata.namespace}/events`, {
        apiVersion: 'v1', kind: 'Event',
        metadata: { generateName: `${pod.metadata.name}.`, namespace: pod.metadata.namespace },
        involvedObject: { kind: 'Pod', name: pod.metadata.name, namespace: pod.metadata.namespace, uid: pod.metadata.uid, apiVersion: 'v1' },
        reason, message, type, count: 1, firstTimestamp: now, lastTimestamp: now,
        source: { component: 'kubelet', host: this.config.nodeName },
      });
    } catch (err) {
      this.deps.logger.warn({ err, reason }, 'could not record event');
    }
  }
}

/** The raw JSON node of each container in the pod's spec.containers, by name. */
function containerNodes(pod: JsonNode): Map<string, JsonNode> {
  const out = new Map<string, JsonNode>();
  const list = objectField(objectField(pod, 'spec'), 'containers');
  if (list?.kind !== 'array') return out;
  for (const c of list.items) {
    const name = stringField(c, 'name');
    if (name !== undefined) out.set(name, c);
  }
  return out;
}
