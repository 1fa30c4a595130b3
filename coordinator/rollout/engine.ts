/**
 * The engine of the kubelet steps of a run: drives the pure scheduler over the agents, journals
 * every action before it is taken and its outcome after (coordinator/store), and resumes a run
 * that was paused or interrupted (kill -9 included) without redoing finished nodes and without
 * starting a second agent run on a node: an interrupted node is re-attached with its recorded
 * agent run id (the agent replays and follows, it never re-executes a step).
 *
 * A node is done when its agent run succeeded, the Node is Ready with the new kubeletVersion, and
 * none of its containers restarted and none of its pods went away (the container inventory from
 * the API before and after the node). Anything else pauses the run with the reason.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { wakeableSleep, type Clock } from '../../lib/clock.ts';
import { isKipError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/logger.ts';
import type { AgentPort } from '../fleet/port.ts';
import type { ClusterApi } from '../ports.ts';
import type { NodeRecord, RunStore } from '../store/store.ts';
import { restartedBetween, settled, snapshotOf, type ContainerSnapshot } from './inventory.ts';
import { upgradeNode } from './node-upgrade.ts';
import { decide, initialState, markFailed, markStarted, markSucceeded, markSwapped, pause, type SchedulerState } from './scheduler.ts';
import { sequenceOf, type KubeletStepSpec, type RunSpec } from './spec.ts';
import type { Component } from '../stage/releases.ts';
import type { WatchGates } from './watch-gate.ts';
import { lookConnections, type ConnectionLook } from '../eyes/step-connections.ts';
import { isReady, type ClusterView } from './cluster-view.ts';
import { pollingView } from './polling-view.ts';

export const ANNOTATION_RUN = 'kip.io/run';
export const ANNOTATION_STEP = 'kip.io/step';
export const ANNOTATION_STATE = 'kip.io/state';
export const ACTION_KUBELET = 'kubelet-upgrade';

export interface EngineDeps {
  readonly store: RunStore;
  readonly cluster: ClusterApi;
  readonly agents: ReadonlyMap<string, AgentPort>;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Stages a component (default the kubelet) on a node before its upgrade (idempotent), when the run has releases. */
  readonly stage?: (node: string, agent: AgentPort, version: string, component?: Component) => Promise<void>;
  /** The Watch-stream gates (./watch-gate.ts), started by the caller; absent: the inventory gate only. */
  readonly gates?: WatchGates;
  /** Runs a control-plane step (./control-plane.ts wired by the caller); a run with control-plane steps needs it. */
  readonly controlPlaneStep?: (index: number, runKubeletStep: (step: number) => Promise<RunOutcome>) => Promise<RunOutcome>;
  /**
   * What the engine reads of Nodes and Pods: the list + watch cache during `kip upgrade`/`kip
   * resume` (coordinator/cluster-cache.ts); absent, a view that lists from `cluster` every time.
   */
  readonly view?: ClusterView;
  /** How often a wait with nothing to wake it looks again (default 1 s), and how long a node's pods must stay unchanged in its last look. */
  readonly pollMs?: number;
  /** The lock is renewed at a third of this. */
  readonly lockTtlMs?: number;
  /** Aborting pauses the run: no new node starts, running ones finish. */
  readonly signal?: AbortSignal;
  /** Progress lines for the operator. */
  readonly progress?: (line: string) => void;
}

export type RunOutcome = { readonly phase: 'succeeded' } | { readonly phase: 'paused'; readonly reason: string };

interface NodeOutcome {
  readonly node: string;
  readonly ok: boolean;
  readonly reason: string;
  readonly downtimeMs: number | undefined;
  /** Containers on the node that restarted or went away (the inventory gate), once it was looked at; kip report sets it against the prediction. */
  readonly restarted?: number;
  /** The kubelet's apiserver connections once the node was done (GetNode). */
  readonly connections?: ConnectionLook | undefined;
}

/** How long a connection look (GetNode) may hold up a node's start or finish. */
const CONNECTION_LOOK_MS = 5_000;

