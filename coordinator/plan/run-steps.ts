/**
 * The steps a run executes, from a plan: kubelet steps, and control-plane steps that own the
 * kubelet hops taken after them, in the order the plan gives (kubelets brought up before the
 * control plane moves come first). Pure; what this build can do is checked up front: a kubelet
 * hop over more than one minor is refused (the agent upgrades one minor per run), and every
 * version needs a concrete release.
 */
import { InvalidInputError } from '../../lib/errors.ts';
import { gateChangesBetween } from '../../lib/knowledge/gates/index.ts';
import { parseRealVersion } from '../../lib/knowledge/version.ts';
import type { ControlPlaneNodeSpec, ControlPlaneStepSpec, KubeletStepSpec, SequenceItem } from '../rollout/spec.ts';
import type { KubeletPlanKind, VersionPlan } from './path.ts';

export interface ControlPlaneFleet {
  readonly nodes: readonly ControlPlaneNodeSpec[];
  readonly etcdNode: string;
  /** Nodes whose agent runs kube-proxy as a component. */
  readonly kubeProxyNodes: ReadonlySet<string>;
}

export interface RunSteps {
  readonly steps: KubeletStepSpec[];
  readonly controlPlane: ControlPlaneStepSpec[];
  readonly sequence: SequenceItem[];
}

const noRelease = (v: string): InvalidInputError =>
  new InvalidInputError('UPGRADE_NO_RELEASE', `no release known for ${v}: give --releases DIR with a folder for that minor (e.g. ${v.replace(/x$/, '0')}/)`, { to: v });

export function runSteps(plan: VersionPlan, kind: KubeletPlanKind, zones: ReadonlyMap<string, string>, fleet: ControlPlaneFleet | undefined): RunSteps {
  if (plan.controlPlanePath.length > 0 && (!fleet || !fleet.nodes.some((n) => n.components.includes('kube-apiserver')))) {
    throw new InvalidInputError('CONTROL_PLANE_UNKNOWN', `kube-apiserver runs ${plan.apiserver} and ${plan.target} needs control-plane steps (${plan.controlPlanePath.join(' -> ')}), but no agent reports kube-apiserver among its components: run a kip-agent on each control-plane host and list hosts without a Node in --inventory`, { path: plan.controlPlanePath });
  }
  const steps: KubeletStepSpec[] = [];
  const controlPlane: ControlPlaneStepSpec[] = [];
  const sequence: SequenceItem[] = [];
  for (const planStep of plan.plans[kind].steps) {
    const own: number[] = [];
    for (const hop of planStep.kubelets) {
      if (hop.minors > 1) throw new InvalidInputError('UPGRADE_HOP_TOO_WIDE', `the ${kind} plan moves ${hop.nodes.join(', ')} from ${hop.from} to ${hop.to} (${hop.minors} minors at once); the agent upgrades a kubelet one minor per run: use --plan every-step`, { from: hop.from, to: hop.to });
      if (hop.to.endsWith('.x')) throw noRelease(hop.to);
      const proxies = hop.nodes.filter((n) => fleet?.kubeProxyNodes.has(n));
      steps.push({ index: steps.length, to: hop.to, nodes: hop.nodes.map((n) => ({ name: n, from: hop.from, zone: zones.get(n) ?? '' })), ...(proxies.length > 0 ? { kubeProxyNodes: proxies } : {}) });
      own.push(steps.length - 1);
    }
    const cp = planStep.controlPlane;
    if (cp && fleet) {
      if (cp.to.endsWith('.x')) throw noRelease(cp.to);
      const from = parseRealVersion(cp.from, 'control-plane version').minor;
      const to = parseRealVersion(cp.to, 'control-plane version').minor;
      controlPlane.push({
        index: controlPlane.length, from: cp.from, to: cp.to, nodes: fleet.nodes, etcdNode: fleet.etcdNode, kubeletSteps: own,
        touchTolerations: gateChangesBetween(from, to).some((g) => g.gate === 'TaintBasedEvictions' && g.to),
      });
      sequence.push({ kind: 'control-plane', step: controlPlane.length - 1 });
    } else {
      for (const i of own) sequence.push({ kind: 'kubelets', step: i });
    }
  }
  return { steps, controlPlane, sequence };
}
