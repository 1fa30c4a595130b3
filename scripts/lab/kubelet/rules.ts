/**
 * The kubelet's per-pod sync decisions this mission is about, as pure functions over plain data
 * (pkg/kubelet/kuberuntime/kuberuntime_manager.go computePodActions, 1.10-1.17):
 * - init containers (findNextInitContainerToRun): while the last init container has not exited
 *   successfully, start the next one and touch no regular container; an init container's hash
 *   is never compared;
 * - a regular container that is not RUNNING in the runtime (exited, or created but never started)
 *   is started anew (restartPolicy Always), counting a restart;
 * - a running container whose hash label differs from the hash this kubelet computes is killed
 *   and recreated ("Container definition changed"), unless the patched kubelet's skip rule
 *   (skip-file.ts) applies to it.
 */
import { skipsHashCheck, type CacheVersion } from './skip-file.ts';

export type RuntimeState = 'created' | 'running' | 'exited' | 'unknown';

export interface RuntimeContainer {
  readonly id: string;
  readonly attempt: number;
  readonly state: RuntimeState;
  readonly hashLabel: string | undefined;
  readonly restartCount: number;
  /** CRI ContainerStatus.startedAt; 0n for a container that never started. */
  readonly startedAtNs: bigint;
  readonly exitCode?: number;
}

export type ContainerAction =
  | { readonly kind: 'create'; readonly attempt: number; readonly restartCount: number; readonly hash: string; readonly reason: 'new' | 'not-running' | 'definition-changed' }
  | { readonly kind: 'keep'; readonly hash: string; readonly skippedHashCheck: boolean };

/** What the kubelet does with one regular container; `expected` is this version's hash of its spec. */
export function decideContainer(expected: string, current: RuntimeContainer | undefined, cache: CacheVersion | undefined): ContainerAction {
  if (!current) return { kind: 'create', attempt: 0, restartCount: 0, hash: expected, reason: 'new' };
  if (current.state !== 'running') {
    return { kind: 'create', attempt: current.attempt + 1, restartCount: current.restartCount + 1, hash: expected, reason: 'not-running' };
  }
  if (skipsHashCheck(cache, current.startedAtNs)) return { kind: 'keep', hash: expected, skippedHashCheck: current.hashLabel !== expected };
  if (current.hashLabel === expected) return { kind: 'keep', hash: expected, skippedHashCheck: false };
  return { kind: 'create', attempt: current.attempt + 1, restartCount: current.restartCount + 1, hash: expected, reason: 'definition-changed' };
}

export type InitStep =
  | { readonly kind: 'done' }
  | { readonly kind: 'wait'; readonly name: string }
  | { readonly kind: 'start'; readonly index: number; readonly attempt: number; readonly restartCount: number };

const failed = (c: RuntimeContainer): boolean => c.state === 'exited' && (c.exitCode ?? 0) !== 0;

/**
 * findNextInitContainerToRun: a failed init container is restarted; otherwise, walking back from
 * the last, the first one running or exited decides: running -> wait; exited (successfully) ->
 * the next one, or done when it is the last; none -> the first (created counts as neither).
 */
export function nextInitStep(names: readonly string[], latest: (name: string) => RuntimeContainer | undefined): InitStep {
  if (names.length === 0) return { kind: 'done' };
  for (let i = names.length - 1; i >= 0; i--) {
    const s = latest(names[i]!);
    if (s && failed(s)) return { kind: 'start', index: i, attempt: s.attempt + 1, restartCount: s.restartCount + 1 };
  }
  for (let i = names.length - 1; i >= 0; i--) {
    const s = latest(names[i]!);
    if (!s) continue;
    if (s.state === 'running') return { kind: 'wait', name: names[i]! };
    if (s.state !== 'exited') continue;
    if (i === names.length - 1) return { kind: 'done' };
    return { kind: 'start', index: i + 1, attempt: 0, restartCount: 0 };
  }
  return { kind: 'start', index: 0, attempt: 0, restartCount: 0 };
}