type Snap = Record<string, { id: string; restartCount: number; node: string }>;
const toSnap = (s: ContainerSnapshot): Snap => Object.fromEntries(s.containers);
const fromSnap = (s: Snap): ContainerSnapshot => ({ containers: new Map(Object.entries(s)) });

const running = (pods: readonly V1Pod[]): V1Pod[] => pods.filter((p) => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed');

export function agentRunIdFor(runId: string, step: number, node: string, attempt: number): string {
  return `${runId}.s${step}.${node}.a${attempt}`;
}

export async function runEngine(runId: string, spec: RunSpec, deps: EngineDeps): Promise<RunOutcome> {
  const { store, clock } = deps;
  const log = deps.logger.child({ runId });
  store.setRunPhase(runId, 'running', '', clock.now());
  const kubeletStep = (index: number): Promise<RunOutcome> => {
    const step = spec.steps.find((s) => s.index === index);
    if (!step) return Promise.resolve({ phase: 'paused', reason: `the run has no kubelet step ${index}` });
    return runStep(runId, spec, step, deps, log);
  };
  for (const item of sequenceOf(spec)) {
    let out: RunOutcome;
    if (item.kind === 'kubelets') out = await kubeletStep(item.step);
    else if (!deps.controlPlaneStep) out = { phase: 'paused', reason: 'this run has control-plane steps and no control-plane engine was wired' };
    else out = await deps.controlPlaneStep(item.step, kubeletStep);
    if (out.phase === 'paused') {
      // The phase and its event in one commit (one durable write at the run's end, not two).
      store.batch(() => {
        store.setRunPhase(runId, 'paused', out.reason, clock.now());
        store.addEvent({ runId, at: clock.now(), node: '', kind: 'paused', message: out.reason });
      });
      return out;
    }
  }
  store.batch(() => {
    store.setRunPhase(runId, 'succeeded', '', clock.now());
    store.addEvent({ runId, at: clock.now(), node: '', kind: 'succeeded', message: `${spec.controlPlane?.length ? 'the control plane and ' : ''}every kubelet run${spec.controlPlane?.length ? '' : 's'} ${spec.target}` });
  });
  await deps.cluster.lock.release(runId).catch((err: unknown) => log.warn({ err }, 'could not release the lock; it expires by itself'));
  return { phase: 'succeeded' };
}

async function runStep(runId: string, spec: RunSpec, step: KubeletStepSpec, deps: EngineDeps, log: Logger): Promise<RunOutcome> {
  const { store, clock, cluster } = deps;
  const pollMs = deps.pollMs ?? 1_000;
  const view = deps.view ?? pollingView(cluster, clock, pollMs);
  const lockTtlMs = deps.lockTtlMs ?? 60_000;
  const journalLagMs = Math.max(pollMs, 1_000);
  const config = { maxConcurrency: spec.maxConcurrency, maxUnavailable: spec.maxUnavailable, nodeTimeoutMs: spec.nodeTimeoutMs };
  const from = new Map(step.nodes.map((n) => [n.name, n.from]));
  let s: SchedulerState = initialState(step.nodes, spec.canary);
  const records = new Map(store.nodes(runId).filter((r) => r.step === step.index).map((r) => [r.node, r]));
  const open = new Map(store.openActions(runId).filter((a) => a.kind === ACTION_KUBELET).map((a) => [a.node, a]));
  const tasks = new Map<string, Promise<void>>();
  const finished: NodeOutcome[] = [];
  // Nodes whose kubelet swap is over (agent run done, Node Ready with the new kubelet): their
  // --max-concurrency slot is free while the last look (containers settled) goes on.
  const swapped: string[] = [];
  // Outcomes not yet journaled: the main loop writes them in one commit with the nodes it starts
  // next (see `flush` below for when it writes them without a start).
  const unjournaled: (() => void)[] = [];
  let unjournaledSince = 0;
  // The round's wait, ended early by a node event (no AbortController per round: its Event
  // dispatch was a visible share of the engine's CPU per node in the scheduling bench).
  let wait: { wake(): void } | undefined;
  // NotReady nodes at the last round (a swap wakes the loop only when --max-unavailable may bind).
  let notReadySeen = 0;
  // Set by a wake-up during a round, so one that comes before the round's sleep is not lost.
  let woken = false;
  const wakeUp = (): void => {
    woken = true;
    wait?.wake();
  };
  const offTrip = deps.gates?.onTrip(wakeUp);
  // A node that went Ready again may let the next one start (--max-unavailable).
  const offNotReady = view.onNotReadyChange(wakeUp);

  // This step's node records, kept in memory (the store is written through, never re-read per node).
  const current = new Map(records);
  const record = (node: string, patch: Partial<NodeRecord>): NodeRecord => {
    const prev = current.get(node);
    const rec: NodeRecord = {
      runId, step: step.index, node, from: from.get(node) ?? '', to: step.to, phase: 'pending', agentRunId: '', attempt: 0,
      startedAt: null, finishedAt: null, downtimeMs: null, error: '', ...(prev ?? {}), ...patch,
    };
    store.putNode(rec);
    current.set(node, rec);
    return rec;
  };
  // Visible with kubectl (annotations and Events on the Node); best effort: the journal is the record.
  const annotate = (node: string, state: string, message = ''): void => {
    cluster.annotateNode(node, { [ANNOTATION_RUN]: runId, [ANNOTATION_STEP]: step.to, [ANNOTATION_STATE]: state })
      .catch((err: unknown) => log.warn({ err, node }, 'could not annotate the Node'));
    const reason = state === 'upgrading' ? 'KipUpgradeStarted' : state === 'succeeded' ? 'KipUpgradeSucceeded' : 'KipUpgradeFailed';
    cluster.nodeEvent(node, state === 'failed' ? 'Warning' : 'Normal', reason, `run ${runId}: kubelet ${step.to}${message ? `: ${message}` : ''}`)
      .catch((err: unknown) => log.warn({ err, node }, 'could not record an Event on the Node'));
  };

  /**
   * Stage the node's binary before its agent run. Re-attached after a crash, the node's action may
   * have been journaled before its binary was staged: stage it unless the agent already knows the
   * run (it then has, or had, its binary; staging again could be refused as in use).
   */
  const stageFor = async (node: string, agent: AgentPort, runIdOnAgent: string, reattach: boolean, component?: Component): Promise<void> => {
    if (!deps.stage) return;
    if (reattach) {
      try {
        await agent.getRun(runIdOnAgent);
        return;
      } catch (err) {
        if (!(isKipError(err) && err.code === 'RUN_NOT_FOUND')) throw err;
      }
    }
    await deps.stage(node, agent, step.to, component);
  };

  const launch = (node: string, agentRunId: string, actionId: number, before: ContainerSnapshot, reattach: boolean): void => {
    const agent = deps.agents.get(node);
    // The Watch gate counts events while this node is in flight.
    const endGate = deps.gates?.activate(node);
    const task = (async (): Promise<NodeOutcome> => {
      if (!agent) return { node, ok: false, reason: `no agent known for node ${node}`, downtimeMs: undefined };
      await stageFor(node, agent, agentRunId, reattach);
      const res = await upgradeNode(node, { upgrade: (req) => agent.upgradeFollow(req) }, {
        runId: agentRunId, targetVersion: step.to, verifyTimeoutMs: spec.verifyTimeoutMs, allowUnpatched: spec.allowUnpatched, allowDroppedFlags: [...spec.allowDroppedFlags],
      });
      if (res.outcome !== 'succeeded') return { node, ok: false, reason: `agent run ${agentRunId} ${res.outcome}: ${res.errorCode}${res.message ? `: ${res.message}` : ''}`, downtimeMs: res.kubeletDowntimeMs };
      // kube-proxy where the node runs it as a component: right after its kubelet (a fixed run id
      // derived from the kubelet's, so a re-attached node re-attaches to it too).
      if (step.kubeProxyNodes?.includes(node)) {
        const proxyRunId = `${agentRunId}.kube-proxy`;
        await stageFor(node, agent, proxyRunId, reattach, 'kube-proxy');
        const proxy = await upgradeNode(node, { upgrade: (req) => agent.upgradeFollow(req) }, { runId: proxyRunId, targetVersion: step.to, component: 'kube-proxy', verifyTimeoutMs: spec.verifyTimeoutMs, allowDroppedFlags: [...spec.allowDroppedFlags] });
        if (proxy.outcome !== 'succeeded') return { node, ok: false, reason: `kube-proxy: agent run ${proxyRunId} ${proxy.outcome}: ${proxy.errorCode}${proxy.message ? `: ${proxy.message}` : ''}`, downtimeMs: res.kubeletDowntimeMs };
      }
      const readyBy = clock.now() + spec.readyTimeoutMs;
      // Ready with the new kubelet: woken by the Node's own watch event (a poll without a cache).
      let readySince: number;
      for (;;) {
        const look = view.live() ? await view.node(node) : undefined;
        const n = look?.node;
        if (look && n && isReady(n) && n.status?.nodeInfo?.kubeletVersion === step.to) {
          readySince = look.since;
          break;
        }
        if (clock.now() > readyBy) return { node, ok: false, reason: `Node ${node} is not Ready with kubelet ${step.to} within ${Math.round(spec.readyTimeoutMs / 1000)} s (kubelet ${n?.status?.nodeInfo?.kubeletVersion ?? 'unknown'}, ${n && isReady(n) ? 'Ready' : 'NotReady'}${look ? '' : ', the cluster cache not watching'})`, downtimeMs: res.kubeletDowntimeMs };
        await view.changed(node, pollMs);
      }
      // The swap is over (see scheduler.ts: the node keeps its --max-concurrency slot through the
      // look below and no longer counts against --max-unavailable).
      swapped.push(node);
      // A round for it only when it can let a node start: when --max-unavailable, not the slots,
      // may be what holds the next one back (the node keeps its slot; a round per swap was half
      // the engine's rounds in the scheduling bench).
      if (spec.maxUnavailable < spec.maxConcurrency + notReadySeen) wakeUp();
      // The pods on the node settled: every one Running with all containers reported, and nothing
      // of them nor of the Node's readiness changed for a poll (pollMs). That quiet time catches a
      // container that restarts right after the new kubelet's first sync. It runs from the later of
      // the last change the view saw to the pods and the new kubelet's Node first seen Ready, not
      // from this look: a watch knows when things changed, so a kubelet that has been Ready and
      // quiet for a while (an agent run ends with the new kubelet stable for its stableMs, 10 s by
      // default) passes at once, and a change restarts the wait. A poll knows only its own looks:
      // two looks a poll apart that agree, as before.
      let after: ContainerSnapshot;
      for (;;) {
        const look = view.live() ? (await view.podsOn([node])).get(node) : undefined;
        const pods = running(look?.pods ?? []);
        after = snapshotOf(pods);
        const quietFor = look ? clock.now() - Math.max(look.since, readySince) : 0;
        if (look && settled(pods) && quietFor >= pollMs) break;
        if (clock.now() > readyBy) break;
        await view.changed(node, look && settled(pods) ? Math.max(1, pollMs - quietFor) : pollMs);
      }
      const { restarted, gone } = restartedBetween(before, after);
      // The kubelet's apiserver connections after its step, beside the look before it (issue 11).
      const connections = await lookConnections(agent, clock, CONNECTION_LOOK_MS);
      if (restarted.length + gone.length > 0) {
        const what = [...restarted.map((c) => `${c} restarted`), ...gone.map((c) => `${c} gone`)];
        store.addEvent({ runId, at: clock.now(), node, kind: 'gate', message: what.join('; ') });
        return { node, ok: false, reason: `${what.length} container${what.length > 1 ? 's' : ''} on ${node} restarted or went away: ${what.slice(0, 5).join(', ')}${what.length > 5 ? ', ...' : ''}`, downtimeMs: res.kubeletDowntimeMs, restarted: what.length, connections };
      }
      return { node, ok: true, reason: '', downtimeMs: res.kubeletDowntimeMs, restarted: 0, connections };
    })().catch((err: unknown): NodeOutcome => ({ node, ok: false, reason: isKipError(err) ? `${err.code}: ${err.message}` : String(err), downtimeMs: undefined }))
      .then((outcome) => {
        // Outcome after the fact: the node record first, then the action (a crash in between is
        // recovered from the node record on resume). Journaled by the main loop's next commit; a
        // crash before it leaves the action open, and resume re-attaches (the agent replays).
        const finishedAt = clock.now();
        if (unjournaled.length === 0) unjournaledSince = finishedAt;
        unjournaled.push(() => {
          record(node, { phase: outcome.ok ? 'succeeded' : 'failed', finishedAt, downtimeMs: outcome.downtimeMs ?? null, error: outcome.reason });
          if (outcome.connections) store.recordConnections({ runId, step: step.index, node, when: 'after', at: finishedAt, ...outcome.connections });
          const { connections: _looked, ...journaled } = outcome;
          store.finishAction(actionId, outcome.ok ? 'ok' : 'error', JSON.stringify(journaled), finishedAt);
          store.addEvent({ runId, at: finishedAt, node, kind: outcome.ok ? 'node-succeeded' : 'node-failed', message: outcome.ok ? `kubelet ${step.to}` : outcome.reason });
        });
        annotate(node, outcome.ok ? 'succeeded' : 'failed', outcome.reason);
        deps.progress?.(`${node}: ${outcome.ok ? `kubelet ${step.to}` : `FAILED: ${outcome.reason}`}`);
        endGate?.();
        finished.push(outcome);
        tasks.delete(node);
        wakeUp();
      });
    tasks.set(node, task);
  };

  /** Journals the start (inside the caller's commit) and returns the launch, to run once committed. */
  const start = (node: string, before: ContainerSnapshot): (() => void) => {
    const prev = records.get(node);
    const attempt = (prev?.attempt ?? 0) + 1;
    const agentRunId = agentRunIdFor(runId, step.index, node, attempt);
    // Journal first: a coordinator killed after this line re-attaches to this agent run id.
    const actionId = store.batch(() => {
      const id = store.beginAction({ runId, kind: ACTION_KUBELET, node, payload: JSON.stringify({ step: step.index, to: step.to, agentRunId, attempt, before: toSnap(before) }), at: clock.now() });
      record(node, { phase: 'upgrading', agentRunId, attempt, startedAt: clock.now(), finishedAt: null, error: '' });
      return id;
    });
    return () => {
      annotate(node, 'upgrading');
      deps.progress?.(`${node}: kubelet ${from.get(node)} -> ${step.to} (agent run ${agentRunId})`);
      launch(node, agentRunId, actionId, before, false);
    };
  };

  // Resume: finished nodes stay finished, interrupted ones are re-attached, failed ones retried.
  for (const node of s.order) {
    const rec = records.get(node);
    const action = open.get(node);
    if (rec?.phase === 'succeeded') {
      s = markSucceeded(markStarted(s, node, rec.startedAt ?? clock.now()), node);
      if (action) store.finishAction(action.id, 'ok', JSON.stringify({ recovered: true }), clock.now());
    } else if (action) {
      const payload = JSON.parse(action.payload) as { step: number; agentRunId: string; attempt: number; before: Snap };
      if (payload.step !== step.index) continue;
      s = markStarted(s, node, clock.now());
      // Killed between the journal entry and the node record: the record catches up from the entry.
      record(node, { phase: 'upgrading', agentRunId: payload.agentRunId, attempt: payload.attempt, startedAt: rec?.startedAt ?? action.begunAt });
      deps.progress?.(`${node}: re-attaching to agent run ${payload.agentRunId}`);
      store.addEvent({ runId, at: clock.now(), node, kind: 'reattach', message: payload.agentRunId });
      launch(node, payload.agentRunId, action.id, fromSnap(payload.before), true);
    }
  }

  let lockRenewedAt = clock.now();
  for (;;) {
    woken = false;
    for (const n of swapped.splice(0)) s = markSwapped(s, n);
    for (const o of finished.splice(0)) s = o.ok ? markSucceeded(s, o.node) : markFailed(s, o.node, o.reason);
    if (deps.signal?.aborted) s = pause(s, 'interrupted by the operator');
    const gate = deps.gates?.tripped();
    if (gate && !s.paused) {
      s = pause(s, gate);
      deps.progress?.(`pausing: ${gate}${tasks.size > 0 ? ` (waiting for ${tasks.size} node${tasks.size > 1 ? 's' : ''} in flight)` : ''}`);
    }
    if (!s.paused && clock.now() - lockRenewedAt > lockTtlMs / 3) {
      try {
        await cluster.lock.renew(runId, clock.now());
        lockRenewedAt = clock.now();
      } catch (err) {
        s = pause(s, `lost the cluster lock: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    let notReady: ReadonlySet<string> | undefined;
    try {
      notReady = await view.notReady();
      notReadySeen = notReady.size;
    } catch (err) {
      // The apiserver away for a moment: start nothing this round.
      log.warn({ err }, 'cannot list nodes; no node starts until it answers');
    }
    const d = notReady ? decide(s, { notReady }, clock.now(), config) : { start: [], pause: undefined, inFlight: tasks.size, finished: false };
    if (d.pause) {
      s = pause(s, d.pause);
      deps.progress?.(`pausing: ${d.pause}${tasks.size > 0 ? ` (waiting for ${tasks.size} node${tasks.size > 1 ? 's' : ''} in flight)` : ''}`);
    }
    // One durable commit per round that starts nodes: the outcomes since the last one, then every
    // node this round starts, each journaled before any is launched; one pod list for all of them.
    let pods: ReadonlyMap<string, { readonly pods: readonly V1Pod[] }> | undefined;
    if (d.start.length > 0) {
      try {
        pods = await view.podsOn(d.start);
      } catch (err) {
        log.warn({ err }, 'cannot list the pods; no node starts until the apiserver answers');
      }
    }
    const starting = pods ? d.start : [];
    // Each starting kubelet's apiserver connections, looked at before it is touched: the baseline
    // a step that multiplies them is measured against (kubernetes PR #95427, fixed by #105490).
    const looks = starting.length > 0 ? await Promise.all(starting.map((n) => lookConnections(deps.agents.get(n), clock, CONNECTION_LOOK_MS))) : [];
    const launches: (() => void)[] = [];
    // Outcomes ride on the next start's commit (a node's slot is freed at its swap, so its outcome
    // comes a look later, between starts). Written on their own when nothing starts soon: the step
    // finished, nothing is in flight, the run pauses, or the oldest waited journalLagMs (kip status
    // reads the store). Unwritten, an outcome is redone safely: the action stays open and resume
    // re-attaches to the same agent run id (the agent replays) and looks again with the journaled
    // `before` inventory, so a restart found once is found again.
    const flush = unjournaled.length > 0 && (d.finished || tasks.size === 0 || s.paused !== undefined || clock.now() - unjournaledSince >= journalLagMs);
    if (starting.length > 0 || flush) {
      store.batch(() => {
        for (const j of unjournaled.splice(0)) j();
        starting.forEach((node, i) => {
          s = markStarted(s, node, clock.now());
          launches.push(start(node, snapshotOf(running(pods?.get(node)?.pods ?? []))));
          const look = looks[i];
          if (look) store.recordConnections({ runId, step: step.index, node, when: 'before', at: clock.now(), ...look });
        });
      });
    }
    for (const l of launches) l();
    if (d.finished) {
      offTrip?.();
      offNotReady();
      return { phase: 'succeeded' };
    }
    if (s.paused && tasks.size === 0) {
      offTrip?.();
      offNotReady();
      return { phase: 'paused', reason: s.paused };
    }
    if (!woken && finished.length + swapped.length === 0) {
      const w = wakeableSleep(clock, pollMs);
      wait = w;
      await w.done;
      wait = undefined;
    }
    // Woken by a node event: let the other events already due (timers, streams ending in this turn
    // of the event loop) land first, so one round (one node list, one commit) takes them all. On a
    // loaded machine the process runs late and many are due at once; a round per event made the
    // engine's CPU per node the bottleneck. Not a delay: setImmediate runs in this same turn.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
