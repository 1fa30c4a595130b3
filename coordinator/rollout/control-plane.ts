/**
 * The engine of one control-plane step: takes the actions of ./control-plane-plan.ts in order,
 * each journaled before it is taken (beginAction, with the agent run id it will use) and its
 * outcome after (finishAction). A coordinator killed at any point resumes here: actions finished
 * ok are skipped, an open one is continued with the ids it recorded (the agent re-attaches to a
 * run id, never runs it twice; Hold and Release are idempotent), a failed one is tried again.
 *
 * Anything that goes wrong pauses the run with the reason. The apiserver going away is expected
 * while it is swapped: calls to it are retried with backoff, and the run pauses (not fails) when
 * it stays away longer than the ready timeout.
 */
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { isKipError } from '../../lib/errors.ts';
import { LockHeldError } from '../lock/lock.ts';
import { LockLostError } from '../lock/kube-lock.ts';
import type { Exec } from '../../lib/exec.ts';
import { parseMinor } from '../../lib/knowledge/version.ts';
import type { Logger } from '../../lib/logger.ts';
import type { AgentPort, EtcdSnapshotInfo } from '../fleet/port.ts';
import type { Component } from '../stage/releases.ts';
import { componentRunIdFor, controlPlaneActions, cpJournalKind, parseCpJournalKind, type CpAction, type JournalEntry } from './control-plane-plan.ts';
import { COMPONENT_UNHEALTHY, nextWithRecovery, recoveryPauseReason, releaseFailureOf, ReleaseUnhealthy, type RollbackResult } from './control-plane-recovery.ts';
import type { EngineDeps, RunOutcome } from './engine.ts';
import { runHook } from './hooks.ts';
import { upgradeNode } from './node-upgrade.ts';
import { baselineOf, postCheckProblems, type PodBaseline } from './postcheck.ts';
import type { ControlPlaneStepSpec, RunSpec } from './spec.ts';
import { podKey, podsToTouch, TOUCH_ANNOTATION, lacksEvictionTolerations } from './tolerations.ts';

export interface ControlPlaneDeps extends EngineDeps {
  readonly exec: Exec;
  /** The coordinator's state dir: etcd snapshots are kept under <stateDir>/snapshots. */
  readonly stateDir: string;
  /** Runs one kubelet step of the run (the engine's own). */
  readonly runKubeletStep: (step: number) => Promise<RunOutcome>;
}

/** A step that cannot go on now: the run pauses with this reason. */
class Pause extends Error {}

export interface EtcdSnapshotRecord {
  readonly path: string;
  readonly sizeBytes: number;
  readonly sha256: string;
  readonly revision: number;
  readonly id: string;
  readonly node: string;
}

export async function runControlPlaneStep(runId: string, spec: RunSpec, step: ControlPlaneStepSpec, deps: ControlPlaneDeps): Promise<RunOutcome> {
  const { store, clock } = deps;
  const log = deps.logger.child({ runId, step: `cp${step.index}:${step.to}` });
  const actions = controlPlaneActions(step, spec.hooks ?? []);
  const endGate = deps.gates?.activate();
  const renewal = renewLock(runId, deps, log);
  try {
    for (;;) {
      if (renewal.lost()) return { phase: 'paused', reason: `lost the cluster lock: ${renewal.lost()}` };
      const journal = journalOf(runId, step.index, deps);
      const next = nextWithRecovery(actions, journal);
      if (next.done) return { phase: 'succeeded' };
      const gate = deps.gates?.tripped();
      if (gate) return { phase: 'paused', reason: gate };
      if (deps.signal?.aborted) return { phase: 'paused', reason: 'interrupted by the operator' };
      const { action, attempt, open } = next;
      const payload = open ? (JSON.parse(open.payload) as ActionPayload) : payloadFor(runId, step, action, attempt);
      const id = open?.id ?? store.beginAction({ runId, kind: cpJournalKind(step.index, action.key), node: 'node' in action ? action.node : '', payload: JSON.stringify(payload), at: clock.now() });
      deps.progress?.(`control plane ${step.to}: ${describe(action)}${open ? ' (continuing after a restart)' : ''}`);
      try {
        const result = await take(runId, spec, step, action, payload, { id, noted: open?.result ?? '' }, deps, log);
        // The old controller runs again after an automatic rollback: the run pauses in the same
        // commit, so no crash can let a resume go on without the operator having seen it.
        const paused = action.kind === 'restart' ? recoveryPause(step, action, journal) : undefined;
        store.batch(() => {
          store.finishAction(id, 'ok', JSON.stringify(result ?? {}), clock.now());
          store.addEvent({ runId, at: clock.now(), node: 'node' in action ? action.node : '', kind: 'control-plane', message: `${step.to}: ${describe(action)}: done` });
          if (paused) {
            store.setRunPhase(runId, 'paused', paused, clock.now());
            store.addEvent({ runId, at: clock.now(), node: 'node' in action ? action.node : '', kind: 'rolled-back', message: paused });
          }
        });
        if (paused) return { phase: 'paused', reason: paused };
      } catch (err) {
        if (err instanceof ReleaseUnhealthy) {
          // Journaled with the agent's error and run id; the next turn of the loop rolls it back.
          store.batch(() => {
            store.finishAction(id, 'error', JSON.stringify(err.failure), clock.now());
            store.addEvent({ runId, at: clock.now(), node: 'node' in action ? action.node : '', kind: 'control-plane', message: `${step.to}: ${describe(action)}: ${err.failure.reason}` });
          });
          deps.progress?.(`control plane ${step.to}: ${describe(action)}: ${err.failure.reason}; rolling it back through the agent`);
          continue;
        }
        const reason = err instanceof Pause ? err.message : isKipError(err) ? `${err.code}: ${err.message}` : String(err);
        const paused = `control plane ${step.to}: ${describe(action)}: ${reason}`;
        store.finishAction(id, 'error', JSON.stringify({ reason }), clock.now());
        return { phase: 'paused', reason: paused };
      }
    }
  } finally {
    endGate?.();
    await renewal.stop();
  }
}

