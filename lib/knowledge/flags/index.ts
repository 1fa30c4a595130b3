/** Control-plane and kube-proxy flag knowledge (pure): removed, renamed and deprecated flags per minor, each cited. */
export { CONTROL_COMPONENTS, type ChangelogCitation, type ControlComponent, type FlagChange, type FlagMigration } from './types.ts';
export { FLAG_CHANGES, SERVED_API_ESCAPES, formatCitation, type RuntimeConfigEscape } from './table.ts';
export { flagChangesBetween, isControlComponent, parseMinor, planComponentFlagMigration, withRuntimeConfig, type ComponentFlagMigrationInput, type ComponentFlagPlan, type ComponentFlagPlanChange } from './migrate.ts';
export { ComponentFlagsRefusedError, ComponentVersionInvalidError, ComponentVersionSkewError, UnknownComponentError, type ComponentFlagRefusal } from './errors.ts';
