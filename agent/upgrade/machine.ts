/**
 * The step loop. One loop walks both directions: journal STEP_STARTED, act, journal STEP_DONE,
 * with the crash-test fault points between. What differs between forward and rollback (the steps,
 * what a failure means, how the run ends) is a `Direction`; nothing else does.
 */
import type { Logger } from '../../lib/logger.ts';
import type { ComponentSpec } from './component.ts';
import type { UpgradeAgentDeps } from './config.ts';
import { Codes, type KipError } from './errors.ts';
import { toKipError } from './kip-error.ts';
import type { RunLog } from './run-log.ts';
import { STEP_BODIES, type StepContext } from './steps/index.ts';
import { FORWARD_STEPS, ROLLBACK_STEPS, type ActingStep, type RunRecord, type StepEvent, type StepFacts } from './types.ts';

interface Direction {
  readonly name: 'forward' | 'rollback';
  readonly steps: readonly ActingStep[];
  /** The stop step whose start begins the component's downtime in this direction. */
  readonly stopStep: ActingStep;
  readonly verifyStep: ActingStep;
  /** Whether a failure of `step` is reported with the component's journal tail. */
  wantsTail(step: ActingStep): boolean;
  /** Journals the failure of `step`; returns the record in its next phase. */
  fail(m: Machine, rec: RunRecord, step: ActingStep, err: KipError, tail: string[]): Promise<RunRecord>;
  finish(m: Machine, rec: RunRecord): Promise<RunRecord>;
}

/** Steps that change nothing on the node: a failure there ends the run without a rollback. */
const NON_MUTATING: readonly ActingStep[] = ['VERIFY_STAGED', 'BACKUP'];

const FORWARD: Direction = {
  name: 'forward',
  steps: FORWARD_STEPS,
  stopStep: 'STOP_KUBELET',
  verifyStep: 'VERIFY',
  wantsTail: (step) => step === 'START_KUBELET' || step === 'VERIFY',
  async fail(m, rec, step, k, tail) {
    if (NON_MUTATING.includes(step)) {
      const failed = await m.log.append(rec, step, 'STEP_FAILED', k.message, { errorCode: k.code, errorMessage: k.message, journalTail: tail });
      return m.log.append(failed, 'ROLLED_BACK', 'STEP_DONE', 'nothing was changed on the node', { phase: 'RUN_ROLLED_BACK', finishedAtMs: m.now() });
    }
    return m.log.append(rec, step, 'STEP_FAILED', k.message, { phase: 'RUN_ROLLING_BACK', errorCode: k.code, errorMessage: k.message, journalTail: tail });
  },
  finish: (m, rec) =>
    m.log.append(rec, 'DONE', 'STEP_DONE', rec.heldAtStart ? `the ${m.nameOf(rec)} ${rec.toVersion} is in place and stays held: Release starts and verifies it` : `the ${m.nameOf(rec)} runs ${rec.toVersion}`, {
      phase: 'RUN_SUCCEEDED',
      finishedAtMs: m.now(),
    }),
};

const ROLLBACK: Direction = {
  name: 'rollback',
  steps: ROLLBACK_STEPS,
  stopStep: 'ROLLBACK_STOP',
  verifyStep: 'ROLLBACK_VERIFY',
  wantsTail: () => true,
  async fail(m, rec, step, k, tail) {
    m.logger.error({ err: k, runId: rec.runId, step }, 'rollback step failed: the node needs an operator');
    const next = await m.log.append(rec, step, 'STEP_FAILED', k.message, {
      phase: 'RUN_FAILED',
      errorCode: k.code,
      errorMessage: `rollback failed at ${step} (${k.message}) after: ${rec.errorMessage}`,
      journalTail: tail,
      finishedAtMs: m.now(),
    });
    await m.ensureStarted(rec);
    return next;
  },
  finish: (m, rec) => m.log.append(rec, 'ROLLED_BACK', 'STEP_DONE', `the ${m.nameOf(rec)} runs ${rec.fromVersion} again (${rec.errorCode})`, { phase: 'RUN_ROLLED_BACK', finishedAtMs: m.now() }),
};

/** Where a run continues: after its last done step, or at the step it was in. */
function resumeIndex(rec: RunRecord, steps: readonly string[]): number {
  if (rec.events.length === 0) return 0;
  const i = steps.indexOf(rec.step);
  if (i < 0) return 0;
  return rec.stepStatus === 'STEP_DONE' ? i + 1 : i;
}

/**
 * Stop started -> first healthy: the downtime the verify step reports. From the first start of
 * the stop step: after a crash past it the component was down since then, not since the repeat.
 */
function downtime(events: readonly StepEvent[], stopStep: ActingStep, firstHealthy: number | undefined): StepFacts {
  if (firstHealthy === undefined) return {};
  const stop = events.find((e) => e.step === stopStep && e.status === 'STEP_STARTED');
  return stop ? { downtimeMs: Math.max(0, firstHealthy - stop.atUnixMs) } : {};
}

