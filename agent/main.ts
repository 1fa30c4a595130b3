/**
 * kip-agent's entry: --help and the configuration first, then the agent itself (./run.ts) as a
 * dynamic import, so `kip-agent --help` and a bad configuration exit without loading grpc, the
 * runtimes and the upgrade machinery (the checkout runs this through tsx: seconds on a loaded node).
 */
import { helpText, loadAgentConfig } from './config.ts';
import { agentVersion } from './version.ts';
import { optimizeOnlyHotWork } from '../lib/optimizer.ts';

export async function main(argv: readonly string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${helpText()}\n`);
    return;
  }
  // Version and architecture: what an installer (or a qemu check of the arm64 build) asks first.
  if (argv.length === 1 && argv[0] === '--version') {
    process.stdout.write(`kip-agent ${agentVersion()} (node ${process.version}, ${process.platform}-${process.arch})\n`);
    return;
  }
  let config;
  try {
    config = await loadAgentConfig({ argv, env: process.env });
  } catch (err) {
    process.stderr.write(`kip-agent: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
    return;
  }
  // TurboFan only inside hashing and parsing passes (lib/optimizer.ts), set before run.ts and its
  // modules load: their start-up work (the embedded protos, gRPC) is hot enough for TurboFan too.
  // KIP_AGENT_OPTIMIZER=always keeps V8's default (to compare, or should a V8 ever misbehave).
  if (process.env.KIP_AGENT_OPTIMIZER !== 'always') optimizeOnlyHotWork();
  const { runAgent } = await import('./run.ts');
  await runAgent(config);
}