/**
 * Keeps the cluster lock while a control-plane action runs (an apiserver wait or a hook may take
 * minutes, longer than the lock's TTL): renewed every third of the TTL; a failed renewal is
 * reported and the step pauses before its next action.
 */
function renewLock(runId: string, deps: ControlPlaneDeps, log: Logger): { lost: () => string | undefined; stop: () => Promise<void> } {
  const ttl = deps.lockTtlMs ?? 60_000;
  const ac = new AbortController();
  let lost: string | undefined;
  const loop = (async () => {
    while (!ac.signal.aborted) {
      await deps.clock.sleep(ttl / 3, ac.signal);
      if (ac.signal.aborted) return;
      try {
        await deps.cluster.lock.renew(runId, deps.clock.now());
      } catch (err) {
        // Someone else holds it or it was removed: stop. Anything else (the apiserver away for a
        // moment, expected during this step) is retried at the next renewal.
        if (err instanceof LockHeldError || err instanceof LockLostError) lost = err.message;
        else log.warn({ err }, 'could not renew the cluster lock; retrying');
      }
    }
  })();
  return { lost: () => lost, stop: async () => { ac.abort(); await loop; } };
}

interface ActionPayload {
  readonly cpStep: number;
  readonly attempt: number;
  /** For agent upgrades: the run id the agent knows this attempt by (fixed before the call). */
  readonly agentRunId?: string;
}

function payloadFor(runId: string, step: ControlPlaneStepSpec, action: CpAction, attempt: number): ActionPayload {
  if (action.kind === 'apiserver') return { cpStep: step.index, attempt, agentRunId: componentRunIdFor(runId, step.index, action.node, 'kube-apiserver', attempt) };
  if (action.kind === 'swap') return { cpStep: step.index, attempt, agentRunId: componentRunIdFor(runId, step.index, action.node, action.component, attempt) };
  return { cpStep: step.index, attempt };
}

function journalOf(runId: string, cpStep: number, deps: ControlPlaneDeps): Map<string, JournalEntry[]> {
  const out = new Map<string, JournalEntry[]>();
  for (const a of deps.store.actions(runId)) {
    const k = parseCpJournalKind(a.kind);
    if (!k || k.step !== cpStep) continue;
    const list = out.get(k.key) ?? [];
    list.push({ id: a.id, outcome: a.outcome, payload: a.payload, result: a.result });
    out.set(k.key, list);
  }
  return out;
}

export function describe(a: CpAction): string {
  switch (a.kind) {
    case 'baseline': return 'pod baseline for the post-checks';
    case 'etcd-snapshot': return `etcd snapshot through ${a.node}`;
    case 'hook': return `${a.when} hook ${a.index + 1} (${a.command})`;
    case 'hold': return `hold ${a.component} on ${a.node}`;
    case 'apiserver': return `kube-apiserver on ${a.node}`;
    case 'swap': return `swap ${a.component} on ${a.node} while held`;
    case 'kubelets': return `kubelet step ${a.step + 1}`;
    case 'tolerations': return 'not-ready/unreachable tolerations on every pod (TaintBasedEvictions is on from here)';
    case 'release': return `release ${a.component} on ${a.node}`;
    case 'post-checks': return 'post-checks';
    case 'rollback': return `roll back ${a.component} on ${a.node} (agent run ${a.agentRunId || '?'}) after its Release failed`;
    case 'restart': return `release the old ${a.component} on ${a.node}`;
  }
}

