/**
 * What the consistency join reads from a Pod object of the API: the uid its containers carry in
 * the runtime, and its running containers according to its status.
 */
import { objectField, stringField, type JsonNode } from '../../lib/knowledge/hash/index.ts';

/**
 * Static pods: the kubelet gives a pod read from a file or URL the uid "the hash of the file" and
 * records it in the annotation kubernetes.io/config.hash (kubernetes pkg/kubelet/config/common.go,
 * applyDefaults; key in pkg/kubelet/types/pod_update.go, ConfigHashAnnotationKey). Its containers
 * carry that uid in io.kubernetes.pod.uid, while the mirror pod the kubelet creates in the API has
 * an apiserver-assigned uid and copies the annotations, adding kubernetes.io/config.mirror with the
 * same hash (pkg/kubelet/pod/mirror_client.go, CreateMirrorPod; ConfigMirrorAnnotationKey).
 */
export const CONFIG_HASH_ANNOTATION = 'kubernetes.io/config.hash';
export const CONFIG_MIRROR_ANNOTATION = 'kubernetes.io/config.mirror';

/** The uid the pod's containers carry in the runtime: the config hash for a mirror pod, else metadata.uid. */
export function podRuntimeUid(pod: JsonNode): string | undefined {
  const meta = objectField(pod, 'metadata');
  const annotations = objectField(meta, 'annotations');
  const mirror = stringField(annotations, CONFIG_MIRROR_ANNOTATION);
  if (mirror !== undefined) {
    const hash = stringField(annotations, CONFIG_HASH_ANNOTATION);
    if (hash !== undefined && hash !== '') return hash;
    if (mirror !== '') return mirror;
  }
  return stringField(meta, 'uid');
}

export interface RunningStatus {
  /** "namespace/name" */
  readonly pod: string;
  readonly apiUid: string;
  /** The uid the runtime labels carry (see podRuntimeUid). */
  readonly runtimeUid: string;
  readonly container: string;
  /** As the API reports it: "containerd://<id>", "docker://<id>". */
  readonly containerId: string;
  readonly init: boolean;
}

/** Containers whose status says state.running, from status.containerStatuses and status.initContainerStatuses. */
export function runningStatuses(pod: JsonNode): RunningStatus[] {
  const meta = objectField(pod, 'metadata');
  const podName = `${stringField(meta, 'namespace') ?? 'default'}/${stringField(meta, 'name') ?? ''}`;
  const apiUid = stringField(meta, 'uid') ?? '';
  const runtimeUid = podRuntimeUid(pod) ?? apiUid;
  const status = objectField(pod, 'status');
  const out: RunningStatus[] = [];
  for (const [key, init] of [['initContainerStatuses', true], ['containerStatuses', false]] as const) {
    const list = objectField(status, key);
    if (list?.kind !== 'array') continue;
    for (const s of list.items) {
      const running = objectField(objectField(s, 'state'), 'running');
      if (running?.kind !== 'object') continue;
      out.push({ pod: podName, apiUid, runtimeUid, container: stringField(s, 'name') ?? '', containerId: stringField(s, 'containerID') ?? '', init });
    }
  }
  return out;
}