/**
 * The machine is one for every component: each run's steps get the context of the component the
 * run names (its spec is in the journal), built by `contextFor`.
 */
export class Machine {
  readonly logger: Logger;

  constructor(
    readonly log: RunLog,
    private readonly deps: UpgradeAgentDeps,
    private readonly contextFor: (rec: RunRecord) => StepContext,
    private readonly journalLines: number,
    logger: Logger,
  ) {
    this.logger = logger;
  }

  specOf(rec: RunRecord): ComponentSpec {
    return this.contextFor(rec).component;
  }

  nameOf(rec: RunRecord): string {
    return this.specOf(rec).name;
  }

  now(): number {
    return this.deps.clock.now();
  }

  /** Drives the run from its journaled state to a terminal phase. */
  async drive(runId: string): Promise<void> {
    let rec = this.log.cached(runId);
    if (!rec) return;
    const name = this.specOf(rec).name;
    this.deps.stage.markInUse(rec.toVersion, true, name);
    try {
      if (rec.phase === 'RUN_RUNNING') rec = await this.walk(rec, FORWARD);
      if (rec.phase === 'RUN_ROLLING_BACK') rec = await this.walk(rec, ROLLBACK);
      this.logger.info({ runId, phase: rec.phase, errorCode: rec.errorCode }, 'run finished');
    } catch (err) {
      // Journaling itself failed (disk full, state dir gone): a component must run whatever happens.
      await this.abandon(runId, err);
    } finally {
      this.deps.stage.markInUse(rec.toVersion, false, name);
    }
  }

  private async walk(start: RunRecord, dir: Direction): Promise<RunRecord> {
    let rec = start;
    const ctx = this.contextFor(start);
    for (let i = resumeIndex(rec, dir.steps); i < dir.steps.length; i++) {
      const step = dir.steps[i] as ActingStep;
      rec = await this.log.append(rec, step, 'STEP_STARTED', 'started');
      await this.deps.fault.at(step, 'before');
      let result;
      try {
        result = await STEP_BODIES[step](ctx, rec);
      } catch (err) {
        const k = toKipError(err);
        const tail = dir.wantsTail(step) ? await this.journalTail(ctx.component) : [];
        this.logger.error({ err: k, runId: rec.runId, step }, 'step failed');
        return dir.fail(this, rec, step, k, tail);
      }
      await this.deps.fault.at(step, 'after');
      const facts = step === dir.verifyStep ? { ...result.facts, ...downtime(rec.events, dir.stopStep, result.facts?.firstHealthyAtUnixMs) } : result.facts;
      rec = await this.log.append(rec, step, 'STEP_DONE', result.message, result.record ?? {}, facts);
    }
    return dir.finish(this, rec);
  }

  async journalTail(c: ComponentSpec): Promise<string[]> {
    try {
      return await this.deps.journal.tail(c.unit, this.journalLines);
    } catch (err) {
      this.logger.warn({ err }, `could not read the ${c.name} journal`);
      return [`(journal unavailable: ${toKipError(err).message})`];
    }
  }

  /**
   * The journal cannot be written: start the unit with whatever binary is on disk (the binary
   * path is always one whole binary), then end the run in memory and tell its followers why.
   * Nothing here waits on a write that can fail (issue 8, defect 5).
   */
  async abandon(runId: string, err: unknown): Promise<void> {
    const k = toKipError(err);
    const cur = this.log.cached(runId);
    const name = cur ? this.nameOf(cur) : 'component';
    this.logger.error({ err: k, runId }, `cannot journal the run; starting the ${name} on disk`);
    const started = cur ? await this.ensureStarted(cur) : false;
    if (!cur) return;
    const message = `cannot write the run journal (${k.message}); ${started ? `started the ${name} on disk` : `could not start the ${name} on disk either`}: the node needs an operator`;
    const ev: StepEvent = {
      runId,
      seq: cur.events.length + 1,
      step: cur.step,
      status: 'STEP_FAILED',
      message,
      atUnixMs: this.now(),
      phase: 'RUN_FAILED',
      errorCode: Codes.JOURNAL_UNWRITABLE,
      journalTail: [],
    };
    this.log.endInMemory({ ...cur, phase: 'RUN_FAILED', stepStatus: 'STEP_FAILED', errorCode: Codes.JOURNAL_UNWRITABLE, errorMessage: message, finishedAtMs: ev.atUnixMs, events: [...cur.events, ev] }, ev);
  }

  /**
   * Starts the unit with whatever binary is on disk; never throws (it is the last resort). A
   * static pod's unit is the kubelet's, which runs whatever manifest is on disk; a held unit's
   * start job is skipped by its hold drop-in, so it stays held.
   */
  async ensureStarted(rec: RunRecord): Promise<boolean> {
    const c = this.specOf(rec);
    try {
      await this.deps.systemd.daemonReload();
      await this.deps.systemd.start(c.unit);
      return true;
    } catch (err) {
      this.logger.error({ err }, `could not start ${c.unit}`);
      return false;
    }
  }
}
