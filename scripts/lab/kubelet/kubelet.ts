/**
 * The lab kubelet: registers and heartbeats its Node, re-admits every pod bound to it when it
 * starts (admission.ts: its version's general predicates, rejected pods killed and Failed), runs
 * the admitted pods and its static pods as real CRI sandboxes and containers (pod-sync.ts), and
 * counts its completed sync passes, served at /lab/syncs beside /healthz, so a test can wait for
 * a new kubelet's first full sync of every pod instead of sleeping.
 */
import { createServer, type Server } from 'node:http';
import type { Clock } from '../../../lib/clock.ts';
import type { Logger } from '../../../lib/logger.ts';
import { objectField, type JsonNode } from '../../../lib/knowledge/hash/index.ts';
import type { RuntimeReader, RuntimeWriter } from '../../../agent/runtime/types.ts';
import { KubeLabel } from '../../../agent/runtime/kube-labels.ts';
import type { KubeRest } from '../../../lib/kube/raw.ts';
import { RawKubeApiError } from '../../../lib/kube/raw.ts';
import { admissionOrder, admitPod, type AdmissionNode, type AdmissionPod } from './admission.ts';
import { killPod, syncPod, type SyncPod } from './pod-sync.ts';
import { ConfigAnnotation, readStaticPods, type StaticPod } from './static-pods.ts';
import type { CacheVersion } from './skip-file.ts';
import { OracleMissError, type ContainerHasher } from './hashes.ts';
import type { RunImages } from './run-images.ts';

export interface LabKubeletConfig {
  readonly nodeName: string;
  /** As the kubelet prints it, e.g. v1.10.13. */
  readonly kubeletVersion: string;
  readonly patched: boolean;
  /** Labels set when the Node is first registered (like --node-labels). */
  readonly nodeLabels: Readonly<Record<string, string>>;
  /** Allocatable resources (cpu, memory, pods, ephemeral-storage, ...) the node reports. */
  readonly allocatable: Readonly<Record<string, string>>;
  /** Device-plugin resources and their count once the plugin has registered. */
  readonly devicePlugins: Readonly<Record<string, string>>;
  /** How long after start a device plugin takes to re-register; until then its resource reads 0. */
  readonly devicePluginDelayMs: number;
  readonly podManifestPath?: string;
  readonly runImage: string;
  readonly healthzPort: number;
  readonly healthzHost?: string;
  /** --node-ip: reported as the Node's InternalIP (before the Hostname, as the kubelet's setNodeAddress does). */
  readonly nodeIp?: string;
  readonly syncIntervalMs: number;
  readonly heartbeatIntervalMs: number;
  readonly podLogRoot?: string;
  readonly podNetwork: boolean;
  /** --lab-run-images (with --lab-host-root): static pods of lab program images run the program (kubeadm-style control plane). */
  readonly runImages?: RunImages;
  /** The runtime the pods run on, for nodeInfo.containerRuntimeVersion and container ids (docker://, containerd://). Default containerd. */
  readonly runtimeName?: 'containerd' | 'docker';
}

export interface LabKubeletDeps {
  readonly rest: KubeRest;
  readonly runtime: RuntimeReader & RuntimeWriter;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly cache: CacheVersion | undefined;
  readonly hasher: ContainerHasher;
  /** Called when the kubelet cannot go on (the hash oracle has no answer): the process exits. */
  readonly fatal: (err: Error) => void;
}

interface ApiPod extends AdmissionPod {
  readonly metadata: AdmissionPod['metadata'] & { uid: string; deletionTimestamp?: string; annotations?: Record<string, string> };
  readonly spec: AdmissionPod['spec'] & { hostNetwork?: boolean };
  readonly status?: { phase?: string; reason?: string };
}

/** What /lab/syncs reports. */
export interface SyncReport {
  readonly version: string;
  readonly pid: number;
  readonly startedAtMs: number;
  /** Passes that synced every pod bound to the node without an error. */
  readonly completedSyncs: number;
  readonly lastSync?: { readonly atMs: number; readonly pods: number; readonly errors: number };
}

