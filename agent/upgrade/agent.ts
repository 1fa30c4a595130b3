/**
 * The node upgrade agent: begins runs, re-attaches callers, rolls back, and recovers an
 * interrupted run at start-up. The step loop is machine.ts, the step bodies steps/, the checks
 * before a run run-checks.ts, Rollback's checks rollback-check.ts, the step context
 * run-context.ts, Release's verification release-verify.ts, the node's view of itself node-view.ts.
 *
 * Each step of a run is journaled (atomically) to the run's state file BEFORE it acts, and every
 * step is safe to repeat: after a crash the agent re-runs the journaled step and continues (or
 * rolls back, per `recovery`). A failed step after the first change rolls back automatically:
 * old binary, old flags, old skip file, restart, verify the old kubelet.
 */
import path from 'node:path';
import type { Logger } from '../../lib/logger.ts';
import { isComponentSpec, kubeletComponent, type ComponentSpec } from './component.ts';
import { resolveComponent } from './component-runs.ts';
import { isUnverifiedHeldSwap, verifyReleasedPlain, verifyReleasedRun } from './release-verify.ts';
import { rollbackDecision } from './rollback-check.ts';
import { stepContext } from './run-context.ts';
import { stagedComponent } from './stage.ts';
import type { StepContext } from './steps/index.ts';
import type { UpgradeAgentConfig, UpgradeAgentDeps } from './config.ts';
import { Codes, InvalidInputError, PreconditionError } from './errors.ts';
import { Machine } from './machine.ts';
import { claimedError, NodeClaim, RUN_KINDS, type Claim } from './node-claim.ts';
import { NodeView } from './node-view.ts';
import type { PreflightOptions } from './preflight.ts';
import { checkComponent, checkKubelet, type ComponentChecks, type RunChecksEnv } from './run-checks.ts';
import { recoverRuns, removeStaleTemps, unfinishedRuns, type RecoveryEnv } from './recovery.ts';
import { RunLog } from './run-log.ts';
import { validateRunId } from './runstore.ts';
import { KEEP_SERVED_APIS_REFUSED } from './control-flags.ts';
import { assertSameRun, newRunRecord, runOptions } from './run-record.ts';
import { isTerminal, type NodeInfo, type PreflightReport, type RunRecord, type SkipFileInfo, type StepEvent } from './types.ts';

export type { UpgradeAgentConfig, UpgradeAgentDeps } from './config.ts';
export type { PreflightOptions } from './preflight.ts';

export interface UpgradeRequest {
  readonly runId: string;
  readonly targetVersion: string;
  readonly verifyTimeoutMs?: number;
  readonly allowDroppedFlags?: readonly string[];
  readonly allowUnpatched?: boolean;
  /** '' or absent = kubelet. */
  readonly component?: string;
  /** kube-apiserver 1.16/1.17: API group/versions kept served through --runtime-config. */
  readonly keepServedApis?: readonly string[];
}

export class UpgradeAgent {
  private readonly log: RunLog;
  private readonly component: ComponentSpec;
  private readonly machine: Machine;
  private readonly view: NodeView;
  private readonly logger: Logger;
  /**
   * The node's one mutating claim (node-claim.ts): a run holds it from the first check of begin()
   * (or rollback, or recovery) until it is terminal; Heal, Hold, Release and RemoveStaged take the
   * same claim, so none of them can overlap a run or each other.
   */
  readonly claim: NodeClaim;
  private driving: Promise<void> = Promise.resolve();
  /** Begin calls in flight by run id: a second call for the same id waits for the first. */
  private readonly beginning = new Map<string, Promise<RunRecord>>();

  constructor(
    private readonly config: UpgradeAgentConfig,
    private readonly deps: UpgradeAgentDeps,
  ) {
    this.logger = deps.logger.child({ component: 'upgrade' });
    this.log = new RunLog(deps.fs, config.stateDir, deps.clock);
    this.component = kubeletComponent(config);
    const host = (p: string): string => this.host(p);
    this.machine = new Machine(this.log, deps, (rec) => this.contextFor(rec), config.journalLines, this.logger);
    this.view = new NodeView(config, this.component, deps, this.log, host);
    this.claim = deps.claim ?? new NodeClaim({ fs: deps.fs, stateDir: config.stateDir, clock: deps.clock, logger: deps.logger });
  }

