/**
 * Which pods lack the not-ready/unreachable NoExecute tolerations that DefaultTolerationSeconds
 * adds, pure. Once TaintBasedEvictions is on (beta, default on from 1.13: CHANGELOG-1.13,
 * kubernetes/kubernetes#69824) a NotReady node gets NoExecute taints and a pod without these
 * tolerations is evicted at once instead of after --pod-eviction-timeout.
 *
 * The matching rule is the admission plugin's (plugin/pkg/admission/defaulttolerationseconds/
 * admission.go): a toleration counts when its key is the taint's or empty and its effect is
 * NoExecute or empty. The plugin handles Create and Update (admission.NewHandler(admission.Create,
 * admission.Update)), and pod update validation allows adding tolerations, so a metadata-only
 * update of a running pod makes the apiserver add them: that is the "touch".
 */
import type { V1Pod } from '@kubernetes/client-node';

export const TAINT_NOT_READY = 'node.kubernetes.io/not-ready';
export const TAINT_UNREACHABLE = 'node.kubernetes.io/unreachable';
export const TOUCH_ANNOTATION = 'kip.io/tolerations-touched';

const tolerates = (pod: V1Pod, key: string): boolean =>
  (pod.spec?.tolerations ?? []).some((t) => (t.key === key || !t.key) && (t.effect === 'NoExecute' || !t.effect));

export function lacksEvictionTolerations(pod: V1Pod): boolean {
  return !tolerates(pod, TAINT_NOT_READY) || !tolerates(pod, TAINT_UNREACHABLE);
}

/** The live pods to touch: not finished, not being deleted, lacking a toleration. */
export function podsToTouch(pods: readonly V1Pod[]): V1Pod[] {
  return pods.filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed' && !p.metadata?.deletionTimestamp && lacksEvictionTolerations(p));
}

export const podKey = (p: V1Pod): string => `${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''}`;
