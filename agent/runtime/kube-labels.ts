/**
 * Label and annotation keys the kubelet puts on the containers it creates through CRI
 * (kubernetes pkg/kubelet/kuberuntime/labels.go, newContainerLabels / newContainerAnnotations,
 * unchanged v1.10..v1.17: pod name, namespace, uid and container name are labels; hash and restart
 * count are annotations), and how dockershim stores them in Docker (v1.10..v1.23):
 * - CRI labels are Docker labels as they are; CRI annotations are Docker labels with the prefix
 *   "annotation." (pkg/kubelet/dockershim/helpers.go, annotationPrefix, makeLabels/extractLabels);
 * - "io.kubernetes.docker.type" is "podsandbox" or "container", and "io.kubernetes.sandbox.id" names
 *   an application container's sandbox (pkg/kubelet/dockershim/docker_service.go,
 *   containerTypeLabelKey, containerTypeLabelSandbox/Container, sandboxIDLabelKey);
 * - the Docker name is k8s_<container>_<pod>_<namespace>_<uid>_<attempt> (6 fields; a 7th random
 *   suffix is tolerated), the attempt existing only there (pkg/kubelet/dockershim/naming.go,
 *   kubePrefix "k8s", nameDelimiter "_", makeContainerName / parseContainerName).
 */
export const KubeLabel = {
  podName: 'io.kubernetes.pod.name',
  podNamespace: 'io.kubernetes.pod.namespace',
  podUid: 'io.kubernetes.pod.uid',
  containerName: 'io.kubernetes.container.name',
} as const;

export const KubeAnnotation = {
  containerHash: 'io.kubernetes.container.hash',
  containerRestartCount: 'io.kubernetes.container.restartCount',
  terminationMessagePath: 'io.kubernetes.container.terminationMessagePath',
  terminationMessagePolicy: 'io.kubernetes.container.terminationMessagePolicy',
  podTerminationGracePeriod: 'io.kubernetes.pod.terminationGracePeriod',
} as const;

/** dockershim: CRI annotations become Docker labels "annotation.<key>". */
export const DOCKERSHIM_ANNOTATION_PREFIX = 'annotation.';
/** dockershim: "container" or "podsandbox". */
export const DOCKERSHIM_TYPE_LABEL = 'io.kubernetes.docker.type';
/** dockershim: the sandbox (infra container) id of an application container. */
export const DOCKERSHIM_SANDBOX_ID_LABEL = 'io.kubernetes.sandbox.id';

/** A restart count annotation as a number; undefined when absent or not a non-negative integer. */
export function parseRestartCount(annotations: Readonly<Record<string, string>>): number | undefined {
  const raw = annotations[KubeAnnotation.containerRestartCount];
  if (raw === undefined || !/^\d+$/.test(raw)) return undefined;
  return Number(raw);
}
