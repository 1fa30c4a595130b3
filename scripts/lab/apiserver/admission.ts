/**
 * Mutations the real apiserver applies to pods before storing them.
 *
 * DefaultTolerationSeconds admission (plugin/pkg/admission/defaulttolerationseconds/admission.go,
 * same rule v1.10 through v1.17): runs on CREATE and UPDATE of pods, never on subresources (status,
 * binding, ...). A pod already tolerates not-ready when some toleration has key
 * "node.kubernetes.io/not-ready" or an empty key, AND effect NoExecute or an empty effect; likewise
 * for "node.kubernetes.io/unreachable". For each one not tolerated it appends
 * {key, operator: Exists, effect: NoExecute, tolerationSeconds: 300} (the plugin's flag defaults
 * --default-not-ready-toleration-seconds / --default-unreachable-toleration-seconds = 300).
 *
 * Pod defaulting (k8s.io/kubernetes/pkg/apis/core/v1/defaults.go, the fields every version 1.10-1.17
 * sets): restartPolicy Always, dnsPolicy ClusterFirst, schedulerName default-scheduler,
 * terminationGracePeriodSeconds 30, securityContext {}; per container terminationMessagePath
 * /dev/termination-log, terminationMessagePolicy File, imagePullPolicy (Always for a :latest or
 * untagged image, else IfNotPresent), ports[].protocol TCP, and status.phase Pending. Defaults
 * matter to the lab because the kubelet's container hash covers the defaulted container spec.
 */
import { child, isObject, type Json, type JsonObject } from './json.ts';

export const NOT_READY_TAINT = 'node.kubernetes.io/not-ready';
export const UNREACHABLE_TAINT = 'node.kubernetes.io/unreachable';
export const DEFAULT_TOLERATION_SECONDS = 300;

function tolerates(tolerations: readonly Json[], key: string): boolean {
  return tolerations.some((t) => {
    if (!isObject(t)) return false;
    const k = typeof t.key === 'string' ? t.key : '';
    const e = typeof t.effect === 'string' ? t.effect : '';
    return (k === key || k === '') && (e === 'NoExecute' || e === '');
  });
}

/** Applies DefaultTolerationSeconds to a pod object in place; returns true when it changed it. */
export function applyDefaultTolerationSeconds(pod: JsonObject, seconds = DEFAULT_TOLERATION_SECONDS): boolean {
  const spec = child(pod, 'spec');
  const existing = Array.isArray(spec.tolerations) ? spec.tolerations : [];
  const added: JsonObject[] = [];
  for (const key of [NOT_READY_TAINT, UNREACHABLE_TAINT]) {
    if (!tolerates(existing, key)) added.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: seconds });
  }
  if (added.length === 0) return false;
  spec.tolerations = [...existing, ...added];
  return true;
}

function defaultPullPolicy(image: string): string {
  const lastSegment = image.split('/').pop() ?? image;
  if (image.includes('@')) return 'IfNotPresent';
  const colon = lastSegment.lastIndexOf(':');
  const tag = colon >= 0 ? lastSegment.slice(colon + 1) : '';
  return tag === '' || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultContainer(c: Json): void {
  if (!isObject(c)) return;
  c.terminationMessagePath ??= '/dev/termination-log';
  c.terminationMessagePolicy ??= 'File';
  if (c.imagePullPolicy === undefined && typeof c.image === 'string') c.imagePullPolicy = defaultPullPolicy(c.image);
  if (Array.isArray(c.ports)) for (const p of c.ports) if (isObject(p)) p.protocol ??= 'TCP';
}

/** Sets the defaults of a pod spec in place (also used for pod templates). */
export function defaultPodSpec(spec: JsonObject): void {
  spec.restartPolicy ??= 'Always';
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.schedulerName ??= 'default-scheduler';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.securityContext ??= {};
  for (const list of [spec.containers, spec.initContainers]) if (Array.isArray(list)) list.forEach(defaultContainer);
}

export function defaultPod(pod: JsonObject): void {
  defaultPodSpec(child(pod, 'spec'));
  const status = child(pod, 'status');
  status.phase ??= 'Pending';
}