  /** The run holding the node claim, if a run holds it. */
  private get activeRunId(): string | undefined {
    const h = this.claim.holder;
    return h && RUN_KINDS.has(h.kind) ? h.id : undefined;
  }

  /** The spec a run acts on: the one journaled with it, else (runs of older agents) the kubelet. */
  private specOf(rec: RunRecord): ComponentSpec {
    return isComponentSpec(rec.spec) ? rec.spec : this.component;
  }

  /** What a step body of `rec` gets: its component, and whether that component is held now. */
  contextFor(rec: RunRecord): StepContext {
    return this.contextForSpec(this.specOf(rec), rec.runId);
  }

  private contextForSpec(spec: ComponentSpec, runId?: string): StepContext {
    return stepContext({ config: this.config, deps: this.deps, runs: this.log.store, host: (p) => this.host(p), logger: this.logger }, spec, runId);
  }

  /** A node path as this process sees it. */
  private host(nodePath: string): string {
    return this.config.rootPrefix ? path.join(this.config.rootPrefix, nodePath) : nodePath;
  }

  /** Resolves when the run being driven (if any) has reached a terminal phase. */
  whenIdle(): Promise<void> {
    return this.driving;
  }

  /** True while this process drives or reserves a run. The consistency loop looks at `claim.holder` (anything mutating the node). */
  runInProgress(): boolean {
    return this.activeRunId !== undefined;
  }

  /**
   * Removes the skip file (unlink, then fsync of its directory). Refused during a run. A crash
   * around it needs no recovery: the file is either there (the consistency loop decides again)
   * or gone.
   */
  async removeSkipFile(): Promise<void> {
    await this.assertNoActiveRun();
    const skipFile = this.component.skipFile;
    if (skipFile === undefined) return;
    const file = this.host(skipFile);
    this.logger.info({ path: skipFile }, 'removing the skip file: every running container carries the running kubelet\'s hash');
    await this.deps.fs.remove(file);
    await this.deps.fs.fsyncDir(path.dirname(file));
  }

  /** Start-up: create the state dir, clean stale temp files, and finish every interrupted run (recovery.ts). */
  async start(): Promise<void> {
    try {
      await this.log.store.init();
    } catch (err) {
      this.logger.error({ err }, 'cannot create the state directory; interrupted runs are reported, not driven');
    }
    await this.claim.recover();
    let claim: Claim | undefined;
    const env: RecoveryEnv = {
      log: this.log,
      machine: this.machine,
      logger: this.logger,
      fs: this.deps.fs,
      recovery: this.config.recovery,
      binary: this.host(this.component.binary),
      hold: (runId) => claim?.retitle('recovery', runId),
    };
    await removeStaleTemps(env);
    const unfinished = await unfinishedRuns(env);
    if (unfinished.length === 0) return;
    // Claimed now, so that no Upgrade (or Heal, Hold, ...) starts before recovery is over. Recovery
    // drives runs whose own journals say what to do: a claim journal that cannot be written does
    // not stop it (the claim is held in memory all the same).
    const held = this.claim.take('recovery', unfinished[0]!.runId);
    claim = held;
    held.journaled.catch((err: unknown) => this.logger.warn({ err }, 'the node claim journal could not be written; recovering anyway'));
    this.driving = recoverRuns(env, unfinished).finally(() => held.release());
  }


  // ---------------------------------------------------------------- node view

  skipFileInfo(): Promise<SkipFileInfo> {
    return this.view.skipFileInfo();
  }

  nodeInfo(): Promise<NodeInfo> {
    return this.view.nodeInfo();
  }

  async preflight(target: string, opts: PreflightOptions & { component?: string; keepServedApis?: readonly string[] } = {}): Promise<PreflightReport> {
    if (stagedComponent(opts.component) !== 'kubelet') return (await checkComponent(this.checks(), opts.component ?? '', target, opts)).report;
    return (await checkKubelet(this.checks(), target, opts)).report;
  }

