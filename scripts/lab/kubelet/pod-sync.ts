/**
 * One pod's sync against the runtime (the lab's computePodActions + SyncPod): sandbox, init
 * containers in order, then every regular container through rules.ts, and the pod status the
 * kubelet reports. Every container runs the lab's local busybox image whatever image the spec
 * names (there is no registry), except a lab program's image (--lab-run-images), which the lab
 * imports under its own name; the hash label covers the spec as written, as the real kubelet's.
 */
import type { Logger } from '../../../lib/logger.ts';
import { objectField, stringField, type JsonNode } from '../../../lib/knowledge/hash/index.ts';
import type { ContainerInfo, PodSandboxInfo, PodSandboxSpec, RuntimeReader, RuntimeWriter } from '../../../agent/runtime/types.ts';
import { KubeAnnotation, KubeLabel, parseRestartCount } from '../../../agent/runtime/kube-labels.ts';
import { decideContainer, nextInitStep, type RuntimeContainer } from './rules.ts';
import type { CacheVersion } from './skip-file.ts';
import type { ContainerHasher, PodSource } from './hashes.ts';
import { imageRun, type RunImages } from './run-images.ts';

export interface SyncPod {
  readonly name: string;
  readonly namespace: string;
  /** The uid the containers carry: the API pod's, or a static pod's own (its mirror's differs). */
  readonly uid: string;
  readonly source: PodSource;
  readonly hostNetwork: boolean;
  /** The pod's raw JSON (as served, or the static manifest after defaulting). */
  readonly node: JsonNode;
}

export interface PodSyncDeps {
  readonly runtime: RuntimeReader & RuntimeWriter;
  readonly hasher: ContainerHasher;
  readonly kubeletVersion: string;
  readonly cache: CacheVersion | undefined;
  readonly runImage: string;
  readonly podLogRoot?: string;
  /** --lab-pod-network: the runtime has a pod network, so pods that are not hostNetwork get their own namespace. */
  readonly podNetwork: boolean;
  /** --lab-run-images: containers of lab program images run the program (./run-images.ts); others sleep. */
  readonly runImages?: RunImages;
  /** The scheme of containerID in the pod status (kubecontainer.ContainerID: docker://, containerd://). Default containerd. */
  readonly containerIdScheme?: 'containerd' | 'docker';
  readonly event: (type: 'Normal' | 'Warning', reason: string, message: string) => Promise<void>;
}

export interface PodSyncResult {
  readonly status: Record<string, unknown>;
}

const nowIso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const nsIso = (ns: bigint): string => nowIso(Number(ns / 1_000_000n));

/** The raw JSON node of each container of spec.<key>, in order. */
export function containerList(pod: JsonNode, key: 'containers' | 'initContainers'): { name: string; node: JsonNode; image: string }[] {
  const list = objectField(objectField(pod, 'spec'), key);
  if (list?.kind !== 'array') return [];
  return list.items.flatMap((c) => {
    const name = stringField(c, 'name');
    return name === undefined ? [] : [{ name, node: c, image: stringField(c, 'image') ?? '' }];
  });
}

export function sandboxSpec(pod: SyncPod, podLogRoot: string | undefined, podNetwork: boolean): PodSandboxSpec {
  return {
    name: pod.name,
    uid: pod.uid,
    namespace: pod.namespace,
    attempt: 0,
    logDirectory: podLogRoot ? `${podLogRoot}/${pod.namespace}_${pod.name}_${pod.uid}` : undefined,
    labels: { [KubeLabel.podName]: pod.name, [KubeLabel.podNamespace]: pod.namespace, [KubeLabel.podUid]: pod.uid },
    annotations: {},
    // Without a pod network (a containerd with no CNI config) the node's namespace is all there is.
    hostNetwork: pod.hostNetwork || !podNetwork,
  };
}