function recoveryPause(step: ControlPlaneStepSpec, action: Extract<CpAction, { kind: 'restart' }>, journal: ReadonlyMap<string, readonly JournalEntry[]>): string {
  const failed = (journal.get(`release:${action.node}:${action.component}`) ?? []).map(releaseFailureOf).filter((f) => f !== undefined).at(-1);
  const rolled = (journal.get(`rollback:${action.node}:${action.component}`) ?? []).filter((e) => e.outcome === 'ok').at(-1);
  return recoveryPauseReason(step.to, action.node, action.component, failed ?? { reason: 'Release failed', code: COMPONENT_UNHEALTHY }, rolled ? (JSON.parse(rolled.result) as RollbackResult) : undefined);
}

async function take(runId: string, spec: RunSpec, step: ControlPlaneStepSpec, action: CpAction, payload: ActionPayload, entry: { id: number; noted: string }, deps: ControlPlaneDeps, log: Logger): Promise<unknown> {
  const { cluster, clock } = deps;
  const agentOf = (node: string): AgentPort => {
    const a = deps.agents.get(node);
    if (!a) throw new Pause(`no agent known for ${node}: add it to --inventory`);
    return a;
  };
  const retrying = <T>(what: string, fn: () => Promise<T>): Promise<T> => retryApi(what, fn, spec.readyTimeoutMs, deps, log);
  switch (action.kind) {
    case 'baseline':
      return baselineOf(await retrying('list pods', () => cluster.pods()));
    case 'etcd-snapshot':
      return etcdSnapshot(runId, step, action.node, agentOf(action.node), entry, deps);
    case 'hook': {
      const r = await runHook(deps.exec, { when: action.when, command: action.command }, { runId, step: step.index, from: step.from, to: step.to }, spec.hookTimeoutMs ?? 300_000);
      if (!r.ok) throw new Pause(`the ${action.when} hook "${action.command}" ${r.detail}: fix it, then kip resume`);
      return { output: r.detail };
    }
    case 'hold':
      return agentOf(action.node).hold(action.component);
    case 'release': {
      try {
        return await agentOf(action.node).release(action.component);
      } catch (err) {
        if (isKipError(err) && err.code === COMPONENT_UNHEALTHY) {
          const swapped = swapRunIdOf(runId, step.index, action.node, action.component, deps);
          const named = typeof err.details.runId === 'string' && err.details.runId !== '' ? err.details.runId : swapped;
          throw new ReleaseUnhealthy({ reason: `${action.component} on ${action.node} did not run healthy after Release (${err.code}: ${err.message})`, code: err.code, message: err.message, ...(named ? { agentRunId: named } : {}) });
        }
        throw new Pause(`${action.component} on ${action.node} did not come back (${isKipError(err) ? `${err.code}: ${err.message}` : String(err)}): fix it, then kip resume releases it again (the agent verifies it again)`);
      }
    }
    case 'rollback': {
      if (!action.agentRunId) throw new Pause(`cannot roll back ${action.component} on ${action.node}: the journal names no agent run that swapped it; roll it back on the node`);
      const state = await agentOf(action.node).rollback(action.agentRunId);
      if (state.phase !== 'RUN_ROLLED_BACK') {
        throw new Pause(`the automatic rollback of ${action.component} on ${action.node} (agent run ${action.agentRunId}) ended ${state.phase}${state.errorCode ? ` ${state.errorCode}` : ''}${state.errorMessage ? `: ${state.errorMessage}` : ''}: the node needs an operator; kip resume tries the rollback again`);
      }
      return { agentRunId: action.agentRunId, phase: state.phase, fromVersion: state.fromVersion, toVersion: state.toVersion } satisfies RollbackResult;
    }
    case 'restart': {
      try {
        return await agentOf(action.node).release(action.component);
      } catch (err) {
        throw new Pause(`${action.component} on ${action.node} was rolled back but its old version did not start (${isKipError(err) ? `${err.code}: ${err.message}` : String(err)}): fix it on the node, then kip resume`);
      }
    }
    case 'apiserver':
    case 'swap': {
      const component: Component = action.kind === 'apiserver' ? 'kube-apiserver' : action.component;
      const agent = agentOf(action.node);
      const agentRunId = payload.agentRunId ?? componentRunIdFor(runId, step.index, action.node, component, payload.attempt);
      if (entry.noted === '' && deps.stage) {
        await deps.stage(action.node, agent, step.to, component);
      }
      deps.store.noteAction(entry.id, JSON.stringify({ agentRunId, started: true }));
      const res = await upgradeNode(action.node, { upgrade: (req) => agent.upgradeFollow(req) }, {
        runId: agentRunId, targetVersion: step.to, component, verifyTimeoutMs: spec.verifyTimeoutMs,
        allowDroppedFlags: [...spec.allowDroppedFlags], ...(component === 'kube-apiserver' ? { keepServedApis: [...(spec.keepServedApis ?? [])] } : {}),
      });
      if (res.outcome !== 'succeeded') throw new Pause(`agent run ${agentRunId} ${res.outcome}: ${res.errorCode}${res.message ? `: ${res.message}` : ''}`);
      if (action.kind === 'apiserver') await waitApiserver(step, action.node, spec, deps);
      return { agentRunId, downtimeMs: res.kubeletDowntimeMs ?? null };
    }
    case 'kubelets': {
      const out = await deps.runKubeletStep(action.step);
      if (out.phase === 'paused') throw new Pause(out.reason);
      return {};
    }
    case 'tolerations':
      return touchTolerations(runId, spec, deps, log);
    case 'post-checks': {
      const baseline = baselineFromJournal(runId, step.index, deps);
      const [pods, nodes] = await Promise.all([retrying('list pods', () => cluster.pods()), retrying('list nodes', () => cluster.nodes())]);
      const problems = postCheckProblems(baseline, pods, nodes);
      if (problems.length > 0) throw new Pause(`${problems.length} post-check${problems.length > 1 ? 's' : ''} failed: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? '; ...' : ''}`);
      return { ok: true };
    }
  }
}

