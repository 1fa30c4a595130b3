/**
 * The kubelet behaviour this mission is about, as pure decisions over plain data:
 * admission (MatchNodeSelector) and the per-container sync rule (hash differs -> "Container
 * definition changed" -> kill and recreate, unless the patched kubelet's skip rule applies).
 */
import { hashEngine, hashLabel, type JsonNode } from '../../../lib/knowledge/hash/index.ts';
import { skipsHashCheck, type SkipState } from './skip-file.ts';

export interface AdmitResult {
  readonly admitted: boolean;
  readonly reason?: 'MatchNodeSelector';
  readonly message?: string;
}

/** pkg/scheduler/algorithm/predicates PodMatchNodeSelector, as the kubelet's admit handler runs it. */
export function admitPod(nodeSelector: Readonly<Record<string, string>> | undefined, nodeLabels: Readonly<Record<string, string>>): AdmitResult {
  for (const [key, value] of Object.entries(nodeSelector ?? {})) {
    if (nodeLabels[key] !== value) {
      return { admitted: false, reason: 'MatchNodeSelector', message: 'Pod Predicate MatchNodeSelector failed' };
    }
  }
  return { admitted: true };
}

export interface RunningContainer {
  readonly id: string;
  readonly attempt: number;
  readonly running: boolean;
  readonly hashLabel: string | undefined;
  readonly restartCount: number;
  readonly startedAtMs: number;
}

export type ContainerAction =
  | { readonly kind: 'create'; readonly attempt: number; readonly restartCount: number; readonly hash: string; readonly reason: 'new' | 'exited' | 'definition-changed' }
  | { readonly kind: 'keep'; readonly hash: string; readonly skippedHashCheck: boolean };

export interface SyncContext {
  readonly kubeletVersion: string;
  readonly kubeletStartedAtMs: number;
  readonly skip: SkipState | undefined;
}

/** What the kubelet does with one container of a pod it runs (restartPolicy Always). */
export function decideContainer(spec: JsonNode, current: RunningContainer | undefined, ctx: SyncContext): ContainerAction {
  const engine = hashEngine(ctx.kubeletVersion);
  const expected = hashLabel(engine.hashDecoded(engine.decode(spec)));
  if (!current) return { kind: 'create', attempt: 0, restartCount: 0, hash: expected, reason: 'new' };
  if (!current.running) {
    return { kind: 'create', attempt: current.attempt + 1, restartCount: current.restartCount + 1, hash: expected, reason: 'exited' };
  }
  if (current.hashLabel === expected) return { kind: 'keep', hash: expected, skippedHashCheck: false };
  if (skipsHashCheck(ctx.skip, ctx.kubeletVersion, ctx.kubeletStartedAtMs, current.startedAtMs)) {
    return { kind: 'keep', hash: expected, skippedHashCheck: true };
  }
  return { kind: 'create', attempt: current.attempt + 1, restartCount: current.restartCount + 1, hash: expected, reason: 'definition-changed' };
}
