/**
 * `kip inventory --from-ansible FILE [--agent-port 7443] [-o yaml|json]`: the Ansible inventory
 * the kip_agent role installed the agents from, printed as kip's --inventory YAML (agents:
 * [{name, address, groups}]). Every command that takes --inventory also takes --from-ansible.
 * A host without an address exits 2 naming it.
 */
import { Option, type Command } from 'commander';
import { stringify as toYaml } from 'yaml';
import { parseAnsibleInventory } from '../fleet/ansible-inventory.ts';
import { EXIT_OK } from '../io.ts';
import { positiveInt, runAction, type CommandContext } from './common.ts';

export function registerInventory(program: Command, ctx: CommandContext): void {
  program.command('inventory').description("print kip's agent inventory from an Ansible inventory (INI or YAML)")
    .requiredOption('--from-ansible <file>', 'the Ansible inventory (hosts, ansible_host, kip_agent_address, kip_agent_port)')
    .option('--agent-port <port>', 'port for hosts without kip_agent_port', '7443')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['yaml', 'json']).default('yaml'))
    .action((opts: { fromAnsible: string; agentPort: string; output: 'yaml' | 'json' }) => runAction(ctx, 'inventory', async () => {
      const port = positiveInt('--agent-port', opts.agentPort);
      const agents = parseAnsibleInventory(await ctx.io.readInput(opts.fromAnsible), opts.fromAnsible, port);
      const doc = { agents: agents.map((a) => ({ name: a.node, address: a.address, ...(a.groups.length > 0 ? { groups: [...a.groups] } : {}) })) };
      ctx.io.stdout(opts.output === 'json' ? `${JSON.stringify(doc, null, 2)}\n` : `# kip inventory from ${opts.fromAnsible} (kip inventory --from-ansible)\n${toYaml(doc)}`);
      return EXIT_OK;
    }));
}