  private checks(): RunChecksEnv {
    return { config: this.config, deps: this.deps, kubelet: this.component, host: (p) => this.host(p), skipFileInfo: () => this.view.skipFileInfo(), assertNoActiveRun: (except) => this.assertNoActiveRun(except) };
  }

  private async assertNoActiveRun(exceptRunId?: string): Promise<void> {
    const holder = this.claim.holder;
    if (holder && !(RUN_KINDS.has(holder.kind) && holder.id === exceptRunId)) throw claimedError(holder);
    const id = await this.log.store.currentId();
    const rec = id ? await this.log.find(id) : undefined;
    if (rec && !isTerminal(rec.phase) && rec.runId !== exceptRunId) {
      throw new PreconditionError(Codes.RUN_IN_PROGRESS, `run ${rec.runId} is in progress on this node`, { runId: rec.runId });
    }
  }

  // ---------------------------------------------------------------- runs

  /** Every run journaled on this node. */
  private async allRuns(): Promise<RunRecord[]> {
    const out: RunRecord[] = [];
    for (const id of await this.log.store.listIds()) {
      const r = await this.log.store.load(id);
      if (r) out.push(r);
    }
    return out;
  }

  getRun(runId?: string): Promise<RunRecord> {
    return this.log.get(runId);
  }

