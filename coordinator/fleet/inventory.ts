/**
 * Where the agents are: every Node's InternalIP at the agent port, plus an inventory file for
 * hosts without a Node (control-plane hosts without a kubelet, etcd hosts) and overrides:
 *
 *   agents:
 *     - name: worker-1            # a Node name (overrides its endpoint) or a host without a Node
 *       address: 10.0.0.5:7443
 *       serverName: worker-1      # optional: the name in the agent's certificate
 */
import type { V1Node } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { InvalidInputError } from '../../lib/errors.ts';
import type { AgentEndpoint } from './port.ts';

export const DEFAULT_AGENT_PORT = 7443;

export class InventoryError extends InvalidInputError {}

export function parseInventory(text: string, file: string): AgentEndpoint[] {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (cause) {
    throw new InventoryError('INVENTORY_UNPARSABLE', `--inventory ${file} is not YAML: ${cause instanceof Error ? cause.message.split('\n')[0] : String(cause)}`, { file }, { cause });
  }
  if (doc === null || doc === undefined) return [];
  const agents = typeof doc === 'object' && !Array.isArray(doc) ? (doc as Record<string, unknown>).agents : undefined;
  if (!Array.isArray(agents)) throw new InventoryError('INVENTORY_INVALID', `--inventory ${file}: expected a mapping with an "agents" list (agents: [{name, address}])`, { file });
  return agents.map((a, i): AgentEndpoint => {
    const rec = typeof a === 'object' && a !== null && !Array.isArray(a) ? (a as Record<string, unknown>) : {};
    const name = rec.name;
    const address = rec.address;
    if (typeof name !== 'string' || name === '') throw new InventoryError('INVENTORY_INVALID', `--inventory ${file}: agents[${i}].name must be a non-empty string`, { file, index: i });
    if (typeof address !== 'string' || !/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(address)) {
      throw new InventoryError('INVENTORY_INVALID', `--inventory ${file}: agents[${i}].address must be host:port, not ${JSON.stringify(address)}`, { file, index: i });
    }
    const serverName = rec.serverName;
    if (serverName !== undefined && typeof serverName !== 'string') throw new InventoryError('INVENTORY_INVALID', `--inventory ${file}: agents[${i}].serverName must be a string`, { file, index: i });
    return { node: name, address, source: 'inventory', ...(serverName ? { serverName } : {}) };
  });
}

export function internalIp(node: V1Node): string | undefined {
  return node.status?.addresses?.find((a) => a.type === 'InternalIP')?.address;
}

/** One endpoint per node name: Nodes first, the inventory overriding and adding. */
export function agentEndpoints(nodes: readonly V1Node[], inventory: readonly AgentEndpoint[], port = DEFAULT_AGENT_PORT): Map<string, AgentEndpoint> {
  const out = new Map<string, AgentEndpoint>();
  for (const n of nodes) {
    const name = n.metadata?.name;
    const ip = internalIp(n);
    if (!name || !ip) continue;
    out.set(name, { node: name, address: ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`, source: 'node' });
  }
  for (const e of inventory) out.set(e.node, e);
  return out;
}
