import { done, type StepBody } from './context.ts';

/** STOP_KUBELET and ROLLBACK_STOP: `systemctl stop` (stopping a stopped unit is a no-op). */
export const stopUnit: StepBody = async (ctx) => {
  await ctx.deps.systemd.stop(ctx.component.unit);
  return done(`${ctx.component.unit} stopped`);
};
