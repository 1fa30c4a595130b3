/**
 * The automatic rollback of a controller whose Release failed its health verification, pure (no
 * I/O, no clock): which recovery action comes next given the journal, and what the journal then
 * counts as not done.
 *
 * A held kube-controller-manager or kube-scheduler swapped by an agent run is verified only when
 * Release starts it; the agent answers COMPONENT_UNHEALTHY naming that run (agent/upgrade/
 * release-verify.ts). Left so, the node runs a crash-looping controller. So, journaled before and
 * after each like every other action:
 *   release:N:C  error, with the agent's code, message and the swap's agent run id
 *   rollback:N:C Rollback(agent run id): the agent restores the old binary or manifest and starts it
 *   restart:N:C  Release(C): the old one runs and nothing of it stays held
 * and the run pauses with the component, the node and the agent's error. An old controller beside
 * the new apiserver is within the version-skew policy ("kube-controller-manager, kube-scheduler
 * ... may be up to one minor version older" than kube-apiserver, to allow live upgrades:
 * kubernetes.io/releases/version-skew-policy), so the cluster keeps working while paused.
 *
 * After the restart is journaled ok, the hold, swap and release of that component before it no
 * longer count: kip resume holds it, swaps it with the next agent run id (the next attempt) and
 * releases it again, so a fixed binary or flag is picked up, and the step does not finish with
 * the old controller. A crash anywhere in between resumes the recovery where it stopped (an open
 * rollback is sent again: Rollback is idempotent per run; a repeated Release after
 * COMPONENT_UNHEALTHY answers the same until the rollback).
 */
import type { Controller } from './spec.ts';
import { nextControlPlaneAction, type CpAction, type JournalEntry, type NextAction } from './control-plane-plan.ts';

export const COMPONENT_UNHEALTHY = 'COMPONENT_UNHEALTHY';

/** The result journaled with a Release that failed. */
export interface ReleaseFailure {
  readonly reason: string;
  readonly code?: string;
  readonly message?: string;
  /** The agent run that swapped the component (Rollback's argument). */
  readonly agentRunId?: string;
}

/** The result journaled with an automatic rollback. */
export interface RollbackResult {
  readonly agentRunId: string;
  readonly phase: string;
  readonly fromVersion: string;
  readonly toVersion: string;
}

/** Thrown by the release action when the agent says COMPONENT_UNHEALTHY: the engine journals it and rolls back. */
export class ReleaseUnhealthy extends Error {
  constructor(readonly failure: ReleaseFailure) {
    super(failure.reason);
  }
}

type Release = Extract<CpAction, { kind: 'release' }>;

const keyOf = (kind: 'hold' | 'swap' | 'release' | 'rollback' | 'restart', node: string, component: string): string => `${kind}:${node}:${component}`;

