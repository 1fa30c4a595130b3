/**
 * Static pod manifests (pure): parse, read the component's container, and rewrite its image tag
 * and arguments while keeping the rest of the file (comments, order, other containers) as it was.
 * A manifest that is not YAML, not a v1 Pod, or has no container is refused (MANIFEST_INVALID).
 */
import { isMap, isScalar, isSeq, parseDocument, type Document, type YAMLMap, type YAMLSeq } from 'yaml';
import { ManifestInvalidError } from './errors.ts';
import { imageVersion } from './version.ts';

export interface ParsedManifest {
  readonly podName: string;
  readonly namespace: string;
  readonly container: string;
  readonly image: string;
  /** v1.13.12 from the image tag; '' when the tag is not a version. */
  readonly version: string;
  /** command[1:] + args: what the component's flags are (kubeadm puts them all in command). */
  readonly args: readonly string[];
  /** Which field holds the flags: kubeadm writes `command: [kube-apiserver, --flag, ...]`. */
  readonly argsIn: 'command' | 'args';
}

function parse(text: string, path: string): Document.Parsed {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) throw new ManifestInvalidError(path, `not valid YAML: ${doc.errors[0]?.message ?? 'parse error'}`);
  return doc;
}

function strings(node: unknown, path: string, field: string): string[] {
  if (node === undefined || node === null) return [];
  if (!isSeq(node)) throw new ManifestInvalidError(path, `${field} is not a list`);
  return node.items.map((it, i) => {
    if (!isScalar(it) || (typeof it.value !== 'string' && typeof it.value !== 'number' && typeof it.value !== 'boolean')) throw new ManifestInvalidError(path, `${field}[${i}] is not a string`);
    return String(it.value);
  });
}

function containersOf(doc: Document.Parsed, path: string): YAMLSeq {
  const root = doc.contents;
  if (!isMap(root)) throw new ManifestInvalidError(path, 'the document is not a mapping');
  const apiVersion: unknown = root.get('apiVersion');
  const kind: unknown = root.get('kind');
  if (apiVersion !== 'v1' || kind !== 'Pod') throw new ManifestInvalidError(path, `expected apiVersion v1, kind Pod (got ${String(apiVersion)}, ${String(kind)})`);
  const spec = root.get('spec');
  if (!isMap(spec)) throw new ManifestInvalidError(path, 'spec is missing');
  const cs = spec.get('containers');
  if (!isSeq(cs) || cs.items.length === 0) throw new ManifestInvalidError(path, 'spec.containers is empty');
  return cs;
}

/** The container running the component: the one named like it, else the only one. */
function pick(cs: YAMLSeq, path: string, component: string): YAMLMap {
  const maps = cs.items.filter((c): c is YAMLMap => isMap(c));
  if (maps.length !== cs.items.length) throw new ManifestInvalidError(path, 'a container is not a mapping');
  const named = maps.find((c) => c.get('name') === component);
  if (named) return named;
  if (maps.length === 1) return maps[0] as YAMLMap;
  throw new ManifestInvalidError(path, `${maps.length} containers and none named ${component}`);
}

function read(doc: Document.Parsed, path: string, component: string): { c: YAMLMap; parsed: ParsedManifest } {
  const c = pick(containersOf(doc, path), path, component);
  const root = doc.contents as YAMLMap;
  const meta = root.get('metadata');
  const name = c.get('name');
  const image = c.get('image');
  if (typeof name !== 'string' || name === '') throw new ManifestInvalidError(path, 'the container has no name');
  if (typeof image !== 'string' || image === '') throw new ManifestInvalidError(path, `container ${name} has no image`);
  const command = strings(c.get('command', true), path, 'command');
  const args = strings(c.get('args', true), path, 'args');
  const argsIn = command.length > 1 || args.length === 0 ? 'command' : 'args';
  return {
    c,
    parsed: {
      podName: isMap(meta) && typeof meta.get('name') === 'string' ? (meta.get('name') as string) : component,
      namespace: isMap(meta) && typeof meta.get('namespace') === 'string' ? (meta.get('namespace') as string) : 'kube-system',
      container: name,
      image,
      version: imageVersion(image) ?? '',
      args: [...command.slice(1), ...args],
      argsIn,
    },
  };
}

export function parseStaticPodManifest(text: string, path: string, component: string): ParsedManifest {
  return read(parse(text, path), path, component).parsed;
}

export interface ManifestEdit {
  /** The new image (whole reference). */
  readonly image?: string;
  /** The new flag list (replaces command[1:] + args). */
  readonly args?: readonly string[];
}

/** The manifest text with the component container's image and arguments replaced; the result parses back to the edit. */
export function rewriteStaticPodManifest(text: string, path: string, component: string, edit: ManifestEdit): string {
  const doc = parse(text, path);
  const { c, parsed } = read(doc, path, component);
  if (edit.image !== undefined) c.set('image', edit.image);
  if (edit.args !== undefined) {
    const command = strings(c.get('command', true), path, 'command');
    if (parsed.argsIn === 'command') {
      const program = command[0] ?? component;
      c.set('command', doc.createNode([program, ...edit.args]));
      const args = strings(c.get('args', true), path, 'args');
      if (args.length > 0) c.delete('args');
    } else {
      c.set('args', doc.createNode([...edit.args]));
    }
  }
  const out = doc.toString();
  const back = parseStaticPodManifest(out, path, component);
  if ((edit.image !== undefined && back.image !== edit.image) || (edit.args !== undefined && JSON.stringify(back.args) !== JSON.stringify(edit.args))) {
    throw new ManifestInvalidError(path, 'internal: the rewritten manifest does not read back as intended');
  }
  return out;
}
