/**
 * `--releases DIR`: one folder per version (`v1.13.12/`), holding that version's component
 * binaries by their upstream names (`kubelet`, `kube-apiserver`, ...). Folders whose name is not a
 * version are ignored; a component a step needs and the folder lacks is refused when it is needed.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidInputError } from '../../lib/errors.ts';
import { parseKubeVersion } from '../../lib/knowledge/version.ts';

export const COMPONENTS = ['kubelet', 'kube-proxy', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;
export type Component = (typeof COMPONENTS)[number];

export interface ReleaseFolder {
  readonly version: string;
  readonly dir: string;
  readonly components: ReadonlyMap<Component, { readonly path: string; readonly size: number }>;
}

export async function readReleases(dir: string): Promise<ReleaseFolder[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (cause) {
    throw new InvalidInputError('RELEASES_UNREADABLE', `--releases ${dir}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}: give a folder with one subfolder per version (v1.13.12/kubelet, ...)`, { dir }, { cause });
  }
  const out: ReleaseFolder[] = [];
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    let version: string;
    try {
      const v = parseKubeVersion(e.name, 'release folder');
      if (v.placeholder) continue;
      version = v.gitVersion;
    } catch {
      continue;
    }
    const components = new Map<Component, { path: string; size: number }>();
    for (const c of COMPONENTS) {
      const path = join(dir, e.name, c);
      const s = await stat(path).catch(() => undefined);
      if (s?.isFile()) components.set(c, { path, size: s.size });
    }
    out.push({ version, dir: join(dir, e.name), components });
  }
  return out.sort((a, b) => a.version.localeCompare(b.version, 'en', { numeric: true }));
}

/** The release folder of `version` with `component`, or INVALID input naming what is missing. */
export function releaseComponent(releases: readonly ReleaseFolder[], version: string, component: Component, dir: string): { path: string; size: number } {
  const r = releases.find((x) => x.version === version);
  if (!r) throw new InvalidInputError('RELEASE_MISSING', `--releases ${dir} has no folder for ${version} (found: ${releases.map((x) => x.version).join(', ') || 'none'})`, { version, dir });
  const c = r.components.get(component);
  if (!c) throw new InvalidInputError('RELEASE_COMPONENT_MISSING', `--releases ${dir}/${version} has no ${component} binary: put ${component} ${version} there`, { version, component, dir });
  return c;
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}