  /**
   * Starts the run, or returns the existing record when this run id is known (re-attach: the
   * caller then follows `events`). Throws before changing anything when a check fails.
   *
   * The one-run check and the claim are one step: the claim is taken synchronously, before the
   * first await, so two calls in one tick cannot both pass (issue 8, defects 4 and 10). A second
   * call for a run id that is being begun waits for the first and gets its answer: one driver.
   */
  begin(req: UpgradeRequest): Promise<RunRecord> {
    try {
      validateRunId(req.runId);
    } catch (err) {
      return Promise.reject(err);
    }
    const pending = this.beginning.get(req.runId);
    if (pending) return pending.then((rec) => assertSameRun(rec, req));
    const known = this.log.cached(req.runId);
    if (known) {
      try {
        return Promise.resolve(assertSameRun(known, req));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    // The node claim is taken here, synchronously: a concurrent Heal, Hold, Release or begin of
    // another id finds it held. Not taken: refused below unless this id is the holder's (re-attach).
    let claim: Claim | undefined;
    try {
      claim = this.claim.take('upgrade', req.runId);
    } catch {
      claim = undefined;
    }
    const p = this.beginClaimed(req, claim);
    this.beginning.set(req.runId, p);
    const forget = (): void => {
      this.beginning.delete(req.runId);
    };
    p.then(forget, forget);
    return p;
  }

  private async beginClaimed(req: UpgradeRequest, claim: Claim | undefined): Promise<RunRecord> {
    let started = false;
    try {
      const existing = await this.log.find(req.runId);
      if (existing) return assertSameRun(existing, req);
      if (!claim) {
        const holder = this.claim.holder;
        throw holder ? claimedError(holder) : new PreconditionError(Codes.RUN_IN_PROGRESS, 'another call held the node when this one began: retry', { runId: req.runId });
      }
      await claim.journaled;
      // A run of an earlier process that recovery has not finished (journaled, not terminal).
      await this.assertNoActiveRun(req.runId);
      const name = stagedComponent(req.component);
      const options = runOptions(req, this.config.verifyTimeoutMs);
      let other: ComponentChecks | undefined;
      if (name !== 'kubelet') other = await checkComponent(this.checks(), name, req.targetVersion, options, req.runId);
      else if (options.keepServedApis) throw new InvalidInputError(KEEP_SERVED_APIS_REFUSED, 'keep_served_apis is for kube-apiserver only, not the kubelet: leave it empty');
      const { errors, from, staged } = other ?? (await checkKubelet(this.checks(), req.targetVersion, options, req.runId));
      const first = errors[0];
      if (first) throw first;
      const spec = other?.resolved.spec ?? this.component;
      if (!staged && spec.kind === 'systemd') throw new PreconditionError(Codes.NOT_STAGED, `no ${req.targetVersion} ${name} is staged`);
      const rec = newRunRecord({ req, options, from, staged, spec, held: other?.resolved.held ?? false, nowMs: this.deps.clock.now() });
      // Saved before it is marked current; a crash between the two leaves a run that recovery
      // finds by listing the journal (defect 7), not by current-run.
      await this.log.save(rec);
      await this.log.store.setCurrent(rec.runId);
      this.logger.info({ runId: rec.runId, from, to: rec.toVersion, component: name, held: rec.heldAtStart ?? false }, 'upgrade run started');
      this.launch(rec.runId, claim);
      started = true;
      return rec;
    } finally {
      if (!started) await claim?.release();
    }
  }

  /** The run's events: those so far, then live ones until the run reaches a terminal phase. */
  events(runId: string): AsyncGenerator<StepEvent> {
    return this.log.events(runId);
  }

  /** Rolls the node back to the state before `runId` (the last run) and waits for the result. */
  async rollback(runId: string): Promise<RunRecord> {
    validateRunId(runId);
    const rec = await this.getRun(runId);
    const current = await this.log.store.currentId();
    // Only when another run is the last one: are the runs after this one all rolled back?
    const runs = current === runId ? [] : await this.allRuns();
    const decision = await rollbackDecision(rec, current, this.contextFor(rec), runs);
    if (decision === 'done') return rec;
    if (decision === 'wait') {
      await this.whenIdle();
      return this.getRun(runId);
    }
    const claim = this.claim.take('rollback', runId);
    try {
      await claim.journaled;
      // An earlier run whose later runs were rolled back becomes the node's current run again
      // (as recovery makes an interrupted one current): the one-run checks see it until it ends.
      if (current !== runId) await this.log.store.setCurrent(runId);
      await this.log.patch(rec, { phase: 'RUN_ROLLING_BACK', step: 'ROLLBACK_STOP', stepStatus: 'STEP_STARTED', errorCode: rec.errorCode || 'ROLLBACK_REQUESTED', errorMessage: rec.errorMessage || 'rollback requested by the coordinator' });
    } catch (err) {
      await claim.release();
      throw err;
    }
    this.launch(runId, claim);
    await this.whenIdle();
    return this.getRun(runId);
  }

  /**
   * After Release of `name`: when the last run on this node swapped that component while it was
   * held, wait until it runs the new version healthy (the verification the run skipped):
   * COMPONENT_UNHEALTHY names the run, and Rollback(run_id) restores the old one. Otherwise (a
   * plain Hold/Release) wait until the version it runs is healthy again, its static pod in a
   * container created after `heldSinceMs`. Called inside Release, which holds the node claim for
   * the whole call (no run can start).
   */
  async verifyReleased(name: string, heldSinceMs = 0, onlyHeldSwap = false): Promise<void> {
    const id = await this.log.store.currentId();
    const rec = id ? await this.log.find(id) : undefined;
    if (rec && isUnverifiedHeldSwap(rec, name)) {
      const holder = this.claim.holder;
      if (holder?.kind === 'release' && holder.id === name) return verifyReleasedRun(this.contextFor(rec), rec, this.log);
      // Called on its own: it takes the claim itself (or is refused naming the holder).
      await this.claim.with('release', name, () => verifyReleasedRun(this.contextFor(rec), rec, this.log));
      return;
    }
    if (onlyHeldSwap) return;
    const r = await resolveComponent(name, this.deps, this.config, (p) => this.host(p));
    await verifyReleasedPlain(this.contextForSpec(r.spec), r.version, this.config.verifyTimeoutMs, heldSinceMs);
  }

  /** Hold and Release of a component wait for no run: they are refused while one of that component runs. */
  async assertNoRunOf(name: string): Promise<void> {
    const id = this.activeRunId ?? (await this.log.store.currentId());
    const rec = id ? await this.log.find(id) : undefined;
    if (rec && !isTerminal(rec.phase) && (rec.component ?? 'kubelet') === name) {
      throw new PreconditionError(Codes.RUN_IN_PROGRESS, `run ${rec.runId} of ${name} is in progress on this node; hold or release it when the run has finished`, { runId: rec.runId });
    }
  }

  private launch(runId: string, claim: Claim): void {
    this.driving = this.machine.drive(runId).finally(() => claim.release());
  }
}
