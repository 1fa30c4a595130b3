/**
 * Builds a tiny local container image from the host's static busybox, with no registry: one
 * uncompressed layer (bin/busybox plus applet symlinks), an OCI image config, manifest and index
 * (sha256 digests), written as an OCI image layout tarball that ALSO carries a Docker `manifest.json`,
 * so the same file imports into containerd (`ctr images import`) and loads into dockerd (`docker load`).
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KipError } from '../../lib/errors.ts';
import type { Exec } from '../../lib/exec.ts';

export const BUSYBOX_IMAGE = 'kip.local/busybox:1.35';
/** The sandbox ("pause") image: busybox whose default command sleeps forever. */
export const PAUSE_IMAGE = 'kip.local/pause:1';

const APPLETS = ['sh', 'sleep', 'echo', 'cat', 'ls', 'true', 'false', 'kill', 'ps', 'date', 'env'];

export class ImageBuildError extends KipError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('IMAGE_BUILD_FAILED', message, details);
  }
}

export interface BuildImageOptions {
  readonly exec: Exec;
  /** Fully qualified name with tag, e.g. kip.local/busybox:1.35. */
  readonly name: string;
  /** Default command of the image. */
  readonly cmd: readonly string[];
  /** Where to write the tarball. */
  readonly outFile: string;
  /** Host busybox binary; /bin/busybox (Debian busybox-static) unless given. */
  readonly busybox?: string;
}

export interface BuiltImage {
  readonly name: string;
  readonly file: string;
  readonly manifestDigest: string;
  readonly configDigest: string;
  readonly layerDigest: string;
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function goArch(): string {
  switch (process.arch) {
    case 'x64':
      return 'amd64';
    case 'arm64':
      return 'arm64';
    default:
      return process.arch;
  }
}

async function run(exec: Exec, cmd: string, args: readonly string[]): Promise<void> {
  const r = await exec(cmd, args, { timeoutMs: 60_000 });
  if (r.exitCode !== 0) {
    throw new ImageBuildError(`${cmd} failed: ${r.stderr.trim()}`, { args, exitCode: r.exitCode, signal: r.signal });
  }
}

/** Deterministic tar flags: same input bytes give the same digest. */
const TAR_FLAGS = ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--format=posix', '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime'];

export async function buildBusyboxImage(options: BuildImageOptions): Promise<BuiltImage> {
  const [one] = await buildBusyboxImages({ exec: options.exec, outFile: options.outFile, busybox: options.busybox, images: [{ name: options.name, cmd: options.cmd }] });
  if (!one) throw new ImageBuildError(`no image built for ${options.name}`, { name: options.name });
  return one;
}

export interface ImageSpecOfMany {
  /** Fully qualified name with tag. */
  readonly name: string;
  readonly cmd: readonly string[];
  /** Image config labels: images that differ only here still get their own config digest (image id). */
  readonly labels?: Readonly<Record<string, string>>;
}

/**
 * Several images in one tarball (one `ctr images import`), all on the same busybox layer. Each has
 * its own config (labels included), so each is its own image in containerd's CRI image store:
 * CRI reports a container's image by the image's first repo tag (containerd's
 * pkg/cri/server/container_status.go), which is then the one name the image carries.
 */
export async function buildBusyboxImages(options: { exec: Exec; images: readonly ImageSpecOfMany[]; outFile: string; busybox?: string | undefined }): Promise<BuiltImage[]> {
  const { exec } = options;
  for (const { name } of options.images) {
    const colon = name.lastIndexOf(':');
    if (colon <= name.lastIndexOf('/')) throw new ImageBuildError(`image name needs a tag: ${name}`, { name });
  }
  const work = await mkdtemp(join(options.outFile + '.work-'));
  try {
    // 1. the layer
    const rootfs = join(work, 'rootfs');
    await mkdir(join(rootfs, 'bin'), { recursive: true });
    await mkdir(join(rootfs, 'tmp'), { recursive: true });
    await copyFile(options.busybox ?? '/bin/busybox', join(rootfs, 'bin', 'busybox'));
    for (const applet of APPLETS) await symlink('busybox', join(rootfs, 'bin', applet));
    const layerFile = join(work, 'layer.tar');
    await run(exec, 'tar', [...TAR_FLAGS, '-C', rootfs, '-cf', layerFile, 'bin', 'tmp']);
    const layer = await readFile(layerFile);
    const layerDigest = sha256(layer);
    const layout = join(work, 'layout');
    const blobs = join(layout, 'blobs', 'sha256');
    await mkdir(blobs, { recursive: true });
    await copyFile(layerFile, join(blobs, layerDigest));

    // 2. per image: config, manifest (OCI image spec v1.0); one index and one docker manifest.json
    const built: BuiltImage[] = [];
    const indexEntries: object[] = [];
    const dockerEntries: object[] = [];
    for (const img of options.images) {
      const { name } = img;
      const tag = name.slice(name.lastIndexOf(':') + 1);
      const config = JSON.stringify({
        architecture: goArch(),
        os: 'linux',
        config: { Env: ['PATH=/bin'], Cmd: [...img.cmd], WorkingDir: '/', ...(img.labels ? { Labels: { ...img.labels } } : {}) },
        rootfs: { type: 'layers', diff_ids: [`sha256:${layerDigest}`] },
        history: [{ created_by: 'kip scripts/containerd/oci-image.ts' }],
      });
      const configDigest = sha256(config);
      const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${configDigest}`, size: Buffer.byteLength(config) },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: `sha256:${layerDigest}`, size: layer.length }],
      });
      const manifestDigest = sha256(manifest);
      await writeFile(join(blobs, configDigest), config);
      await writeFile(join(blobs, manifestDigest), manifest);
      indexEntries.push({
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: `sha256:${manifestDigest}`,
        size: Buffer.byteLength(manifest),
        platform: { architecture: goArch(), os: 'linux' },
        annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': tag },
      });
      // docker-archive manifest (what `docker load` of dockerd 20.10 reads; ctr import prefers it too)
      dockerEntries.push({ Config: `blobs/sha256/${configDigest}`, RepoTags: [name], Layers: [`blobs/sha256/${layerDigest}`] });
      built.push({ name, file: options.outFile, manifestDigest: `sha256:${manifestDigest}`, configDigest: `sha256:${configDigest}`, layerDigest: `sha256:${layerDigest}` });
    }
    await writeFile(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: indexEntries }));
    await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    await writeFile(join(layout, 'manifest.json'), JSON.stringify(dockerEntries));
    await run(exec, 'tar', [...TAR_FLAGS, '-C', layout, '-cf', options.outFile, 'oci-layout', 'index.json', 'manifest.json', 'blobs']);
    return built;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
