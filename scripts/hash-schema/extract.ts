/**
 * Reads the Go definition of v1.Container and every type it reaches from a local git mirror of
 * kubernetes/api (one tag per Kubernetes minor) and writes one schema file per minor under
 * lib/knowledge/hash/schemas/. The schema is data: ordered fields with Go types, JSON names and
 * omitempty, plus the named types' underlying types, and the tag and commit it was read from.
 *
 * Run: npx tsx scripts/hash-schema/extract.ts <path to kubernetes/api git dir>
 * The mirror is not needed at run time or in CI; the generated files are committed.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The newest patch tag of each minor, as the shared vectors were produced from. */
export const TAGS: Readonly<Record<string, string>> = {
  '1.10': 'kubernetes-1.10.13', '1.11': 'kubernetes-1.11.10', '1.12': 'kubernetes-1.12.10',
  '1.13': 'kubernetes-1.13.12', '1.14': 'kubernetes-1.14.10', '1.15': 'kubernetes-1.15.12',
  '1.16': 'kubernetes-1.16.15', '1.17': 'kubernetes-1.17.17', '1.18': 'kubernetes-1.18.19',
  '1.19': 'kubernetes-1.19.16', '1.20': 'kubernetes-1.20.15', '1.21': 'kubernetes-1.21.14',
  '1.22': 'kubernetes-1.22.17', '1.23': 'kubernetes-1.23.17', '1.24': 'kubernetes-1.24.17',
  '1.25': 'kubernetes-1.25.16', '1.26': 'kubernetes-1.26.15', '1.27': 'kubernetes-1.27.16',
  '1.28': 'kubernetes-1.28.15', '1.29': 'kubernetes-1.29.15', '1.30': 'kubernetes-1.30.14',
  '1.31': 'kubernetes-1.31.14', '1.32': 'kubernetes-1.32.13', '1.33': 'kubernetes-1.33.13',
  '1.34': 'kubernetes-1.34.10', '1.35': 'kubernetes-1.35.7', '1.36': 'kubernetes-1.36.3',
};

interface FieldOut { name: string; type: string; json: string; omitempty: boolean; embedded?: true }
type TypeOut = { kind: 'struct'; fields: FieldOut[] } | { kind: 'named'; underlying: string };

const SOURCE_FILE = 'core/v1/types.go';
/** Types from other packages: handled by hand-written codecs in lib/knowledge/hash (resource, intstr). */
const EXTERNAL = new Set(['resource.Quantity', 'intstr.IntOrString']);
const BASIC = new Set(['string', 'bool', 'int32', 'int64', 'int', 'uint8']);

function parseGoTypes(source: string): Map<string, { kind: 'struct'; body: string[] } | { kind: 'named'; underlying: string }> {
  const types = new Map<string, { kind: 'struct'; body: string[] } | { kind: 'named'; underlying: string }>();
  const lines = source.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const struct = /^type (\w+) struct \{\s*$/.exec(line);
    if (struct) {
      const body: string[] = [];
      let j = i + 1;
      for (; j < lines.length && lines[j] !== '}'; j++) body.push(lines[j]!);
      types.set(struct[1]!, { kind: 'struct', body });
      i = j;
      continue;
    }
    const named = /^type (\w+) (\S.*?)\s*(\/\/.*)?$/.exec(line);
    if (named && !named[2]!.startsWith('struct') && !named[2]!.startsWith('interface') && !named[2]!.startsWith('=')) {
      types.set(named[1]!, { kind: 'named', underlying: named[2]! });
    }
  }
  return types;
}

function parseField(line: string): FieldOut | undefined {
  const code = line.replace(/^\s+/, '');
  if (code === '' || code.startsWith('//')) return undefined;
  const tagMatch = /`([^`]*)`/.exec(code);
  const tag = tagMatch?.[1] ?? '';
  const decl = (tagMatch ? code.slice(0, tagMatch.index) : code.replace(/\/\/.*$/, '')).trim();
  const jsonTag = /json:"([^"]*)"/.exec(tag)?.[1];
  const parts = decl.split(/\s+/);
  let name: string; let type: string; let embedded = false;
  if (parts.length === 1) {
    type = parts[0]!;
    name = type.replace(/^\*/, '').replace(/^.*\./, '');
    embedded = true;
  } else if (parts.length === 2) {
    [name, type] = parts as [string, string];
  } else {
    throw new Error(`unexpected field declaration: ${line}`);
  }
  if (jsonTag === undefined) throw new Error(`field without json tag: ${line}`);
  const [jsonName, ...opts] = jsonTag.split(',');
  const out: FieldOut = { name, type, json: jsonName ?? '', omitempty: opts.includes('omitempty') };
  if (embedded) {
    if (!opts.includes('inline') && jsonName !== '') throw new Error(`embedded field with a JSON name: ${line}`);
    out.embedded = true;
  }
  return out;
}

/** Type names referenced by a Go type expression, without pointer/slice/map decoration. */
function referencedNames(expr: string): string[] {
  if (expr.startsWith('*')) return referencedNames(expr.slice(1));
  if (expr.startsWith('[]')) return referencedNames(expr.slice(2));
  const map = /^map\[([^\]]+)\](.+)$/.exec(expr);
  if (map) return [...referencedNames(map[1]!), ...referencedNames(map[2]!)];
  return [expr];
}

export function extractSchema(source: string, root = 'Container'): Record<string, TypeOut> {
  const all = parseGoTypes(source);
  const out: Record<string, TypeOut> = {};
  const queue = [root];
  while (queue.length > 0) {
    const name = queue.shift()!;
    if (out[name] || BASIC.has(name) || EXTERNAL.has(name)) continue;
    const t = all.get(name);
    if (!t) throw new Error(`type ${name} not found in ${SOURCE_FILE}`);
    if (t.kind === 'named') {
      out[name] = { kind: 'named', underlying: t.underlying };
      queue.push(...referencedNames(t.underlying));
      continue;
    }
    const fields = t.body.map(parseField).filter((f): f is FieldOut => f !== undefined);
    out[name] = { kind: 'struct', fields };
    for (const f of fields) queue.push(...referencedNames(f.type));
  }
  return out;
}

function main(): void {
  const gitDir = process.argv[2];
  if (!gitDir) {
    process.stderr.write('usage: tsx scripts/hash-schema/extract.ts <kubernetes/api git dir>\n');
    process.exit(2);
  }
  const outDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../lib/knowledge/hash/schemas');
  mkdirSync(outDir, { recursive: true });
  for (const [minor, tag] of Object.entries(TAGS)) {
    const commit = execFileSync('git', ['-C', gitDir, 'rev-list', '-n', '1', tag], { encoding: 'utf8' }).trim();
    const source = execFileSync('git', ['-C', gitDir, 'show', `${tag}:${SOURCE_FILE}`], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const schema = {
      kubeVersion: minor,
      source: { repository: 'kubernetes/api', tag, commit, path: SOURCE_FILE },
      root: 'Container',
      types: extractSchema(source),
    };
    writeFileSync(resolve(outDir, `${minor}.json`), JSON.stringify(schema, null, 1) + '\n');
    process.stdout.write(`${minor} ${tag} ${Object.keys(schema.types).length} types\n`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