async function runtimeView(deps: PodSyncDeps, c: ContainerInfo): Promise<RuntimeContainer & { info: ContainerInfo; finishedAtNs: bigint }> {
  const s = await deps.runtime.containerStatus(c.id);
  return {
    id: c.id,
    attempt: c.attempt,
    state: s.state,
    hashLabel: c.annotations[KubeAnnotation.containerHash],
    restartCount: parseRestartCount(c.annotations) ?? 0,
    startedAtNs: s.startedAtNs,
    exitCode: s.exitCode,
    info: c,
    finishedAtNs: s.finishedAtNs,
  };
}

export async function syncPod(pod: SyncPod, sandboxes: readonly PodSandboxInfo[], containers: readonly ContainerInfo[], deps: PodSyncDeps, log: Logger): Promise<PodSyncResult> {
  const { runtime } = deps;
  const scheme = deps.containerIdScheme ?? 'containerd';
  const spec = sandboxSpec(pod, deps.podLogRoot, deps.podNetwork);
  let sandboxId = sandboxes.find((s) => s.uid === pod.uid && s.state === 'ready')?.id;
  if (!sandboxId) {
    sandboxId = await runtime.runPodSandbox(spec);
    log.info({ sandboxId }, 'started pod sandbox');
  }
  const sid = sandboxId;
  const latestOf = async (name: string) => {
    const mine = containers.filter((c) => c.podSandboxId === sid && c.name === name).sort((a, b) => b.attempt - a.attempt);
    return { mine, latest: mine[0] ? await runtimeView(deps, mine[0]) : undefined };
  };
  const create = async (c: { name: string; image: string; node?: JsonNode }, attempt: number, restartCount: number, hash: string, command: string[]): Promise<string> => {
    const run = deps.runImages && c.node ? imageRun(c.node, pod.node, deps.runImages) : undefined;
    if (run) log.info({ container: c.name, program: run.program, version: run.version }, 'running the lab program of the image');
    const id = await runtime.createContainer(sid, {
      name: c.name,
      attempt,
      // A lab program's image is in the runtime under the manifest's name (the lab imports it): the
      // container is created with it, so CRI reports the image the manifest names, as for a real
      // kubelet. Every other container runs the local busybox image.
      image: run ? c.image : deps.runImage,
      command: run?.command ?? command,
      ...(run ? { mounts: run.mounts, env: run.env } : {}),
      labels: { [KubeLabel.podName]: pod.name, [KubeLabel.podNamespace]: pod.namespace, [KubeLabel.podUid]: pod.uid, [KubeLabel.containerName]: c.name },
      annotations: {
        [KubeAnnotation.containerHash]: hash,
        [KubeAnnotation.containerRestartCount]: String(restartCount),
        [KubeAnnotation.terminationMessagePath]: '/dev/termination-log',
      },
      logPath: `${c.name}/${attempt}.log`,
    }, spec);
    await runtime.startContainer(id);
    return id;
  };

  // ---- init containers: their hash is never compared; the exited ones are kept (GC keeps the last).
  const inits = containerList(pod.node, 'initContainers');
  const initViews = new Map<string, Awaited<ReturnType<typeof latestOf>>>();
  for (const c of inits) initViews.set(c.name, await latestOf(c.name));
  const step = nextInitStep(inits.map((c) => c.name), (name) => initViews.get(name)?.latest);
  const initStatuses = inits.map((c) => {
    const v = initViews.get(c.name)?.latest;
    const state = v?.state === 'exited'
      ? { terminated: { exitCode: v.exitCode ?? 0, reason: (v.exitCode ?? 0) === 0 ? 'Completed' : 'Error', startedAt: nsIso(v.startedAtNs), finishedAt: nsIso(v.finishedAtNs), containerID: `${scheme}://${v.id}` } }
      : v?.state === 'running' ? { running: { startedAt: nsIso(v.startedAtNs) } } : { waiting: { reason: 'PodInitializing' } };
    return { name: c.name, ready: v?.state === 'exited' && (v.exitCode ?? 0) === 0, restartCount: v?.restartCount ?? 0, image: c.image, imageID: '', ...(v ? { containerID: `${scheme}://${v.id}` } : {}), state };
  });
  const regular = containerList(pod.node, 'containers');
  if (step.kind !== 'done') {
    if (step.kind === 'start') {
      const c = inits[step.index]!;
      const id = await create(c, step.attempt, step.restartCount, deps.hasher.hash(c.node, deps.kubeletVersion, pod.source), ['true']);
      log.info({ container: c.name, id }, 'started init container');
    }
    const waiting = regular.map((c) => ({ name: c.name, ready: false, restartCount: 0, image: c.image, imageID: '', state: { waiting: { reason: 'PodInitializing' } } }));
    return { status: { phase: 'Pending', conditions: [{ type: 'Initialized', status: 'False' }, { type: 'Ready', status: 'False' }], initContainerStatuses: initStatuses, containerStatuses: waiting } };
  }

  // ---- regular containers
  const statuses: Record<string, unknown>[] = [];
  for (const c of regular) {
    const expected = deps.hasher.hash(c.node, deps.kubeletVersion, pod.source);
    const { mine, latest } = await latestOf(c.name);
    const action = decideContainer(expected, latest, deps.cache);
    const clog = log.child({ container: c.name });
    let id = latest?.id;
    let restartCount = latest?.restartCount ?? 0;
    let startedAtNs = latest?.startedAtNs ?? 0n;
    if (action.kind === 'keep') {
      if (action.skippedHashCheck) clog.debug({ label: latest?.hashLabel, expected }, 'SKIP: hash differs, container started before this kubelet and the skip file names another version');
    } else {
      if (action.reason === 'definition-changed' && latest) {
        clog.info({ label: latest.hashLabel, expected }, 'Container definition changed, will be restarted');
        await runtime.stopContainer(latest.id, 0);
        await deps.event('Normal', 'Killing', `Container ${c.name} definition changed, will be restarted`);
      } else if (action.reason === 'not-running') {
        clog.info({ state: latest?.state }, 'container is not running, starting it again');
      }
      id = await create(c, action.attempt, action.restartCount, action.hash, ['sleep', '2000000000']);
      restartCount = action.restartCount;
      startedAtNs = (await runtime.containerStatus(id)).startedAtNs;
      clog.info({ id, attempt: action.attempt, hash: action.hash }, 'started container');
      // Older attempts are garbage: the kubelet keeps one dead container; the lab keeps none.
      for (const old of mine) {
        if (old.state === 'running') await runtime.stopContainer(old.id, 0);
        await runtime.removeContainer(old.id);
      }
    }
    statuses.push({
      name: c.name, ready: true, restartCount, image: c.image, imageID: '',
      containerID: id ? `${scheme}://${id}` : '',
      state: { running: { startedAt: nsIso(startedAtNs) } },
    });
  }
  return {
    status: {
      phase: 'Running',
      conditions: [{ type: 'Initialized', status: 'True' }, { type: 'Ready', status: 'True' }],
      ...(inits.length > 0 ? { initContainerStatuses: initStatuses } : {}),
      containerStatuses: statuses,
    },
  };
}

/** Stops and removes every sandbox of the pod (what "Killing unwanted pod" ends in). */
export async function killPod(runtime: RuntimeReader & RuntimeWriter, uid: string, sandboxes: readonly PodSandboxInfo[], containers: readonly ContainerInfo[]): Promise<void> {
  for (const sb of sandboxes.filter((s) => s.uid === uid)) {
    for (const c of containers.filter((x) => x.podSandboxId === sb.id && x.state === 'running')) await runtime.stopContainer(c.id, 0);
    await runtime.stopPodSandbox(sb.id);
    await runtime.removePodSandbox(sb.id);
  }
}
