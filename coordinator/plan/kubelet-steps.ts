/**
 * The kubelet steps a run executes, from a plan, with what this build can do checked up front:
 * control-plane steps are refused (the agent's component upgrades come separately), a kubelet hop
 * over more than one minor is refused (the agent upgrades one minor per run: checkUpgradePath),
 * and every hop needs a concrete release.
 */
import { InvalidInputError } from '../../lib/errors.ts';
import type { KubeletStepSpec } from '../rollout/spec.ts';
import type { KubeletPlanKind, VersionPlan } from './path.ts';

export function kubeletSteps(plan: VersionPlan, kind: KubeletPlanKind, zones: ReadonlyMap<string, string>): KubeletStepSpec[] {
  if (plan.controlPlanePath.length > 0) {
    throw new InvalidInputError('UPGRADE_CONTROL_PLANE_NEEDED', `kube-apiserver runs ${plan.apiserver}; ${plan.target} needs control-plane steps (${plan.controlPlanePath.join(' -> ')}), which this kip does not drive yet: upgrade the control plane to ${plan.target} first (kubelets may trail it, kip plan shows how far), then run kip upgrade --to ${plan.target} for the kubelets`, { apiserver: plan.apiserver, path: plan.controlPlanePath });
  }
  const out: KubeletStepSpec[] = [];
  for (const step of plan.plans[kind].steps) {
    for (const hop of step.kubelets) {
      if (hop.minors > 1) throw new InvalidInputError('UPGRADE_HOP_TOO_WIDE', `the ${kind} plan moves ${hop.nodes.join(', ')} from ${hop.from} to ${hop.to} (${hop.minors} minors at once); the agent upgrades a kubelet one minor per run: use --plan every-step`, { from: hop.from, to: hop.to });
      if (hop.to.endsWith('.x')) throw new InvalidInputError('UPGRADE_NO_RELEASE', `no release known for ${hop.to}: give --releases DIR with a folder for that minor (e.g. ${hop.to.replace(/x$/, '0')}/kubelet)`, { to: hop.to });
      out.push({ index: out.length, to: hop.to, nodes: hop.nodes.map((n) => ({ name: n, from: hop.from, zone: zones.get(n) ?? '' })) });
    }
  }
  return out;
}
