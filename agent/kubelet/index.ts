/**
 * kubelet knowledge and inspection (issue 3, items 2-3). Pure logic except the binary inspector.
 *
 * Typical use by the upgrade state machine:
 *
 *   const info = await inspectKubeletBinary(stagedPath, { exec }, { skipFilePath });
 *   checkUpgradeStep(running.version, info.version);           // skew / downgrade / placeholder
 *   const envPaths = referencedEnvironmentFiles(units);          // read those files (missing -> omit)
 *   const plan = planFlagMigration({ from, to, units, envFiles, overrides,
 *                                    targetFlags: await listKubeletFlags(stagedPath, exec) });
 *   for (const f of plan.files) atomicWrite(f.path, f.after);    // after backing up f.before
 */
export * from './errors.ts';
export * from './knowledge.ts';
export { parseEnvFile, envFileVariables, serializeEnvAssignment, isValidEnvName } from './envfile.ts';
export type { EnvAssignment, ParsedEnvFile, QuoteStyle, IgnoredEnvLine } from './envfile.ts';
export { parseUnitFiles, quoteUnitWord } from './unitfile.ts';
export type { UnitFileInput, ParsedUnits, RawWord, ExecStartDef, UnitEnvironmentAssignment, EnvironmentFileRef } from './unitfile.ts';
export {
  resolveKubeletCommandLine,
  referencedEnvironmentFiles,
  effectiveFlags,
  lastFlagValue,
  normalizeFlagName,
  describeSource,
} from './cmdline.ts';
export type { KubeletUnitInput, EffectiveCommandLine, EffectiveFlag, FlagOccurrence, ArgWord, WordSource, VariableDefinition } from './cmdline.ts';
export { planFlagMigration, parseGoBool, BOOLEAN_FLAGS } from './migrate.ts';
export type { FlagMigrationInput, FlagMigrationPlan, PlannedChange, FileRewrite, ChangeAction } from './migrate.ts';
export {
  inspectKubeletBinary,
  readKubeletVersion,
  listKubeletFlags,
  parseHelpFlags,
  scanFile,
  StreamSearcher,
  nodeBinaryFs,
  DEFAULT_SKIP_FILE_PATH,
  DEFAULT_PATCH_MARKERS,
  detectKubeletPatch,
} from './inspect.ts';
export type { BinaryFs, ReadableFile, InspectOptions, KubeletBinaryInfo, MarkerHit, ScanResult } from './inspect.ts';
