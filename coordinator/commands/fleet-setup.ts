/** Shared by the commands that reach agents: endpoints from Nodes and --inventory, mTLS from --pki-dir, a reachability check. */
import { join } from 'node:path';
import { InvalidInputError } from '../../lib/errors.ts';
import { parseAnsibleInventory } from '../fleet/ansible-inventory.ts';
import { agentEndpoints, parseInventory } from '../fleet/inventory.ts';
import type { AgentEndpoint, AgentPort } from '../fleet/port.ts';
import type { ClusterApi } from '../ports.ts';
import { positiveInt, stateDirOf, type CommandContext } from './common.ts';

export interface AgentFlags {
  readonly pkiDir?: string;
  readonly inventory?: string;
  readonly fromAnsible?: string;
  readonly agentPort: string;
  readonly stateDir?: string;
}

export async function connectFleet(ctx: CommandContext, cluster: ClusterApi, flags: AgentFlags): Promise<Map<string, AgentPort>> {
  return (await connectFleetEndpoints(ctx, cluster, flags)).agents;
}

/** The agents and where each one is (the control plane needs the addresses). */
export async function connectFleetEndpoints(ctx: CommandContext, cluster: ClusterApi, flags: AgentFlags): Promise<{ agents: Map<string, AgentPort>; endpoints: Map<string, AgentEndpoint> }> {
  const port = positiveInt('--agent-port', flags.agentPort);
  // Both may be given: the Ansible hosts first, --inventory overriding them by name.
  const inventory = [
    ...(flags.fromAnsible ? parseAnsibleInventory(await ctx.io.readInput(flags.fromAnsible), flags.fromAnsible, port) : []),
    ...(flags.inventory ? parseInventory(await ctx.io.readInput(flags.inventory), flags.inventory) : []),
  ];
  const endpoints = agentEndpoints(await cluster.nodes(), inventory, port);
  const tls = await ctx.ports.agentTls(flags.pkiDir ?? join(stateDirOf(ctx.io, flags), 'pki'));
  return { agents: new Map([...endpoints].map(([name, e]) => [name, ctx.ports.agent(e, tls)])), endpoints };
}

/** Every named agent answers GetNode, or INVALID input naming the ones that do not. */
export async function checkAgentsAnswer(agents: ReadonlyMap<string, AgentPort>, nodes: readonly string[]): Promise<void> {
  const missing = nodes.filter((n) => !agents.has(n));
  if (missing.length > 0) throw new InvalidInputError('AGENT_UNKNOWN', `no agent known for ${missing.join(', ')}: the Node has no InternalIP, or add it to --inventory`, { nodes: missing });
  const results = await Promise.allSettled(nodes.map((n) => agents.get(n)!.getNode()));
  const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${nodes[i]} (${r.reason instanceof Error ? r.reason.message : String(r.reason)})`] : []));
  if (failed.length > 0) throw new InvalidInputError('AGENT_UNREACHABLE', `agent${failed.length > 1 ? 's' : ''} not answering: ${failed.join('; ')}: check the agents, --pki-dir and --inventory`, { nodes: failed });
}

export function closeFleet(agents: ReadonlyMap<string, AgentPort>): void {
  for (const a of agents.values()) a.close();
}
