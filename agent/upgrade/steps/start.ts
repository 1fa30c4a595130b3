import { done, skippedHeld, type StepBody } from './context.ts';

/**
 * START_KUBELET: a daemon-reload costs ~200 ms of downtime and is needed only when a unit file or
 * drop-in changed (systemd says so in NeedDaemonReload; environment files are read at start).
 * A held component is not started (its hold drop-in would skip the start job anyway): Release
 * starts it. A static pod is started by the kubelet from the rewritten manifest.
 */
export const startUnit: StepBody = async (ctx) => {
  const c = ctx.component;
  if (c.kind === 'static-pod') return (await ctx.isHeld()) ? skippedHeld('start') : done(`the kubelet starts ${c.name} from the rewritten manifest`);
  const unit = c.unit;
  const reload = (await ctx.deps.systemd.unitInfo(unit)).needDaemonReload;
  if (reload) await ctx.deps.systemd.daemonReload();
  if (await ctx.isHeld()) return skippedHeld(`start ${unit}`);
  await ctx.deps.systemd.start(unit);
  return done(`${unit} started${reload ? ' (after daemon-reload: unit files changed)' : ''}`);
};

/**
 * ROLLBACK_START always reloads: it also clears the start rate limit a crash-looping new process
 * has hit, without which systemd refuses to start the old one.
 */
export const rollbackStartUnit: StepBody = async (ctx) => {
  const c = ctx.component;
  if (c.kind === 'static-pod') return (await ctx.isHeld()) ? skippedHeld('start') : done(`the kubelet starts ${c.name} from the restored manifest`);
  const unit = c.unit;
  await ctx.deps.systemd.daemonReload();
  if (await ctx.isHeld()) return skippedHeld(`start ${unit}`);
  await ctx.deps.systemd.start(unit);
  return done(`${unit} started (after daemon-reload: unit files changed)`);
};
