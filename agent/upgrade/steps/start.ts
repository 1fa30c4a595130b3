import { done, type StepBody } from './context.ts';

/**
 * START_KUBELET: a daemon-reload costs ~200 ms of downtime and is needed only when a unit file or
 * drop-in changed (systemd says so in NeedDaemonReload; environment files are read at start).
 */
export const startUnit: StepBody = async (ctx) => {
  const unit = ctx.component.unit;
  const reload = (await ctx.deps.systemd.unitInfo(unit)).needDaemonReload;
  if (reload) await ctx.deps.systemd.daemonReload();
  await ctx.deps.systemd.start(unit);
  return done(`${unit} started${reload ? ' (after daemon-reload: unit files changed)' : ''}`);
};

/**
 * ROLLBACK_START always reloads: it also clears the start rate limit a crash-looping new process
 * has hit, without which systemd refuses to start the old one.
 */
export const rollbackStartUnit: StepBody = async (ctx) => {
  const unit = ctx.component.unit;
  await ctx.deps.systemd.daemonReload();
  await ctx.deps.systemd.start(unit);
  return done(`${unit} started (after daemon-reload: unit files changed)`);
};
