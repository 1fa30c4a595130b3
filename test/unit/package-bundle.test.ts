/** The artifact's protos: embedded texts load to the same package definition as the files on disk. */
import { describe, expect, it } from 'vitest';
import protobuf from 'protobufjs';
import * as protoLoader from '@grpc/proto-loader';
import path from 'node:path';
import { protoTexts, REPO } from '../../scripts/package/build.ts';
import { CRI_PROTO_LOADER_OPTIONS, CRI_PROTO_NAMES } from '../../agent/runtime/cri-proto.ts';
import { KIP_PROTO_FILES, loadSyncOptions } from '../../proto/kip/loader.ts';
import { CONTAINERD_PROTO_FILES } from '../../proto/containerd/loader.ts';

function fromText(texts: Record<string, string>, files: readonly string[], options: protoLoader.Options): protoLoader.PackageDefinition {
  const root = new protobuf.Root();
  for (const f of files) protobuf.parse(texts[f] ?? '', root, { ...options });
  return protoLoader.fromJSON(root.toJSON(), options);
}

const shape = (def: protoLoader.PackageDefinition) => JSON.stringify(def, (_k, v: unknown) => (typeof v === 'function' ? `fn:${(v as { name: string }).name}` : v));

describe('embedded protos (scripts/package/build.ts + proto/embedded.ts)', () => {
  it('embeds every .proto file under proto/', async () => {
    const texts = await protoTexts();
    expect(Object.keys(texts).sort()).toEqual([...KIP_PROTO_FILES, CRI_PROTO_NAMES.v1, CRI_PROTO_NAMES.v1alpha2, ...CONTAINERD_PROTO_FILES].sort());
  });

  it('parse the same as loadSync from disk, for kip, CRI and containerd\'s events', async () => {
    const texts = await protoTexts();
    const root = path.join(REPO, 'proto');
    const kipDisk = protoLoader.loadSync([...KIP_PROTO_FILES], loadSyncOptions());
    expect(shape(fromText(texts, KIP_PROTO_FILES, loadSyncOptions()))).toBe(shape(kipDisk));
    const ctdDisk = protoLoader.loadSync([...CONTAINERD_PROTO_FILES], loadSyncOptions());
    expect(shape(fromText(texts, CONTAINERD_PROTO_FILES, loadSyncOptions()))).toBe(shape(ctdDisk));
    for (const name of [CRI_PROTO_NAMES.v1, CRI_PROTO_NAMES.v1alpha2]) {
      const disk = protoLoader.loadSync([name], { ...CRI_PROTO_LOADER_OPTIONS, includeDirs: [root] });
      expect(shape(fromText(texts, [name], { ...CRI_PROTO_LOADER_OPTIONS }))).toBe(shape(disk));
    }
  });
});
