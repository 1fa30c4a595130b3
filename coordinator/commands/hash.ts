/**
 * `kip hash`: the kubelet container hash of containers, Pods or PodLists, for one version, or
 * the restart prediction between two versions (which containers an unpatched kubelet upgrade
 * would recreate because their hash changes).
 */
import { parseArgs } from 'node:util';
import { InvalidInputError } from '../../lib/errors.ts';
import {
  collectContainers, decodeAt, hashEngine, hashLabel, normalizeKubeVersion, parseJson, supportedVersions,
  type ContainerRef,
} from '../../lib/knowledge/hash/index.ts';
import { compareMinor } from '../../lib/knowledge/hash/schema.ts';
import type { Command } from 'commander';
import { EXIT_OK, type CliIo } from '../io.ts';
import { runAction, type CommandContext } from './common.ts';

export function hashUsage(): string {
  return `usage:
  kip hash --kube-version 1.17 [FILE|-] [-o text|json] [--source apiserver|file]
  kip hash --from 1.13 --to 1.14 [FILE|-] [-o text|json] [--source apiserver|file]

Input: one container, an array of containers, a Pod, or a PodList (kubectl get pods -A -o json).
With --from/--to: lists every container whose hash differs between the versions (an unpatched
kubelet upgrade would restart it), for each adjacent minor step, with per-namespace totals.
--source file: the containers come from static pod manifests (empty lists are kept).
Supported versions: ${supportedVersions().join(', ')}`;
}

interface HashArgs {
  readonly input: string;
  readonly output: 'text' | 'json';
  readonly source: 'apiserver' | 'file';
  readonly mode: { readonly kind: 'hash'; readonly version: string } | { readonly kind: 'diff'; readonly from: string; readonly to: string };
}

export class UsageError extends InvalidInputError {
  constructor(message: string) {
    super('CLI_USAGE', message);
  }
}

export function parseHashArgs(argv: readonly string[]): HashArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        'kube-version': { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        output: { type: 'string', short: 'o', default: 'text' },
        source: { type: 'string', default: 'apiserver' },
      },
    });
  } catch (err) {
    throw new UsageError(`${err instanceof Error ? err.message : String(err)}\n${hashUsage()}`);
  }
  const { values, positionals } = parsed;
  if (positionals.length > 1) throw new UsageError(`kip hash takes one input file, got ${positionals.length}: ${positionals.join(' ')}`);
  const output = values.output;
  if (output !== 'text' && output !== 'json') throw new UsageError(`-o must be text or json, not "${output}"`);
  const source = values.source;
  if (source !== 'apiserver' && source !== 'file') throw new UsageError(`--source must be apiserver or file, not "${source}"`);
  const version = values['kube-version'];
  const { from, to } = values;
  if (version !== undefined && (from !== undefined || to !== undefined)) {
    throw new UsageError('give either --kube-version, or --from and --to, not both');
  }
  let mode: HashArgs['mode'];
  if (version !== undefined) {
    mode = { kind: 'hash', version: normalizeKubeVersion(version) };
  } else if (from !== undefined && to !== undefined) {
    const f = normalizeKubeVersion(from);
    const t = normalizeKubeVersion(to);
    if (compareMinor(f, t) >= 0) throw new UsageError(`--from ${from} must be an older minor than --to ${to}`);
    mode = { kind: 'diff', from: f, to: t };
  } else {
    throw new UsageError(`kip hash needs --kube-version, or both --from and --to\n${hashUsage()}`);
  }
  return { input: positionals[0] ?? '-', output, source, mode };
}

export async function runHash(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseHashArgs(argv);
  const text = await io.readInput(args.input);
  const root = parseJson(text, args.input === '-' ? 'standard input' : args.input);
  const refs = collectContainers(root);
  if (args.mode.kind === 'hash') {
    const engine = hashEngine(args.mode.version);
    const rows = refs.map((ref) => ({
      pod: ref.pod,
      container: ref.container,
      kubeVersion: engine.kubeVersion,
      hash: hashLabel(engine.hashDecoded(decodeAt(engine, ref, { source: args.source }))),
    }));
    if (args.output === 'json') io.stdout(`${JSON.stringify(rows, null, 2)}\n`);
    // One line per container, no header: `kip hash ... | awk` and `wc -l` count containers.
    else io.stdout(formatTable(['POD', 'CONTAINER', 'VERSION', 'HASH'], rows.map((r) => [r.pod ?? '-', r.container, r.kubeVersion, r.hash])).split('\n').slice(1).join('\n'));
    return EXIT_OK;
  }
  const report = predictRestarts(refs, args.mode.from, args.mode.to, args.source);
  if (args.output === 'json') io.stdout(`${JSON.stringify(report, null, 2)}\n`);
  else io.stdout(formatRestartReport(report));
  return EXIT_OK;
}