const nowIso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export class LabKubelet {
  private readonly startedAtMs: number;
  private readonly admitted = new Map<string, ApiPod>();
  private readonly rejected = new Set<string>();
  private readonly lastStatus = new Map<string, string>();
  private readonly abort = new AbortController();
  private loops: Promise<void>[] = [];
  private healthz: Server | undefined;
  private syncing: Promise<void> | undefined;
  private completedSyncs = 0;
  private lastSync: SyncReport['lastSync'];
  private registered = false;
  /** UIDs of the static pods seen so far: while the API is down, only their sandboxes may be torn down. */
  private readonly staticUids = new Set<string>();

  constructor(private readonly config: LabKubeletConfig, private readonly deps: LabKubeletDeps) {
    this.startedAtMs = deps.clock.now();
  }

  report(): SyncReport {
    return { version: this.config.kubeletVersion, pid: process.pid, startedAtMs: this.startedAtMs, completedSyncs: this.completedSyncs, ...(this.lastSync ? { lastSync: this.lastSync } : {}) };
  }

  async start(): Promise<void> {
    const { logger } = this.deps;
    logger.info({ version: this.config.kubeletVersion, patched: this.config.patched, cacheVersion: this.deps.cache, hashes: this.deps.hasher.mode }, 'lab kubelet starting');
    // A kubeadm control-plane kubelet starts before its apiserver (which it runs as a static pod):
    // registration waits for the API, static pods do not.
    await this.registerNode().catch((err: unknown) => logger.warn({ err }, 'cannot register the node yet (the API is not answering); static pods run meanwhile'));
    await this.serveHealthz();
    await this.runSync();
    this.every(this.config.syncIntervalMs, () => this.runSync());
    this.every(this.config.heartbeatIntervalMs, () => this.heartbeat().catch((err: unknown) => logger.warn({ err }, 'node heartbeat failed')));
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.loops);
    await this.syncing;
    await new Promise<void>((resolve) => (this.healthz ? this.healthz.close(() => resolve()) : resolve()));
  }

  private every(ms: number, fn: () => Promise<void>): void {
    const { signal } = this.abort;
    this.loops.push((async () => {
      while (!signal.aborted) {
        await this.deps.clock.sleep(ms, signal);
        if (!signal.aborted) await fn();
      }
    })());
  }

  private async runSync(): Promise<void> {
    if (this.syncing || this.abort.signal.aborted) return;
    this.syncing = this.syncOnce()
      .catch((err: unknown) => {
        if (err instanceof OracleMissError) {
          this.deps.logger.fatal({ err, code: err.code }, err.message);
          this.deps.fatal(err);
          return;
        }
        this.deps.logger.error({ err }, 'pod sync failed');
      })
      .finally(() => {
        this.syncing = undefined;
      });
    await this.syncing;
  }

  /** The node's resources as this kubelet sees them now: device-plugin resources 0 until registered. */
  private allocatable(): Record<string, string> {
    const registered = this.deps.clock.now() - this.startedAtMs >= this.config.devicePluginDelayMs;
    const devices = Object.fromEntries(Object.entries(this.config.devicePlugins).map(([k, v]) => [k, registered ? v : '0']));
    return { ...this.config.allocatable, ...devices };
  }

  private nodeStatus(): Record<string, unknown> {
    const now = nowIso(this.deps.clock.now());
    const allocatable = this.allocatable();
    return {
      capacity: allocatable,
      allocatable,
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: now, lastTransitionTime: nowIso(this.startedAtMs) }],
      nodeInfo: { kubeletVersion: this.config.kubeletVersion, kubeProxyVersion: this.config.kubeletVersion, containerRuntimeVersion: this.config.runtimeName ?? 'containerd', operatingSystem: 'linux', architecture: 'amd64' },
      addresses: [...(this.config.nodeIp ? [{ type: 'InternalIP', address: this.config.nodeIp }] : []), { type: 'Hostname', address: this.config.nodeName }],
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
      this.registered = true;
      return;
    }
    await this.heartbeat();
    this.registered = true;
  }

  async heartbeat(): Promise<void> {
    await this.deps.rest.send('PATCH', `/api/v1/nodes/${this.config.nodeName}/status`, { status: this.nodeStatus() }, 'application/merge-patch+json');
  }

  private async serveHealthz(): Promise<void> {
    const server = createServer((req, res) => {
      if (req.url === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      } else if (req.url === '/lab/syncs') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.report()));
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

  /** One pass over the pods bound to this node (API pods and static pods). */
  async syncOnce(): Promise<void> {
    const { rest, runtime } = this.deps;
    const statics = this.config.podManifestPath ? await readStaticPods(this.config.podManifestPath, this.config.nodeName, nowIso(this.startedAtMs)) : [];
    let view: { node: AdmissionNode; items: ApiPod[]; podNodes: JsonNode[] } | undefined;
    try {
      if (!this.registered) await this.registerNode();
      const nodeObj = (await rest.get(`/api/v1/nodes/${this.config.nodeName}`)).value as { metadata: { labels?: Record<string, string> } };
      const list = await rest.get(`/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${this.config.nodeName}`)}`);
      const itemNodes = objectField(list.node, 'items');
      view = {
        node: { name: this.config.nodeName, labels: nodeObj.metadata.labels ?? {}, allocatable: this.allocatable() },
        items: (list.value as { items: ApiPod[] }).items,
        podNodes: itemNodes?.kind === 'array' ? itemNodes.items : [],
      };
    } catch (err) {
      // Without the API only the static pods are synced (the real kubelet's file source works alone).
      if (statics.length === 0) throw err;
      this.deps.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'the API is not answering: syncing static pods only');
    }
    const node = view?.node ?? { name: this.config.nodeName, labels: {}, allocatable: this.allocatable() };
    const items = view?.items ?? [];
    const podNodes = view?.podNodes ?? [];
    const sandboxes = await runtime.listPodSandboxes();
    const containers = await runtime.listContainers();
    const live = new Set<string>();
    let errors = 0;

    // Admission: pods not admitted yet, oldest first, each against the pods admitted before it.
    const fresh = items.filter((p) => !this.admitted.has(p.metadata.uid) && !this.rejected.has(p.metadata.uid) && !isMirror(p) && !terminal(p));
    for (const pod of admissionOrder(fresh)) {
      const active = [...this.admitted.values()];
      const verdict = admitPod(this.config.kubeletVersion, pod, node, active);
      if (verdict.admitted) {
        this.admitted.set(pod.metadata.uid, pod);
        continue;
      }
      this.rejected.add(pod.metadata.uid);
      const log = this.deps.logger.child({ pod: `${pod.metadata.namespace}/${pod.metadata.name}` });
      log.warn({ reason: verdict.reason, message: verdict.message }, `Predicate ${verdict.reason} failed`);
      log.warn('Killing unwanted pod');
      await killPod(runtime, pod.metadata.uid, sandboxes, containers);
      await rest.send('PATCH', `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}/status`, {
        status: { phase: 'Failed', reason: verdict.reason, message: verdict.message, conditions: [{ type: 'Ready', status: 'False' }], containerStatuses: notRunning(pod) },
      }, 'application/merge-patch+json');
      await this.event(pod, 'Warning', verdict.reason, verdict.message);
    }

    const work: { pod: SyncPod; api: ApiPod | undefined }[] = [];
    for (let i = 0; i < items.length; i++) {
      const pod = items[i]!;
      const podNode = podNodes[i];
      if (!podNode || isMirror(pod) || terminal(pod) || pod.metadata.deletionTimestamp || !this.admitted.has(pod.metadata.uid)) continue;
      work.push({ api: pod, pod: { name: pod.metadata.name, namespace: pod.metadata.namespace, uid: pod.metadata.uid, source: 'apiserver', hostNetwork: pod.spec.hostNetwork === true, node: podNode } });
    }
    for (const s of statics) {
      this.staticUids.add(s.uid);
      if (!view) {
        work.push({ api: undefined, pod: s });
        continue;
      }
      const mirror = items.find((p) => isMirror(p) && p.metadata.name === s.name && p.metadata.namespace === s.namespace && p.metadata.annotations?.[ConfigAnnotation.mirror] === s.uid);
      if (!mirror) {
        // A changed manifest is a new static pod: its old mirror goes (pkg/kubelet/pod/mirror_client.go).
        for (const old of items.filter((p) => isMirror(p) && p.metadata.name === s.name && p.metadata.namespace === s.namespace)) {
          await rest.send('DELETE', `/api/v1/namespaces/${old.metadata.namespace}/pods/${old.metadata.name}`).catch(() => undefined);
        }
      }
      const m = mirror ?? (await this.createMirror(s));
      work.push({ api: m, pod: s });
    }
    for (const { pod } of work) live.add(pod.uid);
    // Sandboxes of pods no longer bound here (deleted, failed, a static pod whose manifest changed or
    // went away) are torn down first, so a replaced static pod frees its host ports before the new
    // one starts. While the API is down, only former static pods can be known to be gone.
    for (const sb of sandboxes) {
      if (live.has(sb.uid) || sb.labels[KubeLabel.podUid] === undefined) continue;
      if (view || this.staticUids.has(sb.uid)) await killPod(runtime, sb.uid, [sb], containers);
    }
    for (const { pod, api } of work) {
      const log = this.deps.logger.child({ pod: `${pod.namespace}/${pod.name}` });
      try {
        const { status } = await syncPod(pod, sandboxes, containers, {
          runtime, hasher: this.deps.hasher, kubeletVersion: this.config.kubeletVersion, cache: this.deps.cache, runImage: this.config.runImage,
          podLogRoot: this.config.podLogRoot, podNetwork: this.config.podNetwork, runImages: this.config.runImages, containerIdScheme: this.config.runtimeName ?? 'containerd',
          event: (type, reason, message) => (api ? this.event(api, type, reason, message) : Promise.resolve()),
        }, log);
        if (api) await this.writeStatus(api, status);
      } catch (err) {
        if (err instanceof OracleMissError) throw err;
        errors++;
        log.error({ err }, 'pod sync failed');
      }
    }

    this.lastSync = { atMs: this.deps.clock.now(), pods: work.length, errors };
    // A pass without the API did not sync the API's pods: it does not count.
    if (errors === 0 && view) this.completedSyncs++;
  }

  private async createMirror(s: StaticPod): Promise<ApiPod | undefined> {
    try {
      const created = await this.deps.rest.send('POST', `/api/v1/namespaces/${s.namespace}/pods`, s.mirror);
      this.deps.logger.info({ pod: `${s.namespace}/${s.name}` }, 'created mirror pod');
      return created as ApiPod;
    } catch (err) {
      this.deps.logger.warn({ err, pod: `${s.namespace}/${s.name}` }, 'could not create the mirror pod');
      return undefined;
    }
  }

  private async writeStatus(pod: ApiPod, status: Record<string, unknown>): Promise<void> {
    const full = { ...status, hostIP: '127.0.0.1', podIP: '127.0.0.1' };
    const key = JSON.stringify(full);
    if (this.lastStatus.get(pod.metadata.uid) === key) return;
    await this.deps.rest.send('PATCH', `/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}/status`, { status: { ...full, startTime: nowIso(this.startedAtMs) } }, 'application/merge-patch+json');
    this.lastStatus.set(pod.metadata.uid, key);
  }

  private async event(pod: ApiPod, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const now = nowIso(this.deps.clock.now());
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

const isMirror = (p: ApiPod): boolean => p.metadata.annotations?.[ConfigAnnotation.mirror] !== undefined;
const terminal = (p: ApiPod): boolean => p.status?.phase === 'Failed' || p.status?.phase === 'Succeeded';

/** A killed pod's containers, as the kubelet reports them: terminated, not ready. */
function notRunning(pod: ApiPod): Record<string, unknown>[] {
  return (pod.spec.containers as readonly { name?: string }[]).map((c) => ({ name: c.name ?? '', ready: false, restartCount: 0, image: '', imageID: '', state: { terminated: { exitCode: 137, reason: 'Error' } } }));
}

