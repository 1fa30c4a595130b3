/**
 * Swap primitives for a component run as a static pod: back the manifest up, rewrite it
 * atomically (temp, fsync, rename, fsync dir: the kubelet never reads half a file), restore it
 * from the backup, and wait until the kubelet runs the container with the new image, as the
 * container runtime reports it.
 */
import path from 'node:path';
import type { Clock } from '../../lib/clock.ts';
import { KubeLabel, type ContainerInfo, type RuntimeReader } from '../runtime/index.ts';
import type { FileSystem } from '../upgrade/fs.ts';
import { ManifestInvalidError, ManifestWriteError, StaticPodNotRunningError } from './errors.ts';
import { parseStaticPodManifest, rewriteStaticPodManifest, type ManifestEdit, type ParsedManifest } from './manifest.ts';

export interface ManifestBackup {
  readonly manifest: string;
  readonly backup: string;
  readonly sha256: string;
}

/** Copies the manifest (host path) into backupDir; the checksum is taken from the copy. Refuses a manifest that does not parse. */
export async function backupManifest(fs: FileSystem, manifest: string, component: string, backupDir: string): Promise<ManifestBackup> {
  const text = await fs.readText(manifest);
  if (text === undefined) throw new ManifestInvalidError(manifest, 'the file does not exist');
  parseStaticPodManifest(text, manifest, component);
  await fs.mkdirp(backupDir);
  const backup = path.join(backupDir, path.basename(manifest));
  await fs.writeAtomic(backup, text, 0o600);
  const sha256 = await fs.sha256(backup);
  if (sha256 === undefined) throw new ManifestWriteError(backup, new Error('the backup vanished after writing'));
  return { manifest, backup, sha256 };
}

/** Rewrites the manifest in place; nothing is written when the current file does not parse. */
export async function editManifest(fs: FileSystem, manifest: string, component: string, edit: ManifestEdit): Promise<{ before: ParsedManifest; after: ParsedManifest }> {
  const text = await fs.readText(manifest);
  if (text === undefined) throw new ManifestInvalidError(manifest, 'the file does not exist');
  const before = parseStaticPodManifest(text, manifest, component);
  const out = rewriteStaticPodManifest(text, manifest, component, edit);
  const mode = ((await fs.stat(manifest))?.mode ?? 0o600) & 0o7777;
  try {
    await fs.writeAtomic(manifest, out, mode);
  } catch (err) {
    throw new ManifestWriteError(manifest, err);
  }
  return { before, after: parseStaticPodManifest(out, manifest, component) };
}

/** Puts the backup back (verified against its checksum) atomically. */
export async function restoreManifest(fs: FileSystem, b: ManifestBackup): Promise<void> {
  await fs.copyAtomicVerified(b.backup, b.manifest, 0o600, b.sha256);
}

export interface WaitContainerOptions {
  /** The container name in the manifest. */
  readonly container: string;
  /** The static pod's name in the manifest; the kubelet names the pod `<name>-<node name>`. */
  readonly podName: string;
  /** The kubelet's node name (the agent's nodeName). */
  readonly nodeName: string;
  readonly image: string;
  /** Only containers created at or after this (ns since the epoch) count. */
  readonly sinceNs: bigint;
  readonly timeoutMs: number;
  readonly pollMs: number;
}

/** Polls the runtime until a running container of the static pod runs the image; STATIC_POD_NOT_RUNNING on timeout. */
export async function waitForStaticPodContainer(runtime: RuntimeReader, clock: Clock, o: WaitContainerOptions): Promise<ContainerInfo> {
  const deadline = clock.now() + o.timeoutMs;
  let seen = 'no container of the pod yet';
  for (;;) {
    const cs = await runtime.listContainers({ labelSelector: { [KubeLabel.containerName]: o.container } });
    const mine = cs.filter((c) => {
      return c.labels[KubeLabel.podName] === `${o.podName}-${o.nodeName}`;
    });
    const hit = mine.find((c) => c.state === 'running' && c.image === o.image && c.createdAtNs >= o.sinceNs);
    if (hit) return hit;
    if (mine.length > 0) seen = mine.map((c) => `${c.id.slice(0, 12)} ${c.state} ${c.image}`).join('; ');
    if (clock.now() >= deadline) throw new StaticPodNotRunningError(o.container, o.image, o.timeoutMs, seen);
    await clock.sleep(o.pollMs);
  }
}
