/**
 * Which agents run the control plane: every agent's GetNode lists its components. Hosts that
 * should run it (listed in --inventory, or Nodes labelled as control plane) must answer, or the
 * command stops with bad input before anything changes.
 */
import type { V1Node } from '@kubernetes/client-node';
import { InvalidInputError } from '../../lib/errors.ts';
import type { AgentEndpoint, AgentPort, NodeInfo } from '../fleet/port.ts';
import type { ControlPlaneFleet } from '../plan/run-steps.ts';
import type { ControlPlaneNodeSpec } from '../rollout/spec.ts';

const CONTROL_PLANE = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'];
const ROLE_LABELS = ['node-role.kubernetes.io/master', 'node-role.kubernetes.io/control-plane'];

export function isControlPlaneNode(n: V1Node): boolean {
  return ROLE_LABELS.some((l) => n.metadata?.labels?.[l] !== undefined);
}

const loopback = (host: string): boolean => host === 'localhost' || host.startsWith('127.') || host === '[::1]' || host === '::1';

/** Where a node's apiserver answers from the coordinator: its health URL, a loopback host replaced by the agent's. */
export function apiserverUrlOf(info: NodeInfo, endpoint: AgentEndpoint | undefined): string {
  const c = info.components.find((x) => x.name === 'kube-apiserver');
  if (!c?.healthUrl) return '';
  try {
    const u = new URL(c.healthUrl);
    const agentHost = endpoint?.address.replace(/:\d+$/, '');
    const host = loopback(u.hostname) && agentHost ? agentHost : u.host.replace(/:\d+$/, '');
    return `${u.protocol}//${host}:${u.port || '6443'}`;
  } catch {
    return '';
  }
}

export async function discoverControlPlane(
  agents: ReadonlyMap<string, AgentPort>, endpoints: ReadonlyMap<string, AgentEndpoint>, nodes: readonly V1Node[], etcdNode: string | undefined,
): Promise<ControlPlaneFleet> {
  const names = [...agents.keys()].sort();
  const infos = await Promise.allSettled(names.map((n) => agents.get(n)!.getNode()));
  const expected = new Set([...[...endpoints.values()].filter((e) => e.source === 'inventory').map((e) => e.node), ...nodes.filter(isControlPlaneNode).map((n) => n.metadata?.name ?? '')]);
  const silent = names.flatMap((n, i) => {
    const r = infos[i]!;
    return r.status === 'rejected' && expected.has(n) ? [`${n} (${r.reason instanceof Error ? r.reason.message : String(r.reason)})`] : [];
  });
  if (silent.length > 0) throw new InvalidInputError('AGENT_UNREACHABLE', `control-plane agent${silent.length > 1 ? 's' : ''} not answering: ${silent.join('; ')}: check the agents, --pki-dir and --inventory`, { nodes: silent });
  const cp: ControlPlaneNodeSpec[] = [];
  const proxies = new Set<string>();
  let withEtcd: string | undefined;
  names.forEach((n, i) => {
    const r = infos[i]!;
    if (r.status !== 'fulfilled') return;
    const comps = r.value.components.map((c) => c.name);
    if (comps.includes('kube-proxy')) proxies.add(n);
    const mine = comps.filter((c) => CONTROL_PLANE.includes(c));
    if (mine.length > 0) cp.push({ name: n, components: mine, apiserverUrl: apiserverUrlOf(r.value, endpoints.get(n)) });
    if (!withEtcd && (r.value.etcdSnapshots.length > 0 || comps.includes('etcd'))) withEtcd = n;
  });
  if (etcdNode !== undefined && !agents.has(etcdNode)) {
    throw new InvalidInputError('ETCD_NODE_UNKNOWN', `--etcd-node ${etcdNode}: no agent known by that name (agents: ${names.join(', ')})`, { node: etcdNode });
  }
  const etcd = etcdNode ?? withEtcd ?? cp.find((n) => n.components.includes('kube-apiserver'))?.name ?? '';
  return { nodes: cp, etcdNode: etcd, kubeProxyNodes: proxies };
}
