/**
 * The runs as this process knows them: the journal on disk (RunStore) with an in-memory copy of
 * each record, and the listeners that follow a run's events. An event is persisted before anyone
 * hears of it, so a follower never sees a step the journal does not hold.
 */
import type { Clock } from '../../lib/clock.ts';
import { Codes, NotFoundError } from './errors.ts';
import { RunStore, validateRunId } from './runstore.ts';
import { isTerminal, type RunPhase, type RunRecord, type Step, type StepEvent, type StepFacts, type StepStatus } from './types.ts';
import type { FileSystem } from './fs.ts';

type Listener = (record: RunRecord, event: StepEvent) => void;

/** Fields of the record an event may change besides phase, step and status. */
export type EventPatch = Partial<Pick<RunRecord, 'phase' | 'errorCode' | 'errorMessage' | 'journalTail' | 'finishedAtMs' | 'flagNotes' | 'rollbackSkipFile' | 'installedSha256'>>;
export type RecordPatch = Partial<Pick<RunRecord, 'phase' | 'step' | 'stepStatus' | 'errorCode' | 'errorMessage' | 'releasedAtMs' | 'releaseError'>>;

export class RunLog {
  readonly store: RunStore;
  private readonly records = new Map<string, RunRecord>();
  private readonly listeners = new Map<string, Set<Listener>>();

  constructor(
    fs: FileSystem,
    stateDir: string,
    private readonly clock: Clock,
  ) {
    this.store = new RunStore(fs, stateDir);
  }

  /** The record as last written (memory first: a write that failed leaves memory ahead of disk). */
  async find(runId: string): Promise<RunRecord | undefined> {
    return this.records.get(runId) ?? (await this.store.load(runId));
  }

  async get(runId?: string): Promise<RunRecord> {
    const id = runId || (await this.store.currentId());
    if (!id) throw new NotFoundError(Codes.RUN_NOT_FOUND, 'no run has happened on this node');
    validateRunId(id);
    const rec = await this.find(id);
    if (!rec) throw new NotFoundError(Codes.RUN_NOT_FOUND, `no run ${id} on this node`, { runId: id });
    return rec;
  }

  cached(runId: string): RunRecord | undefined {
    return this.records.get(runId);
  }

  /** Keeps a record in memory only (the journal could not be written). */
  remember(rec: RunRecord): void {
    this.records.set(rec.runId, rec);
  }

  async save(rec: RunRecord): Promise<RunRecord> {
    await this.store.save(rec);
    this.records.set(rec.runId, rec);
    return rec;
  }

  async patch(rec: RunRecord, patch: RecordPatch): Promise<RunRecord> {
    return this.save({ ...rec, ...patch });
  }

  /** Appends an event and persists the record (atomically) before anyone hears of it. */
  async append(rec: RunRecord, step: Step, status: StepStatus, message: string, patch: EventPatch = {}, facts: StepFacts = {}): Promise<RunRecord> {
    const phase: RunPhase = patch.phase ?? rec.phase;
    const ev: StepEvent = {
      runId: rec.runId,
      seq: rec.events.length + 1,
      step,
      status,
      message,
      atUnixMs: this.clock.now(),
      phase,
      errorCode: status === 'STEP_FAILED' ? (patch.errorCode ?? '') : '',
      journalTail: status === 'STEP_FAILED' ? (patch.journalTail ?? []) : [],
      ...facts,
    };
    const next = await this.save({ ...rec, ...patch, phase, step, stepStatus: status, events: [...rec.events, ev] });
    for (const l of this.listeners.get(next.runId) ?? []) l(next, ev);
    return next;
  }

  /** The run's events: those so far, then live ones until the run reaches a terminal phase. */
  async *events(runId: string): AsyncGenerator<StepEvent> {
    const queue: StepEvent[] = [];
    let done = false;
    let wake: (() => void) | undefined;
    const listener: Listener = (rec, ev) => {
      queue.push(ev);
      if (isTerminal(rec.phase)) done = true;
      wake?.();
    };
    let set = this.listeners.get(runId);
    if (!set) {
      set = new Set();
      this.listeners.set(runId, set);
    }
    set.add(listener);
    try {
      const rec = await this.get(runId);
      let sent = 0;
      for (const ev of rec.events) {
        yield ev;
        sent = ev.seq;
      }
      if (isTerminal(rec.phase)) return;
      for (;;) {
        while (queue.length > 0) {
          const ev = queue.shift();
          if (ev && ev.seq > sent) {
            sent = ev.seq;
            yield ev;
          }
        }
        if (done) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    } finally {
      set.delete(listener);
    }
  }

  /** Tells followers of a run that it ended without a journaled event (the journal failed). */
  endInMemory(rec: RunRecord, ev: StepEvent): void {
    this.records.set(rec.runId, rec);
    for (const l of this.listeners.get(rec.runId) ?? []) l(rec, ev);
  }
}