/** Calls the apiserver, retrying with backoff for up to `forMs`; then the step pauses. */
async function retryApi<T>(what: string, fn: () => Promise<T>, forMs: number, deps: ControlPlaneDeps, log: Logger): Promise<T> {
  const until = deps.clock.now() + forMs;
  let wait = deps.pollMs ?? 500;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (deps.clock.now() + wait > until) throw new Pause(`the apiserver did not answer (${what}) for ${Math.round(forMs / 1000)} s: ${err instanceof Error ? err.message : String(err)}`);
      log.info({ err, what }, 'the apiserver did not answer; retrying');
      await deps.clock.sleep(wait, deps.signal);
      wait = Math.min(wait * 2, 8_000);
    }
  }
}

/**
 * A node's kube-apiserver is done when its health endpoint answers (/readyz from 1.16, which added
 * it: CHANGELOG-1.16 #81458; /healthz before) and /version reports the step's version.
 */
export async function waitApiserver(step: ControlPlaneStepSpec, node: string, spec: RunSpec, deps: ControlPlaneDeps): Promise<void> {
  const healthPath = parseMinor(step.to, 'control-plane version').minor >= 16 ? '/readyz' : '/healthz';
  const url = step.nodes.length > 1 ? step.nodes.find((n) => n.name === node)?.apiserverUrl || undefined : undefined;
  const until = deps.clock.now() + spec.readyTimeoutMs;
  let last = 'no answer yet';
  for (;;) {
    try {
      const s = await deps.cluster.apiserverStatus(url, healthPath);
      if (s.ready && s.version === step.to) return;
      last = `${healthPath} ${s.ready ? 'ok' : 'not ok'}, /version ${s.version || 'unknown'}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (deps.clock.now() > until) throw new Pause(`kube-apiserver on ${node} is not ready at ${step.to} within ${Math.round(spec.readyTimeoutMs / 1000)} s (${last})`);
    await deps.clock.sleep(deps.pollMs ?? 1_000, deps.signal);
  }
}

async function etcdSnapshot(runId: string, step: ControlPlaneStepSpec, node: string, agent: AgentPort, entry: { id: number; noted: string }, deps: ControlPlaneDeps): Promise<EtcdSnapshotRecord> {
  // A snapshot the agent took before a crash is fetched, not taken again (its id was noted).
  let info: EtcdSnapshotInfo;
  if (entry.noted) info = JSON.parse(entry.noted) as EtcdSnapshotInfo;
  else {
    info = await agent.etcdSnapshot();
    deps.store.noteAction(entry.id, JSON.stringify(info));
  }
  const dir = join(deps.stateDir, 'snapshots');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${runId}.cp${step.index}.${step.from}-${step.to}.${info.id}.db`);
  const record = { path, sizeBytes: info.sizeBytes, sha256: info.sha256, revision: info.revision, id: info.id, node };
  if (existsSync(path) && createHash('sha256').update(await readFile(path)).digest('hex') === info.sha256) return record;
  const tmp = `${path}.part`;
  const out = createWriteStream(tmp, { mode: 0o600 });
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of agent.fetchSnapshot(info.id)) {
      if (!chunk.data || chunk.data.length === 0) continue;
      hash.update(chunk.data);
      size += chunk.data.length;
      if (!out.write(chunk.data)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
  } catch (err) {
    out.destroy();
    rmSync(tmp, { force: true });
    throw err;
  }
  const sum = hash.digest('hex');
  if (sum !== info.sha256 || size !== info.sizeBytes) {
    rmSync(tmp, { force: true });
    throw new Pause(`the etcd snapshot ${info.id} fetched from ${node} does not verify (sha256 ${sum}, ${size} bytes; the agent said ${info.sha256}, ${info.sizeBytes} bytes)`);
  }
  renameSync(tmp, path);
  deps.store.addEvent({ runId, at: deps.clock.now(), node, kind: 'etcd-snapshot', message: `${path} (${info.sizeBytes} bytes, revision ${info.revision}, sha256 ${info.sha256})` });
  return record;
}

/** The agent run id of the last swap of a controller that finished ok (Rollback's argument). */
function swapRunIdOf(runId: string, cpStep: number, node: string, component: string, deps: ControlPlaneDeps): string | undefined {
  const swaps = journalOf(runId, cpStep, deps).get(`swap:${node}:${component}`) ?? [];
  const ok = swaps.filter((e) => e.outcome === 'ok').at(-1);
  return ok ? (JSON.parse(ok.result) as { agentRunId?: string }).agentRunId : undefined;
}

function baselineFromJournal(runId: string, cpStep: number, deps: ControlPlaneDeps): PodBaseline {
  const entry = journalOf(runId, cpStep, deps).get('baseline')?.find((e) => e.outcome === 'ok');
  return entry ? (JSON.parse(entry.result) as PodBaseline) : { pods: {} };
}

/** The etcd snapshots a run kept (for kip rollback and kip status). */
export function etcdSnapshotsOf(runId: string, deps: Pick<ControlPlaneDeps, 'store'>): EtcdSnapshotRecord[] {
  return deps.store.actions(runId).filter((a) => a.outcome === 'ok' && parseCpJournalKind(a.kind)?.key === 'etcd-snapshot').map((a) => JSON.parse(a.result) as EtcdSnapshotRecord);
}

async function touchTolerations(runId: string, spec: RunSpec, deps: ControlPlaneDeps, log: Logger): Promise<unknown> {
  const retrying = <T>(what: string, fn: () => Promise<T>): Promise<T> => retryApi(what, fn, spec.readyTimeoutMs, deps, log);
  const lacking = podsToTouch(await retrying('list pods', () => deps.cluster.pods()));
  const touched: string[] = [];
  for (const p of lacking) {
    const ns = p.metadata?.namespace ?? '';
    const name = p.metadata?.name ?? '';
    try {
      await retrying(`annotate pod ${ns}/${name}`, () => deps.cluster.annotatePod(ns, name, { [TOUCH_ANNOTATION]: `${runId}@${deps.clock.now()}` }));
      touched.push(podKey(p));
    } catch (err) {
      log.warn({ err, pod: podKey(p) }, 'could not touch the pod');
    }
  }
  const after = new Map((await retrying('list pods', () => deps.cluster.pods())).map((p) => [podKey(p), p]));
  const still = touched.filter((k) => {
    const p = after.get(k);
    return p !== undefined && lacksEvictionTolerations(p);
  });
  if (still.length > 0) {
    throw new Pause(`${still.length} pod${still.length > 1 ? 's' : ''} still lack the not-ready/unreachable NoExecute tolerations after an update (${still.slice(0, 5).join(', ')}${still.length > 5 ? ', ...' : ''}): the DefaultTolerationSeconds admission plugin is off. The controllers stay held: enable it (--enable-admission-plugins=...,DefaultTolerationSeconds) or add the tolerations, then kip resume`);
  }
  deps.store.addEvent({ runId, at: deps.clock.now(), node: '', kind: 'tolerations', message: `${touched.length} pod${touched.length === 1 ? '' : 's'} touched; every one carries the not-ready/unreachable tolerations` });
  return { touched: touched.length };
}
