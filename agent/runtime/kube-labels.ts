/**
 * Label and annotation keys the kubelet puts on the containers it creates through CRI
 * (kubernetes pkg/kubelet/kuberuntime/labels.go, unchanged v1.10..v1.17), and the dockershim
 * convention of storing CRI annotations as Docker labels with the prefix "annotation."
 * (kubernetes pkg/kubelet/dockershim/helpers.go, annotationPrefix).
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
