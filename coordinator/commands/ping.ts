/**
 * `kip ping HOST:PORT`: waits until one agent answers GetNode over mutual TLS and prints what it
 * says (node, agent and kubelet versions, certificate expiry). The Ansible role's last task: an
 * agent installed is an agent that answers, with a certificate the coordinator accepts. A viewer
 * certificate is enough (GetNode does not mutate).
 *
 *   kip ping 10.0.0.5:7443 [--pki-dir DIR | --ca F --cert F --key F] [--server-name NAME] [--timeout 60] [-o json|table]
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { InvalidInputError } from '../../lib/errors.ts';
import { waitFor } from '../../lib/poll.ts';
import { EXIT_OK } from '../io.ts';
import { addOutput, positiveInt, render, runAction, type CommandContext, type OutputFormat } from './common.ts';

interface PingFlags {
  pkiDir?: string;
  ca?: string;
  cert?: string;
  key?: string;
  serverName?: string;
  timeout: string;
  output: OutputFormat;
}

async function readPem(file: string, flag: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (cause) {
    throw new InvalidInputError('PKI_UNREADABLE', `${flag} ${file} cannot be read (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { file }, { cause });
  }
}

export function registerPing(program: Command, ctx: CommandContext): void {
  const cmd = program.command('ping').description('wait until one agent answers GetNode over mutual TLS, and show it')
    .argument('<address>', 'host:port of the agent')
    .option('--pki-dir <dir>', 'ca.crt, coordinator.crt, coordinator.key (or use --ca/--cert/--key)')
    .option('--ca <file>', 'CA certificate').option('--cert <file>', 'client certificate (a viewer is enough)').option('--key <file>', 'client key')
    .option('--server-name <name>', "the name in the agent's certificate, when it is not the address host")
    .option('--timeout <s>', 'give up after this many seconds', '60');
  addOutput(cmd);
  cmd.action((address: string, opts: PingFlags) => runAction(ctx, 'ping', async () => {
    if (!/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(address)) throw new InvalidInputError('CLI_USAGE', `address ${JSON.stringify(address)}: expected host:port`);
    const timeoutMs = positiveInt('--timeout', opts.timeout) * 1000;
    const files = opts.ca || opts.cert || opts.key;
    if (files && !(opts.ca && opts.cert && opts.key)) throw new InvalidInputError('CLI_USAGE', '--ca, --cert and --key go together');
    const tls = files
      ? { ca: await readPem(opts.ca!, '--ca'), cert: await readPem(opts.cert!, '--cert'), key: await readPem(opts.key!, '--key') }
      : await ctx.ports.agentTls(opts.pkiDir ?? join(ctx.io.env?.HOME ?? '', '.kip', 'pki'));
    const agent = ctx.ports.agent({ node: address, address, source: 'inventory', ...(opts.serverName ? { serverName: opts.serverName } : {}) }, tls);
    try {
      const info = await waitFor(`the agent at ${address} to answer GetNode`, async () => agent.getNode(), { timeoutMs, intervalMs: 500, clock: ctx.ports.clock });
      const value = {
        address, nodeName: info.nodeName, agentVersion: info.agentVersion, kubeletVersion: info.kubeletVersion,
        certNotAfter: Number(info.tlsCertNotAfterUnixMs) > 0 ? new Date(Number(info.tlsCertNotAfterUnixMs)).toISOString() : '',
      };
      render(ctx.io, opts.output, value, () => `${address}: node ${value.nodeName}, kip-agent ${value.agentVersion}, kubelet ${value.kubeletVersion || '(none)'}\n`);
      return EXIT_OK;
    } finally {
      agent.close();
    }
  }));
}
