/**
 * The node upgrade state machine and the node's view of itself (GetNode, Preflight).
 *
 * Each step of a run is journaled (atomically) to the run's state file BEFORE it acts, and every
 * step is safe to repeat: after a crash the agent re-runs the journaled step and continues (or
 * rolls back, per `recovery`). A failed step after the first change rolls back automatically:
 * old binary, old flags, old skip file, restart, verify the old kubelet.
 */
import path from 'node:path';
import type { AgentConfig } from '../config.ts';
import type { JsonNode } from '../../lib/knowledge/hash/index.ts';
import type { ContainerInfo } from '../runtime/types.ts';
import { checkConsistency } from '../watch/consistency.ts';
import type { Logger } from '../../lib/logger.ts';
import { Codes, InvalidInputError, KipError, NotFoundError, PreconditionError, StepFailedError } from './errors.ts';
import type { FileSystem } from './fs.ts';
import { TEMP_MARK } from './fs.ts';
import type { WorkloadPort, Clock, FaultHook, FileContent, FlagMigrationPort, HealthPort, JournalPort, KubeletBinaryPort, ProcPort, SystemdPort, UnitInfo } from './ports.ts';
import { RunStore, validateRunId } from './runstore.ts';
import { formatSkipFile, parseSkipFile } from './skipfile.ts';
import type { StageStore } from './stage.ts';
import {
  FORWARD_STEPS,
  ROLLBACK_STEPS,
  isTerminal,
  type BackupEntry,
  type BackupManifest,
  type Check,
  type ForwardStep,
  type NodeInfo,
  type PreflightReport,
  type RollbackStep,
  type RunPhase,
  type RunRecord,
  type SkipFileInfo,
  type StagedBinaryInfo,
  type Step,
  type StepEvent,
  type StepStatus,
  type UpgradeOptions,
} from './types.ts';
import { checkUpgradePath, parseRealVersion } from '../../lib/knowledge/version.ts';

/** What the state machine needs of the agent's configuration (agent/config.ts documents each option). */
export type UpgradeAgentConfig = Pick<
  AgentConfig,
  | 'nodeName' | 'stateDir' | 'rootPrefix' | 'kubeletBinary' | 'kubeletUnit' | 'skipFile' | 'healthzUrl'
  | 'verifyTimeoutMs' | 'stableMs' | 'pollMs' | 'journalLines' | 'backupPaths' | 'recovery'
> & { readonly agentVersion: string };

export interface UpgradeAgentDeps {
  readonly fs: FileSystem;
  readonly systemd: SystemdPort;
  readonly journal: JournalPort;
  readonly kubelet: KubeletBinaryPort;
  readonly flags: FlagMigrationPort;
  readonly health: HealthPort;
  readonly proc: ProcPort;
  readonly clock: Clock;
  readonly fault: FaultHook;
  readonly logger: Logger;
  readonly stage: StageStore;
  readonly workload?: WorkloadPort;
}

export interface UpgradeRequest {
  readonly runId: string;
  readonly targetVersion: string;
  readonly verifyTimeoutMs?: number;
  readonly allowDroppedFlags?: readonly string[];
  readonly allowUnpatched?: boolean;
}

export interface PreflightOptions {
  readonly allowDroppedFlags?: readonly string[];
  readonly allowUnpatched?: boolean;
}

type Listener = (record: RunRecord, event: StepEvent) => void;

function toKipError(err: unknown): KipError {
  if (err instanceof KipError) return err;
  return new KipError('INTERNAL', err instanceof Error ? err.message : String(err), {}, { cause: err });
}

/** Steps that change nothing on the node: a failure there ends the run without a rollback. */
const NON_MUTATING: readonly Step[] = ['VERIFY_STAGED', 'BACKUP'];

export class UpgradeAgent {
  private readonly runs: RunStore;
  private readonly records = new Map<string, RunRecord>();
  private readonly listeners = new Map<string, Set<Listener>>();
  /** The run this process is driving, or reserving (being checked before it starts). */
  private activeRunId: string | undefined;
  private driving: Promise<void> = Promise.resolve();
  private readonly log: Logger;

  constructor(
    private readonly config: UpgradeAgentConfig,
    private readonly deps: UpgradeAgentDeps,
  ) {
    this.runs = new RunStore(deps.fs, config.stateDir);
    this.log = deps.logger.child({ component: 'upgrade' });
  }

  /** A node path as this process sees it. */
  private host(nodePath: string): string {
    return this.config.rootPrefix ? path.join(this.config.rootPrefix, nodePath) : nodePath;
  }

  /** Resolves when the run being driven (if any) has reached a terminal phase. */
  whenIdle(): Promise<void> {
    return this.driving;
  }

