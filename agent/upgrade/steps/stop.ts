import { done, skippedHeld, type StepBody } from './context.ts';

/**
 * STOP_KUBELET and ROLLBACK_STOP: `systemctl stop` (stopping a stopped unit is a no-op). A static
 * pod is not stopped: the kubelet replaces its container when the manifest changes, and stopping
 * the kubelet would stop nothing (its containers keep running).
 */
export const stopUnit: StepBody = async (ctx) => {
  const c = ctx.component;
  if (c.kind === 'static-pod') return done(`${c.name} is a static pod: the kubelet replaces its container when the manifest changes`);
  await ctx.deps.systemd.stop(c.unit);
  if (await ctx.isHeld()) return skippedHeld(`${c.unit} stays stopped`);
  return done(`${c.unit} stopped`);
};
