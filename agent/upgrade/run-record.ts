/** A new run's journal record and options, from the Upgrade request (pure). */
import type { ComponentSpec } from './component.ts';
import { Codes, InvalidInputError } from './errors.ts';
import { stagedComponent } from './stage.ts';
import type { RunRecord, StagedBinaryInfo, UpgradeOptions } from './types.ts';

export interface RunRequestShape {
  readonly runId: string;
  readonly targetVersion: string;
  readonly verifyTimeoutMs?: number;
  readonly allowDroppedFlags?: readonly string[];
  readonly allowUnpatched?: boolean;
  readonly keepServedApis?: readonly string[];
}

export function runOptions(req: RunRequestShape, defaultVerifyTimeoutMs: number): UpgradeOptions {
  const keep = [...(req.keepServedApis ?? [])];
  return {
    verifyTimeoutMs: req.verifyTimeoutMs && req.verifyTimeoutMs > 0 ? req.verifyTimeoutMs : defaultVerifyTimeoutMs,
    allowDroppedFlags: [...(req.allowDroppedFlags ?? [])],
    allowUnpatched: req.allowUnpatched ?? false,
    ...(keep.length > 0 ? { keepServedApis: keep } : {}),
  };
}

/** The kubelet's runs carry no component fields, exactly as before components existed. */
export function newRunRecord(o: { req: RunRequestShape; options: UpgradeOptions; from: string; staged: StagedBinaryInfo | undefined; spec: ComponentSpec; held: boolean; nowMs: number }): RunRecord {
  return {
    schema: 1,
    runId: o.req.runId,
    fromVersion: o.from,
    toVersion: o.req.targetVersion,
    targetSha256: o.staged?.sha256 ?? '',
    options: o.options,
    phase: 'RUN_RUNNING',
    step: 'VERIFY_STAGED',
    stepStatus: 'STEP_STARTED',
    events: [],
    startedAtMs: o.nowMs,
    finishedAtMs: 0,
    errorCode: '',
    errorMessage: '',
    journalTail: [],
    flagNotes: [],
    ...(o.spec.name !== 'kubelet' ? { component: o.spec.name, spec: o.spec, heldAtStart: o.held } : {}),
  };
}

/** A second Upgrade call with a known run id must ask for the same run (re-attach), else RUN_ID_CONFLICT. */
export function assertSameRun(existing: RunRecord, req: { runId: string; targetVersion: string; component?: string }): RunRecord {
  const want = stagedComponent(req.component);
  const has = existing.component ?? 'kubelet';
  if (has !== want) {
    throw new InvalidInputError(Codes.RUN_ID_CONFLICT, `run ${req.runId} upgrades ${has}, not ${want}`, { runId: req.runId });
  }
  if (existing.toVersion !== req.targetVersion) {
    throw new InvalidInputError(Codes.RUN_ID_CONFLICT, `run ${req.runId} upgrades to ${existing.toVersion}, not ${req.targetVersion}`, { runId: req.runId });
  }
  return existing;
}
