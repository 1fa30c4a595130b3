/** The container inventory moved to coordinator/rollout/inventory.ts (the engine gates on it). */
export * from '../../coordinator/rollout/inventory.ts';