export interface RestartStep {
  readonly from: string;
  readonly to: string;
  readonly changed: readonly ChangedContainer[];
  readonly byNamespace: Readonly<Record<string, { readonly changed: number; readonly total: number }>>;
}

export interface ChangedContainer {
  readonly pod: string | null;
  readonly container: string;
  readonly init: boolean;
  readonly fromHash: string;
  readonly toHash: string;
}

export interface RestartReport {
  readonly from: string;
  readonly to: string;
  readonly totalContainers: number;
  readonly steps: readonly RestartStep[];
  /** Containers whose hash differs in at least one step: each restarts at least once. */
  readonly restartedAtLeastOnce: number;
}

/** Minor versions from..to inclusive that kip supports, in order. */
function minorPath(from: string, to: string): string[] {
  return supportedVersions().filter((v) => compareMinor(v, from) >= 0 && compareMinor(v, to) <= 0);
}

export function predictRestarts(refs: readonly ContainerRef[], from: string, to: string, source: 'apiserver' | 'file'): RestartReport {
  const path = minorPath(from, to);
  const hashes = path.map((v) => {
    const engine = hashEngine(v);
    return refs.map((ref) => hashLabel(engine.hashDecoded(decodeAt(engine, ref, { source }))));
  });
  const everChanged = new Set<number>();
  const steps: RestartStep[] = [];
  for (let s = 0; s + 1 < path.length; s++) {
    const before = hashes[s]!;
    const after = hashes[s + 1]!;
    const changed: ChangedContainer[] = [];
    const byNamespace: Record<string, { changed: number; total: number }> = {};
    refs.forEach((ref, i) => {
      const ns = namespaceOf(ref);
      const entry = (byNamespace[ns] ??= { changed: 0, total: 0 });
      entry.total++;
      if (before[i] !== after[i]) {
        entry.changed++;
        everChanged.add(i);
        changed.push({ pod: ref.pod, container: ref.container, init: ref.init, fromHash: before[i]!, toHash: after[i]! });
      }
    });
    steps.push({ from: path[s]!, to: path[s + 1]!, changed, byNamespace });
  }
  return { from, to, totalContainers: refs.length, steps, restartedAtLeastOnce: everChanged.size };
}

function namespaceOf(ref: ContainerRef): string {
  return ref.pod === null ? '-' : ref.pod.slice(0, ref.pod.indexOf('/'));
}

function formatRestartReport(report: RestartReport): string {
  const lines: string[] = [];
  for (const step of report.steps) {
    // The kubelet compares the hash of regular containers only (computePodActions; see
    // coordinator/plan/restarts.ts), so an init container's change restarts nothing.
    const init = step.changed.filter((c) => c.init).length;
    const restarts = init === 0 ? 'an unpatched kubelet would restart them' : `an unpatched kubelet would restart the ${step.changed.length - init} that are not init containers: it never compares an init container's hash`;
    lines.push(`${step.from} -> ${step.to}: ${step.changed.length} of ${report.totalContainers} containers change hash (${restarts})`);
    if (step.changed.length > 0) {
      lines.push(indent(formatTable(['POD', 'CONTAINER', `HASH ${step.from}`, `HASH ${step.to}`], step.changed.map((c) => [c.pod ?? '-', c.init ? `${c.container} (init)` : c.container, c.fromHash, c.toHash]))));
      const nsRows = Object.entries(step.byNamespace).sort(([a], [b]) => a.localeCompare(b)).map(([ns, n]) => [ns, String(n.changed), String(n.total)]);
      lines.push(indent(formatTable(['NAMESPACE', 'CHANGED', 'CONTAINERS'], nsRows)));
    }
  }
  lines.push(`total: ${report.restartedAtLeastOnce} of ${report.totalContainers} containers change hash at least once from ${report.from} to ${report.to}`);
  return `${lines.join('\n')}\n`;
}

function indent(block: string): string {
  return block.trimEnd().split('\n').map((l) => `  ${l}`).join('\n');
}

export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

/** `kip hash` keeps its own option parsing (node:util parseArgs): commander passes its arguments through untouched. */
export function registerHash(program: Command, ctx: CommandContext): void {
  program.command('hash').description('kubelet container hashes, and the restarts a version step would cause')
    .helpOption(false).allowUnknownOption().allowExcessArguments().argument('[args...]')
    .action((args: string[]) => runAction(ctx, 'hash', async () => {
      if (args.includes('--help') || args.includes('-h')) {
        ctx.io.stdout(`${hashUsage()}\n`);
        return EXIT_OK;
      }
      return runHash(args, ctx.io);
    }));
}