function parsed<T>(text: string): T | undefined {
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

export function releaseFailureOf(entry: JournalEntry): ReleaseFailure | undefined {
  if (entry.outcome !== 'error') return undefined;
  const f = parsed<ReleaseFailure>(entry.result);
  return f?.code === COMPONENT_UNHEALTHY ? f : undefined;
}

interface Recovery {
  readonly release: Release;
  readonly failed: JournalEntry;
  readonly failure: ReleaseFailure;
  /** Entries after the failed release, oldest first. */
  readonly rollbacks: readonly JournalEntry[];
  readonly restarts: readonly JournalEntry[];
}

function recoveryOf(release: Release, journal: ReadonlyMap<string, readonly JournalEntry[]>): Recovery | undefined {
  const failed = (journal.get(release.key) ?? []).at(-1);
  const failure = failed && releaseFailureOf(failed);
  if (!failed || !failure) return undefined;
  const rollbacks = (journal.get(keyOf('rollback', release.node, release.component)) ?? []).filter((e) => e.id > failed.id);
  const done = rollbacks.at(-1)?.outcome === 'ok' ? rollbacks.at(-1)! : undefined;
  const restarts = done ? (journal.get(keyOf('restart', release.node, release.component)) ?? []).filter((e) => e.id > done.id) : [];
  return { release, failed, failure, rollbacks, restarts };
}

function entryAfter(entries: readonly JournalEntry[]): { attempt: number; open: JournalEntry | undefined } {
  const last = entries.at(-1);
  const open = last?.outcome === null ? last : undefined;
  return { attempt: open ? entries.length : entries.length + 1, open };
}

/**
 * The next action: an unfinished recovery first (rollback, then restart), otherwise the first
 * action of the list not done, where a finished recovery makes its component's hold, swap and
 * release before it count as not done. The attempt of a redone swap counts every earlier entry,
 * so its agent run id is new.
 */
export function nextWithRecovery(actions: readonly CpAction[], journal: ReadonlyMap<string, readonly JournalEntry[]>): NextAction {
  const releases = actions.filter((a): a is Release => a.kind === 'release');
  for (const r of releases) {
    const rec = recoveryOf(r, journal);
    if (!rec) continue;
    if (rec.rollbacks.at(-1)?.outcome !== 'ok') {
      const agentRunId = rec.failure.agentRunId ?? '';
      return { done: false, action: { key: keyOf('rollback', r.node, r.component), kind: 'rollback', node: r.node, component: r.component, agentRunId }, ...entryAfter(rec.rollbacks) };
    }
    if (rec.restarts.at(-1)?.outcome !== 'ok') {
      return { done: false, action: { key: keyOf('restart', r.node, r.component), kind: 'restart', node: r.node, component: r.component }, ...entryAfter(rec.restarts) };
    }
  }
  return nextControlPlaneAction(actions, superseded(releases, journal));
}

/** The journal with every ok hold/swap/release entry that a finished recovery came after marked not done. */
function superseded(releases: readonly Release[], journal: ReadonlyMap<string, readonly JournalEntry[]>): Map<string, JournalEntry[]> {
  const out = new Map([...journal].map(([k, v]) => [k, [...v]]));
  for (const r of releases) {
    const restarted = (journal.get(keyOf('restart', r.node, r.component)) ?? []).filter((e) => e.outcome === 'ok').at(-1);
    if (!restarted) continue;
    for (const kind of ['hold', 'swap', 'release'] as const) {
      const key = keyOf(kind, r.node, r.component);
      const list = out.get(key);
      if (list) out.set(key, list.map((e) => (e.id < restarted.id && e.outcome === 'ok' ? { ...e, outcome: 'error' } : e)));
    }
  }
  return out;
}

/** Why the run pauses once the old controller runs again. */
export function recoveryPauseReason(to: string, node: string, component: Controller, failure: ReleaseFailure, rolled: RollbackResult | undefined): string {
  const agentError = `${failure.code ?? 'error'}${failure.message ? `: ${failure.message}` : ''}`;
  const back = rolled?.fromVersion ? ` and runs ${rolled.fromVersion} again` : ' and runs its old version again';
  return `control plane ${to}: ${component} ${to} on ${node} did not run healthy after Release (${agentError}); `
    + `kip rolled it back through the agent (Rollback of agent run ${rolled?.agentRunId ?? failure.agentRunId ?? '?'}): it is released${back}. `
    + `Fix the cause (the component's log on ${node}, its flags, the staged binary), then kip resume holds, swaps and releases ${component} again with a new agent run; `
    + 'kip rollback rolls back the kubelets of the current step (the control plane is not downgraded)';
}

/** The controllers a run rolled back by itself and has not upgraded again since (for kip rollback and kip status). */
export interface AutomaticRollback {
  readonly step: number;
  readonly node: string;
  readonly component: string;
  readonly agentRunId: string;
  readonly fromVersion: string;
  readonly toVersion: string;
}

/** From the run's journal entries of control-plane step `step` (key -> entries). */
export function automaticRollbacks(step: number, journal: ReadonlyMap<string, readonly JournalEntry[]>): AutomaticRollback[] {
  const out: AutomaticRollback[] = [];
  for (const [key, entries] of journal) {
    const m = /^rollback:([^:]+):(.+)$/.exec(key);
    const ok = entries.filter((e) => e.outcome === 'ok').at(-1);
    if (!m || !ok) continue;
    const [, node, component] = m as unknown as [string, string, string];
    const releasedSince = (journal.get(keyOf('release', node, component)) ?? []).some((e) => e.id > ok.id && e.outcome === 'ok');
    if (releasedSince) continue;
    const r = parsed<RollbackResult>(ok.result);
    out.push({ step, node, component, agentRunId: r?.agentRunId ?? '', fromVersion: r?.fromVersion ?? '', toVersion: r?.toVersion ?? '' });
  }
  return out.sort((a, b) => a.node.localeCompare(b.node) || a.component.localeCompare(b.component));
}