  /** True while this process drives or reserves a run (the consistency loop must not act then). */
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
    const file = this.host(this.config.skipFile);
    this.log.info({ path: this.config.skipFile }, 'removing the skip file: every running container carries the running kubelet\'s hash');
    await this.deps.fs.remove(file);
    await this.deps.fs.fsyncDir(path.dirname(file));
  }

  /** Start-up: create the state dir, clean stale temp files, and finish an interrupted run. */
  async start(): Promise<void> {
    await this.runs.init();
    const id = await this.runs.currentId();
    const rec = id ? await this.runs.load(id) : undefined;
    await this.removeStaleTemps();
    if (!rec || isTerminal(rec.phase)) return;
    this.records.set(rec.runId, rec);
    let next = rec;
    if (rec.phase === 'RUN_RUNNING' && this.config.recovery === 'rollback') {
      next = await this.patch(rec, { phase: 'RUN_ROLLING_BACK', errorCode: 'AGENT_RESTARTED', errorMessage: `the agent restarted during ${rec.step}; rolling back as configured` });
    }
    this.log.warn({ runId: rec.runId, step: rec.step, stepStatus: rec.stepStatus, phase: next.phase }, 'recovering interrupted run');
    this.launch(next.runId);
  }

  private async removeStaleTemps(): Promise<void> {
    const bin = this.host(this.config.kubeletBinary);
    const prefix = `${TEMP_MARK}${path.basename(bin)}.`;
    for (const name of await this.deps.fs.list(path.dirname(bin))) {
      if (name.startsWith(prefix)) {
        this.log.warn({ file: name }, 'removing a partial binary copy left by a crash');
        await this.deps.fs.remove(path.join(path.dirname(bin), name));
      }
    }
  }

  // ---------------------------------------------------------------- node view

  async skipFileInfo(): Promise<SkipFileInfo> {
    return parseSkipFile(this.config.skipFile, await this.deps.fs.readText(this.host(this.config.skipFile)));
  }

  /**
   * Version, sha256 and patch of the installed binary, cached by (size, mtime, inode): a real
   * kubelet is ~100 MB and GetNode is polled.
   */
  private async installedBinaryFacts(bin: string): Promise<{ version: string; sha256: string; patched: boolean } | undefined> {
    const st = await this.deps.fs.stat(bin);
    if (!st) return undefined;
    const key = `${st.size}:${st.mtimeMs}:${st.ino}`;
    if (this.factsCache?.key === key) return this.factsCache.facts;
    let version = '';
    try {
      version = await this.deps.kubelet.version(bin);
    } catch (err) {
      this.log.warn({ err }, 'kubelet --version failed; GetNode reports no version');
    }
    const facts = { version, sha256: (await this.deps.fs.sha256(bin)) ?? '', patched: await this.deps.kubelet.isPatched(bin, this.config.skipFile) };
    if (version) this.factsCache = { key, facts };
    return facts;
  }

  private factsCache: { key: string; facts: { version: string; sha256: string; patched: boolean } } | undefined;

  async nodeInfo(): Promise<NodeInfo> {
    const bin = this.host(this.config.kubeletBinary);
    const facts = await this.installedBinaryFacts(bin);
    const unit = await this.deps.systemd.unitInfo(this.config.kubeletUnit);
    const disks: { path: string; freeBytes: number; totalBytes: number }[] = [];
    for (const p of [this.config.stateDir, path.dirname(bin)]) {
      const s = await this.deps.fs.statfs(p);
      if (s) disks.push({ path: p, ...s });
    }
    const lastId = await this.runs.currentId();
    const last = lastId ? (this.records.get(lastId) ?? (await this.runs.load(lastId))) : undefined;
    return {
      nodeName: this.config.nodeName,
      agentVersion: this.config.agentVersion,
      kubeletBinary: this.config.kubeletBinary,
      kubeletVersion: facts?.version ?? '',
      kubeletSha256: facts?.sha256 ?? '',
      kubeletPatched: facts?.patched ?? false,
      unit: {
        name: this.config.kubeletUnit,
        activeState: unit.activeState,
        subState: unit.subState,
        mainPid: unit.mainPid,
        startedAtUnixMs: Math.floor(unit.execMainStartUsec / 1000),
        privateTmp: unit.privateTmp,
      },
      skipFile: await this.skipFileInfo(),
      disks,
      staged: await this.deps.stage.list(),
      lastRunId: last?.runId ?? '',
      lastRunPhase: last?.phase ?? '',
    };
  }

  /**
   * Every node check for an upgrade to `target`. Each check either passes or records the typed error
   * an Upgrade call would be refused with; Preflight reports them all, Upgrade throws the first.
   */
  private async evaluate(target: string, opts: PreflightOptions, selfRunId?: string): Promise<{ report: PreflightReport; errors: KipError[]; from: string; staged?: StagedBinaryInfo }> {
    const checks: Check[] = [];
    const errors: KipError[] = [];
    const run = async (name: string, fix: string, fn: () => Promise<string | { warn: string }>): Promise<void> => {
      try {
        const r = await fn();
        if (typeof r === 'string') checks.push({ name, status: 'CHECK_OK', message: r, fix: '' });
        else checks.push({ name, status: 'CHECK_WARN', message: r.warn, fix });
      } catch (err) {
        const k = toKipError(err);
        errors.push(k);
        checks.push({ name, status: 'CHECK_FAIL', message: `${k.code}: ${k.message}`, fix });
      }
    };
    let from = '';
    let staged: StagedBinaryInfo | undefined;
    let unit: UnitInfo | undefined;
    await run('no-run-in-progress', 'wait for the running upgrade to finish (GetRun)', async () => {
      await this.assertNoActiveRun(selfRunId);
      return 'no upgrade is running on this node';
    });
    await run('kubelet-version', 'install a kubelet built with version stamping', async () => {
      const bin = this.host(this.config.kubeletBinary);
      try {
        from = await this.deps.kubelet.version(bin);
      } catch (err) {
        throw new PreconditionError(Codes.KUBELET_VERSION_UNKNOWN, `cannot read the version of ${this.config.kubeletBinary}: ${toKipError(err).message}`, {}, { cause: err });
      }
      parseRealVersion(from, 'running kubelet version');
      return `the kubelet binary is ${from}`;
    });
    await run('upgrade-path', 'upgrade one minor version at a time; downgrade with Rollback', async () => {
      if (!from) throw new PreconditionError(Codes.KUBELET_VERSION_UNKNOWN, 'the running kubelet version is unknown');
      checkUpgradePath(from, target);
      return `${from} -> ${target} is one step`;
    });
    await run('staged-binary', `stage the ${target} kubelet (kip stage)`, async () => {
      parseRealVersion(target, 'target version');
      staged = await this.deps.stage.get(target);
      if (!staged) throw new PreconditionError(Codes.NOT_STAGED, `no ${target} kubelet is staged on this node`, { version: target });
      return `${target} staged (sha256 ${staged.sha256})`;
    });
    await run('kubelet-active', `start ${this.config.kubeletUnit} and make it healthy before upgrading`, async () => {
      unit = await this.deps.systemd.unitInfo(this.config.kubeletUnit);
      if (unit.activeState !== 'active' || unit.execMainStartUsec <= 0) {
        throw new PreconditionError(Codes.KUBELET_NOT_ACTIVE, `${this.config.kubeletUnit} is ${unit.activeState}/${unit.subState}: the skip file needs the running kubelet's start time`, { activeState: unit.activeState });
      }
      return `${this.config.kubeletUnit} is active (pid ${unit.mainPid})`;
    });
    await run('skip-file', `fix or remove ${this.config.skipFile} (format "<version>,<unix seconds>", no newline)`, async () => {
      const s = await this.skipFileInfo();
      if (s.present && !s.valid) {
        throw new PreconditionError(Codes.SKIP_FILE_MALFORMED, `the existing skip file ${s.path} is malformed (${s.problem}): the patched kubelet would skip nothing`, { path: s.path, raw: s.raw });
      }
      if (s.present) return `existing skip file names ${s.version}; it is kept`;
      return 'no skip file yet; it will be written before the new kubelet starts';
    });
    await run('private-tmp', `remove PrivateTmp=yes from ${this.config.kubeletUnit} or configure a skip-file path outside /tmp (in the patch and the agent)`, async () => {
      const u = unit ?? (await this.deps.systemd.unitInfo(this.config.kubeletUnit));
      if (u.privateTmp && (this.config.skipFile === '/tmp' || this.config.skipFile.startsWith('/tmp/') || this.config.skipFile.startsWith('/var/tmp/'))) {
        throw new PreconditionError(Codes.PRIVATE_TMP, `${this.config.kubeletUnit} has PrivateTmp=yes: the kubelet would not see ${this.config.skipFile} and every container whose hash changes would restart`);
      }
      return 'the kubelet sees the skip file';
    });
    await run('patched-binary', 'stage a kubelet built with the skip-file patch, or accept the restarts (allow_unpatched)', async () => {
      if (!staged) return { warn: 'no staged binary to inspect' };
      if (staged.patched) return `${target} carries the skip-file patch`;
      const msg = `${target} does not carry the skip-file patch (no "${this.config.skipFile}" in the binary): every container whose hash changes will restart (count them with kip preflight, which asks the hash engine)`;
      if (opts.allowUnpatched) return { warn: msg };
      throw new PreconditionError(Codes.UNPATCHED_BINARY, msg, { version: target });
    });
    await run('flag-migration', 'pass allow_dropped_flags for a removed flag without replacement, or edit the flag yourself', async () => {
      if (!from || !unit) return { warn: 'skipped: kubelet version or unit unknown' };
      const plan = await this.deps.flags.plan(await this.migrationInput(from, target, unit, opts.allowDroppedFlags ?? [], staged?.path ?? '', (p) => this.deps.fs.readText(this.host(p))));
      return plan.notes.length ? plan.notes.join('; ') : 'no flag changes needed';
    });
    if (this.deps.workload) await this.hashChecks(run, from, target, staged, opts);
    await run('disk-space', 'free space on the node', async () => {
      const need = (staged?.size ?? 0) * 2;
      const s = await this.deps.fs.statfs(path.dirname(this.host(this.config.kubeletBinary)));
      if (s && s.freeBytes < need) {
        throw new PreconditionError('DISK_FULL', `${path.dirname(this.config.kubeletBinary)} has ${s.freeBytes} bytes free, the swap needs ${need}`);
      }
      return s ? `${s.freeBytes} bytes free beside the kubelet` : 'unknown';
    });
    const report: PreflightReport = { currentVersion: from, targetVersion: target, ok: errors.length === 0, checks };
    return staged ? { report, errors, from, staged } : { report, errors, from };
  }

  /**
   * The hash self-check (kip's hash of each running container, as the running kubelet version
   * computes it, equals its label) and the restart prediction for the target version.
   */
  private async hashChecks(
    run: (name: string, fix: string, fn: () => Promise<string | { warn: string }>) => Promise<void>,
    from: string,
    target: string,
    staged: StagedBinaryInfo | undefined,
    opts: PreflightOptions,
  ): Promise<void> {
    const workload = this.deps.workload!;
    let pods: JsonNode | undefined;
    let containers: ContainerInfo[] = [];
    await run('hash-self-check', 'report the mismatching containers to the kip developers: predictions for this node cannot be trusted', async () => {
      if (!from) return { warn: 'skipped: the running kubelet version is unknown' };
      [pods, containers] = await Promise.all([workload.listNodePods(), workload.listContainers()]);
      const skip = await this.skipFileInfo();
      // Under a skip file, containers may still carry the hash of any version since the one it names.
      const accepted = skip.present && skip.valid ? minorsBetween(skip.version, from) : [from];
      // One check per accepted version; the last is the running version's (minorsBetween ends there).
      const reports = accepted.map((v) => checkConsistency(pods!, containers, v));
      const staleSets = reports.map((r) => new Set(r.stale.map((c) => c.containerId)));
      const stale = new Set([...(staleSets[0] ?? [])].filter((id) => staleSets.every((set) => set.has(id))));
      const report = reports[reports.length - 1]!;
      if (stale.size > 0) {
        const sample = report.stale.filter((c) => stale.has(c.containerId)).slice(0, 5).map((c) => `${c.pod}/${c.container} label ${c.label} != ${c.expected}`);
        throw new PreconditionError('HASH_SELF_CHECK_FAILED', `${stale.size} of ${report.running} running containers carry a hash kip does not compute for ${accepted.join(' or ')}: ${sample.join('; ')}`, { count: stale.size });
      }
      return `kip's hash of all ${report.running} running containers matches their labels (${accepted.join(', ')})`;
    });
    await run('predicted-restarts', 'stage a patched kubelet so the skip file keeps these containers running', async () => {
      if (!pods) return { warn: 'skipped: no workload data' };
      const r = checkConsistency(pods, containers, target);
      const n = r.stale.length;
      if (n === 0) return `no running container changes hash at ${target}`;
      const who = r.stale.slice(0, 5).map((c) => `${c.pod}/${c.container}`).join(', ');
      if (staged?.patched) return `${n} of ${r.running} running containers change hash at ${target} (${who}${n > 5 ? ', ...' : ''}); the skip file keeps them running`;
      const msg = `without the skip-file patch ${n} of ${r.running} running containers would restart at ${target}: ${who}${n > 5 ? ', ...' : ''}`;
      if (opts.allowUnpatched || !staged) return { warn: msg };
      throw new PreconditionError('RESTARTS_PREDICTED', msg, { count: n });
    });
  }

  async preflight(target: string, opts: PreflightOptions = {}): Promise<PreflightReport> {
    return (await this.evaluate(target, opts)).report;
  }

  private async migrationInput(
    fromVersion: string,
    toVersion: string,
    unit: Pick<UnitInfo, 'execStart' | 'environmentFiles' | 'fragmentPath' | 'dropInPaths'>,
    allowDroppedFlags: readonly string[],
    targetBinary: string,
    read: (nodePath: string) => Promise<string | undefined>,
  ) {
    const collect = async (paths: readonly string[]): Promise<FileContent[]> => {
      const out: FileContent[] = [];
      for (const p of paths) {
        const content = await read(p);
        if (content !== undefined) out.push({ path: p, content });
      }
      return out;
    };
    return {
      fromVersion,
      toVersion,
      execStart: unit.execStart,
      environmentFiles: await collect(unit.environmentFiles),
      unitFiles: await collect([unit.fragmentPath, ...unit.dropInPaths].filter((p) => p !== '')),
      allowDroppedFlags,
      targetBinary,
    };
  }

  private async assertNoActiveRun(exceptRunId?: string): Promise<void> {
    if (this.activeRunId && this.activeRunId !== exceptRunId) {
      throw new PreconditionError(Codes.RUN_IN_PROGRESS, `run ${this.activeRunId} is in progress on this node`, { runId: this.activeRunId });
    }
    const id = await this.runs.currentId();
    const rec = id ? (this.records.get(id) ?? (await this.runs.load(id))) : undefined;
    if (rec && !isTerminal(rec.phase) && rec.runId !== exceptRunId) {
      throw new PreconditionError(Codes.RUN_IN_PROGRESS, `run ${rec.runId} is in progress on this node`, { runId: rec.runId });
    }
  }

  // ---------------------------------------------------------------- runs

  async getRun(runId?: string): Promise<RunRecord> {
    const id = runId || (await this.runs.currentId());
    if (!id) throw new NotFoundError(Codes.RUN_NOT_FOUND, 'no run has happened on this node');
    validateRunId(id);
    const rec = this.records.get(id) ?? (await this.runs.load(id));
    if (!rec) throw new NotFoundError(Codes.RUN_NOT_FOUND, `no run ${id} on this node`, { runId: id });
    return rec;
  }

  /**
   * Starts the run, or returns the existing record when this run id is known (re-attach: the
   * caller then follows `events`). Throws before changing anything when a check fails.
   */
  async begin(req: UpgradeRequest): Promise<RunRecord> {
    validateRunId(req.runId);
    const existing = this.records.get(req.runId) ?? (await this.runs.load(req.runId));
    if (existing) {
      if (existing.toVersion !== req.targetVersion) {
        throw new InvalidInputError(Codes.RUN_ID_CONFLICT, `run ${req.runId} upgrades to ${existing.toVersion}, not ${req.targetVersion}`, { runId: req.runId });
      }
      return existing;
    }
    await this.assertNoActiveRun();
    this.activeRunId = req.runId;
    let started = false;
    try {
      const options: UpgradeOptions = {
        verifyTimeoutMs: req.verifyTimeoutMs && req.verifyTimeoutMs > 0 ? req.verifyTimeoutMs : this.config.verifyTimeoutMs,
        allowDroppedFlags: [...(req.allowDroppedFlags ?? [])],
        allowUnpatched: req.allowUnpatched ?? false,
      };
      const { errors, from, staged } = await this.evaluate(req.targetVersion, options, req.runId);
      const first = errors[0];
      if (first) throw first;
      if (!staged) throw new PreconditionError(Codes.NOT_STAGED, `no ${req.targetVersion} kubelet is staged`);
      const now = this.deps.clock.now();
      const rec: RunRecord = {
        schema: 1,
        runId: req.runId,
        fromVersion: from,
        toVersion: req.targetVersion,
        targetSha256: staged.sha256,
        options,
        phase: 'RUN_RUNNING',
        step: 'VERIFY_STAGED',
        stepStatus: 'STEP_STARTED',
        events: [],
        startedAtMs: now,
        finishedAtMs: 0,
        errorCode: '',
        errorMessage: '',
        journalTail: [],
        flagNotes: [],
      };
      await this.runs.save(rec);
      await this.runs.setCurrent(rec.runId);
      this.records.set(rec.runId, rec);
      this.log.info({ runId: rec.runId, from, to: rec.toVersion }, 'upgrade run started');
      this.launch(rec.runId);
      started = true;
      return rec;
    } finally {
      if (!started) this.activeRunId = undefined;
    }
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
      const rec = await this.getRun(runId);
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

  /** Rolls the node back to the state before `runId` (the last run) and waits for the result. */
  async rollback(runId: string): Promise<RunRecord> {
    validateRunId(runId);
    const rec = await this.getRun(runId);
    const last = await this.runs.currentId();
    if (last !== runId) {
      throw new PreconditionError(Codes.ROLLBACK_NOT_LAST_RUN, `run ${runId} is not the last run on this node (${last ?? 'none'}); roll back ${last ?? 'nothing'} first`, { runId, last });
    }
    switch (rec.phase) {
      case 'RUN_ROLLED_BACK':
        return rec;
      case 'RUN_RUNNING':
        throw new PreconditionError(Codes.RUN_IN_PROGRESS, `run ${runId} is in progress; it rolls back by itself if the new kubelet fails verification`, { runId });
      case 'RUN_ROLLING_BACK':
        await this.whenIdle();
        return this.getRun(runId);
      case 'RUN_SUCCEEDED': {
        const sha = await this.deps.fs.sha256(this.host(this.config.kubeletBinary));
        if (sha !== rec.targetSha256) {
          throw new PreconditionError(Codes.ROLLBACK_NODE_CHANGED, `${this.config.kubeletBinary} is no longer the binary run ${runId} installed; refusing to roll back over a change kip did not make`, { runId });
        }
        break;
      }
      case 'RUN_FAILED':
        break;
    }
    if (this.activeRunId) throw new PreconditionError(Codes.RUN_IN_PROGRESS, `run ${this.activeRunId} is in progress on this node`, { runId: this.activeRunId });
    this.activeRunId = runId;
    try {
      await this.patch(rec, { phase: 'RUN_ROLLING_BACK', step: 'ROLLBACK_STOP', stepStatus: 'STEP_STARTED', errorCode: rec.errorCode || 'ROLLBACK_REQUESTED', errorMessage: rec.errorMessage || 'rollback requested by the coordinator' });
    } catch (err) {
      this.activeRunId = undefined;
      throw err;
    }
    this.launch(runId);
    await this.whenIdle();
    return this.getRun(runId);
  }

  // ---------------------------------------------------------------- driving

  private launch(runId: string): void {
    this.activeRunId = runId;
    this.driving = this.drive(runId);
  }

  private async drive(runId: string): Promise<void> {
    let rec = this.records.get(runId);
    if (!rec) return;
    this.deps.stage.markInUse(rec.toVersion, true);
    try {
      if (rec.phase === 'RUN_RUNNING') rec = await this.forward(rec);
      if (rec.phase === 'RUN_ROLLING_BACK') rec = await this.backward(rec);
      this.log.info({ runId, phase: rec.phase, errorCode: rec.errorCode }, 'run finished');
    } catch (err) {
      // Journaling itself failed (disk full, state dir gone): a kubelet must run whatever happens.
      this.log.error({ err, runId }, 'run aborted: cannot journal; making sure a kubelet runs');
      await this.ensureKubeletStarted();
      const cur = this.records.get(runId);
      if (cur) this.records.set(runId, { ...cur, phase: 'RUN_FAILED', errorCode: toKipError(err).code, errorMessage: toKipError(err).message });
    } finally {
      this.deps.stage.markInUse(rec.toVersion, false);
      this.activeRunId = undefined;
    }
  }

  private async ensureKubeletStarted(): Promise<void> {
    try {
      await this.deps.systemd.daemonReload();
      await this.deps.systemd.start(this.config.kubeletUnit);
    } catch (err) {
      this.log.error({ err }, `could not start ${this.config.kubeletUnit}`);
    }
  }

  private resumeIndex(rec: RunRecord, steps: readonly string[]): number {
    if (rec.events.length === 0) return 0;
    const i = steps.indexOf(rec.step);
    if (i < 0) return 0;
    return rec.stepStatus === 'STEP_DONE' ? i + 1 : i;
  }

  private async forward(start: RunRecord): Promise<RunRecord> {
    let rec = start;
    for (let i = this.resumeIndex(rec, FORWARD_STEPS); i < FORWARD_STEPS.length; i++) {
      const step = FORWARD_STEPS[i] as ForwardStep;
      rec = await this.event(rec, step, 'STEP_STARTED', 'started');
      await this.deps.fault.at(step, 'before');
      let message: string;
      try {
        message = await this.act(rec, step);
      } catch (err) {
        const k = toKipError(err);
        const tail = step === 'START_KUBELET' || step === 'VERIFY' ? await this.journalTail() : [];
        this.log.error({ err: k, runId: rec.runId, step }, 'step failed');
        if (NON_MUTATING.includes(step)) {
          rec = await this.event(rec, step, 'STEP_FAILED', k.message, { errorCode: k.code, errorMessage: k.message, journalTail: tail });
          return this.event(rec, 'ROLLED_BACK', 'STEP_DONE', 'nothing was changed on the node', { phase: 'RUN_ROLLED_BACK', finishedAtMs: this.deps.clock.now() });
        }
        return this.event(rec, step, 'STEP_FAILED', k.message, { phase: 'RUN_ROLLING_BACK', errorCode: k.code, errorMessage: k.message, journalTail: tail });
      }
      await this.deps.fault.at(step, 'after');
      rec = await this.event(rec, step, 'STEP_DONE', message);
    }
    return this.event(rec, 'DONE', 'STEP_DONE', `the kubelet runs ${rec.toVersion}`, { phase: 'RUN_SUCCEEDED', finishedAtMs: this.deps.clock.now() });
  }

  private async backward(start: RunRecord): Promise<RunRecord> {
    let rec = start;
    for (let i = this.resumeIndex(rec, ROLLBACK_STEPS); i < ROLLBACK_STEPS.length; i++) {
      const step = ROLLBACK_STEPS[i] as RollbackStep;
      rec = await this.event(rec, step, 'STEP_STARTED', 'started');
      await this.deps.fault.at(step, 'before');
      let message: string;
      try {
        message = await this.act(rec, step);
      } catch (err) {
        const k = toKipError(err);
        const tail = await this.journalTail();
        this.log.error({ err: k, runId: rec.runId, step }, 'rollback step failed: the node needs an operator');
        rec = await this.event(rec, step, 'STEP_FAILED', k.message, {
          phase: 'RUN_FAILED',
          errorCode: k.code,
          errorMessage: `rollback failed at ${step} (${k.message}) after: ${rec.errorMessage}`,
          journalTail: tail,
          finishedAtMs: this.deps.clock.now(),
        });
        await this.ensureKubeletStarted();
        return rec;
      }
      await this.deps.fault.at(step, 'after');
      rec = await this.event(rec, step, 'STEP_DONE', message);
    }
    return this.event(rec, 'ROLLED_BACK', 'STEP_DONE', `the kubelet runs ${rec.fromVersion} again (${rec.errorCode})`, { phase: 'RUN_ROLLED_BACK', finishedAtMs: this.deps.clock.now() });
  }

  private async journalTail(): Promise<string[]> {
    try {
      return await this.deps.journal.tail(this.config.kubeletUnit, this.config.journalLines);
    } catch (err) {
      this.log.warn({ err }, 'could not read the kubelet journal');
      return [`(journal unavailable: ${toKipError(err).message})`];
    }
  }

  /** Appends an event and persists the record (atomically) before anyone hears of it. */
  private async event(
    rec: RunRecord,
    step: Step,
    status: StepStatus,
    message: string,
    patch: Partial<Pick<RunRecord, 'phase' | 'errorCode' | 'errorMessage' | 'journalTail' | 'finishedAtMs' | 'flagNotes'>> = {},
  ): Promise<RunRecord> {
    const phase: RunPhase = patch.phase ?? rec.phase;
    const ev: StepEvent = {
      runId: rec.runId,
      seq: rec.events.length + 1,
      step,
      status,
      message,
      atUnixMs: this.deps.clock.now(),
      phase,
      errorCode: status === 'STEP_FAILED' ? (patch.errorCode ?? '') : '',
      journalTail: status === 'STEP_FAILED' ? (patch.journalTail ?? []) : [],
    };
    const next: RunRecord = { ...rec, ...patch, phase, step, stepStatus: status, events: [...rec.events, ev] };
    await this.runs.save(next);
    this.records.set(next.runId, next);
    for (const l of this.listeners.get(next.runId) ?? []) l(next, ev);
    return next;
  }

  private async patch(rec: RunRecord, patch: Partial<Pick<RunRecord, 'phase' | 'step' | 'stepStatus' | 'errorCode' | 'errorMessage'>>): Promise<RunRecord> {
    const next: RunRecord = { ...rec, ...patch };
    await this.runs.save(next);
    this.records.set(next.runId, next);
    return next;
  }

  // ---------------------------------------------------------------- steps

  private async act(rec: RunRecord, step: ForwardStep | RollbackStep): Promise<string> {
    const unit = this.config.kubeletUnit;
    switch (step) {
      case 'VERIFY_STAGED':
        return this.verifyStaged(rec);
      case 'BACKUP':
        return this.backup(rec);
      case 'MIGRATE_FLAGS':
        return this.migrateFlags(rec);
      case 'WRITE_SKIP_FILE':
        return this.writeSkipFile(rec);
      case 'STOP_KUBELET':
      case 'ROLLBACK_STOP':
        await this.deps.systemd.stop(unit);
        return `${unit} stopped`;
      case 'SWAP_BINARY':
        return this.swapBinary(rec);
      case 'START_KUBELET':
      case 'ROLLBACK_START': {
        // On the way forward a reload costs ~200 ms of kubelet downtime and is needed only when a
        // unit file or drop-in changed (systemd says so; environment files are read at start).
        // A rollback always reloads: it also clears the start rate limit a crash-looping new
        // kubelet has hit, without which systemd refuses to start the old one.
        const reload = step === 'ROLLBACK_START' || (await this.deps.systemd.unitInfo(unit)).needDaemonReload;
        if (reload) await this.deps.systemd.daemonReload();
        await this.deps.systemd.start(unit);
        return `${unit} started${reload ? ' (after daemon-reload: unit files changed)' : ''}`;
      }
      case 'VERIFY':
        return this.verifyKubelet(rec.toVersion, rec.options.verifyTimeoutMs, Codes.VERIFY_FAILED);
      case 'ROLLBACK_RESTORE':
        return this.restore(rec);
      case 'ROLLBACK_VERIFY':
        return this.verifyKubelet(rec.fromVersion, rec.options.verifyTimeoutMs, Codes.ROLLBACK_VERIFY_FAILED);
    }
  }

  private async verifyStaged(rec: RunRecord): Promise<string> {
    const staged = await this.deps.stage.get(rec.toVersion);
    if (!staged) throw new StepFailedError(Codes.NOT_STAGED, `the ${rec.toVersion} binary is no longer staged`);
    const sha = await this.deps.fs.sha256(staged.path);
    if (sha !== rec.targetSha256) throw new StepFailedError(Codes.STAGED_CORRUPT, `staged ${rec.toVersion} has sha256 ${sha ?? 'none'}, expected ${rec.targetSha256}`);
    const printed = await this.deps.kubelet.version(staged.path);
    if (printed !== rec.toVersion) throw new StepFailedError(Codes.STAGED_CORRUPT, `staged binary prints ${printed}, expected ${rec.toVersion}`);
    const skip = await this.skipFileInfo();
    if (skip.present && !skip.valid) throw new StepFailedError(Codes.SKIP_FILE_MALFORMED, `the skip file is malformed: ${skip.problem}`);
    return `staged ${rec.toVersion} verified (sha256 ${sha})`;
  }

  private async manifestIntact(m: BackupManifest): Promise<boolean> {
    const dir = path.join(this.runs.backupDir(m.runId), 'files');
    for (const e of m.entries) {
      if (!e.present || !e.copy) continue;
      if ((await this.deps.fs.sha256(path.join(dir, e.copy))) !== e.sha256) return false;
    }
    return true;
  }

  private async backup(rec: RunRecord): Promise<string> {
    const existing = await this.runs.loadManifest(rec.runId);
    if (existing && (await this.manifestIntact(existing))) return `backup already complete (${existing.entries.length} paths)`;
    const dir = this.runs.backupDir(rec.runId);
    await this.deps.fs.removeTree(dir);
    await this.deps.fs.mkdirp(path.join(dir, 'files'));
    const unit = await this.deps.systemd.unitInfo(this.config.kubeletUnit);
    const oldStartUnixSec = Math.floor(unit.execMainStartUsec / 1_000_000);
    if (oldStartUnixSec <= 0) throw new StepFailedError(Codes.KUBELET_NOT_ACTIVE, `${this.config.kubeletUnit} has no start time (not running)`);
    const paths = [
      ...new Set(
        [this.config.kubeletBinary, this.config.skipFile, unit.fragmentPath, ...unit.dropInPaths, ...unit.environmentFiles, ...this.config.backupPaths].filter((p) => p !== ''),
      ),
    ];
    const entries: BackupEntry[] = [];
    for (const [i, p] of paths.entries()) {
      const st = await this.deps.fs.stat(this.host(p));
      if (!st) {
        entries.push({ path: p, present: false });
        continue;
      }
      const copy = String(i).padStart(2, '0');
      const target = path.join(dir, 'files', copy);
      await this.deps.fs.copyAtomic(this.host(p), target, st.mode);
      const sha = await this.deps.fs.sha256(target);
      entries.push({ path: p, present: true, copy, sha256: sha ?? '', size: st.size, mode: st.mode });
    }
    const manifest: BackupManifest = {
      runId: rec.runId,
      createdAtMs: this.deps.clock.now(),
      entries,
      execStart: unit.execStart,
      environmentFiles: unit.environmentFiles,
      oldStartUnixSec,
    };
    await this.deps.fs.fsyncDir(path.join(dir, 'files'));
    await this.runs.saveManifest(manifest);
    return `backed up ${entries.filter((e) => e.present).length} files (${entries.filter((e) => !e.present).length} absent) with checksums`;
  }

  private async requireManifest(rec: RunRecord): Promise<BackupManifest> {
    const m = await this.runs.loadManifest(rec.runId);
    if (!m) throw new StepFailedError(Codes.BACKUP_CORRUPT, `the backup of run ${rec.runId} is missing`);
    return m;
  }

  private async backupText(rec: RunRecord, m: BackupManifest, nodePath: string): Promise<string | undefined> {
    const e = m.entries.find((x) => x.path === nodePath);
    if (!e || !e.present || !e.copy) return undefined;
    return this.deps.fs.readText(path.join(this.runs.backupDir(rec.runId), 'files', e.copy));
  }

  private async migrateFlags(rec: RunRecord): Promise<string> {
    const m = await this.requireManifest(rec);
    const fragment = m.entries.find((e) => e.path.endsWith('.service') && e.present);
    const unitShape = {
      execStart: m.execStart,
      environmentFiles: m.environmentFiles,
      fragmentPath: fragment?.path ?? '',
      dropInPaths: m.entries.filter((e) => e.path.endsWith('.conf') && e.present).map((e) => e.path),
    };
    // Planned from the originals in the backup, so repeating the step writes the same result.
    const staged = await this.deps.stage.get(rec.toVersion);
    const input = await this.migrationInput(rec.fromVersion, rec.toVersion, unitShape, rec.options.allowDroppedFlags, staged?.path ?? '', (p) => this.backupText(rec, m, p));
    const plan = await this.deps.flags.plan(input);
    let written = 0;
    for (const edit of plan.edits) {
      const entry = m.entries.find((e) => e.path === edit.path && e.present);
      if (!entry) throw new StepFailedError(Codes.FLAG_EDIT_OUTSIDE_BACKUP, `flag migration wants to edit ${edit.path}, which is not in the backup`);
      const current = await this.deps.fs.readText(this.host(edit.path));
      if (current !== edit.content) {
        await this.deps.fs.writeAtomic(this.host(edit.path), edit.content, entry.mode);
        written += 1;
      }
    }
    const notes = plan.notes.length ? `: ${plan.notes.join('; ')}` : '';
    return `${plan.edits.length} file(s) migrated (${written} written now)${notes}`;
  }

  private async writeSkipFile(rec: RunRecord): Promise<string> {
    const m = await this.requireManifest(rec);
    const original = parseSkipFile(this.config.skipFile, await this.backupText(rec, m, this.config.skipFile));
    const file = this.host(this.config.skipFile);
    if (original.present && !original.valid) throw new StepFailedError(Codes.SKIP_FILE_MALFORMED, `the skip file was malformed: ${original.problem}`);
    let content: string;
    let why: string;
    if (original.valid && original.version !== rec.toVersion) {
      content = original.raw;
      why = `kept the existing skip file (${original.version})`;
    } else {
      content = formatSkipFile(rec.fromVersion, m.oldStartUnixSec);
      why = `wrote ${content}`;
    }
    if ((await this.deps.fs.readText(file)) !== content) {
      await this.deps.fs.mkdirp(path.dirname(file));
      await this.deps.fs.writeAtomic(file, content, 0o644);
    }
    return why;
  }

  private async swapBinary(rec: RunRecord): Promise<string> {
    const target = this.host(this.config.kubeletBinary);
    const staged = await this.deps.stage.get(rec.toVersion);
    if (!staged) throw new StepFailedError(Codes.NOT_STAGED, `the ${rec.toVersion} binary is no longer staged`);
    // Hash the current binary only when the sizes agree (the kubelet is stopped: every ms counts).
    const current = await this.deps.fs.stat(target);
    if (current?.size === staged.size && (await this.deps.fs.sha256(target)) === rec.targetSha256) return `${this.config.kubeletBinary} is already ${rec.toVersion}`;
    // Copy beside (hashing as it copies), fsync, rename, fsync the directory.
    await this.deps.fs.copyAtomicVerified(staged.path, target, 0o755, rec.targetSha256);
    return `${this.config.kubeletBinary} is now ${rec.toVersion}`;
  }

  private async restore(rec: RunRecord): Promise<string> {
    const m = await this.runs.loadManifest(rec.runId);
    if (!m) return 'no backup was taken: nothing to restore';
    const dir = path.join(this.runs.backupDir(rec.runId), 'files');
    let restored = 0;
    for (const e of m.entries) {
      const target = this.host(e.path);
      if (!e.present || !e.copy) {
        if ((await this.deps.fs.stat(target)) !== undefined) {
          await this.deps.fs.remove(target);
          await this.deps.fs.fsyncDir(path.dirname(target));
          restored += 1;
        }
        continue;
      }
      const copy = path.join(dir, e.copy);
      const want = e.sha256 ?? '';
      const cur = await this.deps.fs.stat(target);
      if (cur !== undefined && cur.size === e.size && cur.mode === e.mode && (await this.deps.fs.sha256(target)) === want) continue;
      await this.deps.fs.mkdirp(path.dirname(target));
      try {
        // Verified against the manifest while copying: a damaged backup never replaces a file.
        await this.deps.fs.copyAtomicVerified(copy, target, e.mode ?? 0o644, want);
      } catch (err) {
        if (err instanceof KipError && err.code === 'COPY_CHECKSUM_MISMATCH') {
          throw new StepFailedError(Codes.BACKUP_CORRUPT, `the backup copy of ${e.path} does not match its manifest checksum`, { path: e.path }, { cause: err });
        }
        throw err;
      }
      restored += 1;
    }
    return `restored ${restored} of ${m.entries.length} paths from the backup`;
  }

  /** True when the process runs `binary` (directly, or as the script its interpreter runs). */
  private runsBinary(p: { exe: string; argv: string[] }, binary: string): boolean {
    if (p.exe === binary) return true;
    return p.argv[1] === binary || p.argv[2] === binary;
  }

  private async probe(): Promise<{ ok: true; pid: number; restarts: number } | { ok: false; why: string }> {
    const u = await this.deps.systemd.unitInfo(this.config.kubeletUnit);
    if (u.activeState !== 'active') return { ok: false, why: `${this.config.kubeletUnit} is ${u.activeState}/${u.subState}` };
    if (u.mainPid <= 0) return { ok: false, why: `${this.config.kubeletUnit} has no main process` };
    const p = await this.deps.proc.process(u.mainPid);
    if (!p) return { ok: false, why: `main process ${u.mainPid} is gone` };
    if (!this.runsBinary(p, this.config.kubeletBinary)) return { ok: false, why: `main process ${u.mainPid} runs ${p.exe}, not ${this.config.kubeletBinary}` };
    const h = await this.deps.health.healthz(this.config.healthzUrl, Math.max(500, Math.min(2_000, this.config.pollMs * 4)));
    if (!h.ok) return { ok: false, why: `${this.config.healthzUrl}: ${h.detail}` };
    return { ok: true, pid: u.mainPid, restarts: u.nRestarts };
  }

  private async verifyKubelet(expect: string, timeoutMs: number, code: string): Promise<string> {
    // The version check runs beside the first probes: `--version` of a real kubelet takes a while.
    const versionCheck = this.deps.kubelet.version(this.host(this.config.kubeletBinary)).then(
      (printed) => (printed === expect ? undefined : new StepFailedError(code, `${this.config.kubeletBinary} reports ${printed}, expected ${expect}`)),
      (err: unknown) => toKipError(err),
    );
    const clock = this.deps.clock;
    const deadline = clock.now() + timeoutMs;
    let since: number | undefined;
    let pid = 0;
    let restarts = 0;
    let why = 'not probed';
    let firstHealthyAt = 0;
    for (;;) {
      const r = await this.probe();
      const now = clock.now();
      if (r.ok) {
        if (firstHealthyAt === 0) firstHealthyAt = now;
        if (since === undefined || r.pid !== pid || r.restarts !== restarts) {
          since = now;
          pid = r.pid;
          restarts = r.restarts;
        }
        if (now - since >= this.config.stableMs) {
          const versionProblem = await versionCheck;
          if (versionProblem) throw versionProblem;
          return `${expect} active and healthy for ${now - since} ms (pid ${pid}); first healthy at ${firstHealthyAt}`;
        }
        why = `healthy for only ${now - since} ms`;
      } else {
        since = undefined;
        why = r.why;
      }
      if (now >= deadline) {
        const versionProblem = await versionCheck;
        if (versionProblem) throw versionProblem;
        throw new StepFailedError(code, `the ${expect} kubelet did not become stable and healthy within ${timeoutMs} ms: ${why}`, { lastProblem: why });
      }
      await clock.sleep(this.config.pollMs);
    }
  }
}

/** Full versions of each minor from `oldest` to `newest` as the hash engine needs them (minors). */
function minorsBetween(oldest: string, newest: string): string[] {
  const minor = (v: string): number => Number(/^v?1\.(\d+)/.exec(v)?.[1] ?? NaN);
  const a = minor(oldest);
  const b = minor(newest);
  if (!Number.isFinite(a) || !Number.isFinite(b) || a > b) return [newest];
  return Array.from({ length: b - a + 1 }, (_, i) => `1.${a + i}`);
}
