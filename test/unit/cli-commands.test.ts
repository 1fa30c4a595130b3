/**
 * The command table (coordinator/commands/index.ts) against the modules it names, and the lazy
 * loading it buys: `kip --help` lists every command exactly as the fully registered program does,
 * and neither the top-level help nor a bad command line loads grpc or SQLite (issue 12: `kip --help`
 * cold start under 300 ms).
 */
import { execa } from 'execa';
import { join } from 'node:path';
import { Command, Help } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram, main } from '../../coordinator/cli.ts';
import { COMMANDS } from '../../coordinator/commands/index.ts';
import type { CommandContext, RegisterCommand } from '../../coordinator/commands/common.ts';
import { recordingIo } from './cli-fakes.ts';

const REPO = join(import.meta.dirname, '..', '..');
const noPorts = () => { throw new Error('no ports in this test'); };
const ctx = (): CommandContext => ({ io: recordingIo(), ports: { cluster: noPorts, agentTls: noPorts, agent: noPorts, openStore: noPorts } as unknown as CommandContext['ports'], exit: () => undefined });

describe('the command table', () => {
  it('each entry names the module that registers exactly that command, with the term and summary written in the table', async () => {
    const names = new Set<string>();
    for (const entry of COMMANDS) {
      const program = new Command('kip');
      (await entry.load())(program, ctx());
      expect(program.commands.map((c) => c.name())).toEqual([entry.name]);
      const cmd = program.commands[0]!;
      expect(cmd.description()).toBe(entry.summary);
      expect(new Help().subcommandTerm(cmd)).toBe(entry.term);
      names.add(entry.name);
    }
    expect(names.size).toBe(COMMANDS.length);
  });

  it('kip --help from the table reads the same as the program with every command registered', async () => {
    const all = new Map<string, RegisterCommand>();
    for (const e of COMMANDS) all.set(e.name, await e.load());
    const io = recordingIo();
    expect(await main(['--help'], io)).toBe(0);
    expect(io.out).toBe(buildProgram(ctx(), all).helpInformation() + buildHelpTail(io.out));
    expect(io.out).toMatch(/ping \[options\] <address>\s+wait until one agent answers/);
  });

  it('neither kip --help nor an unknown command nor a bad option loads grpc-js or better-sqlite3 (a child process, from the checkout)', async () => {
    const probe = `
      import { createRequire } from 'node:module';
      const { main } = await import(${JSON.stringify(join(REPO, 'coordinator/cli.ts'))});
      const quiet = { stdout: () => {}, stderr: () => {}, readInput: async () => '' };
      const codes = [await main(['--help'], quiet), await main(['bogus'], quiet), await main(['upgrade', '--bogus'], quiet), await main([], quiet)];
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => /@grpc[\\\\/]grpc-js|better-sqlite3/.test(k));
      process.stdout.write(JSON.stringify({ codes, loaded }));
    `;
    const r = await execa(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], { cwd: REPO, reject: false, timeout: 120_000 });
    expect(r.exitCode, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { codes: number[]; loaded: string[] };
    expect(out.codes).toEqual([0, 2, 2, 2]);
    expect(out.loaded).toEqual([]);
  });
});

/** main's help ends with the exit codes text (addHelpText 'after'), which helpInformation() leaves out. */
function buildHelpTail(out: string): string {
  const at = out.indexOf('\nExit codes:');
  return at < 0 ? '' : out.slice(at);
}
