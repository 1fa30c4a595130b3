/**
 * The .proto files travel inside the packaged artifact (scripts/package): the bundler defines
 * __KIP_EMBEDDED_PROTOS__ as { "<path relative to proto/>": "<file text>" }. From a checkout the
 * name is undefined and the files are read from disk as before. Both loaders (kip's contract and
 * the CRI subset) go through loadProto, so the artifact never touches the file system for them.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

declare const __KIP_EMBEDDED_PROTOS__: Readonly<Record<string, string>> | undefined;

export function embeddedProtos(): Readonly<Record<string, string>> | undefined {
  return typeof __KIP_EMBEDDED_PROTOS__ === 'undefined' ? undefined : __KIP_EMBEDDED_PROTOS__;
}

/**
 * Loads proto files named relative to `root` (the proto/ directory), from the embedded texts when
 * present. protobufjs parses each text into one Root exactly as proto-loader's loadSync would
 * (same keepCase), and proto-loader's fromJSON builds the package definition with the same options.
 */
export function loadProto(root: string, files: readonly string[], options: protoLoader.Options): protoLoader.PackageDefinition {
  const embedded = embeddedProtos();
  if (embedded === undefined) return protoLoader.loadSync([...files], { ...options, includeDirs: [root, ...(options.includeDirs ?? []).filter((d) => d !== root)] });
  const pbRoot = new protobuf.Root();
  for (const f of files) {
    const text = embedded[f];
    if (text === undefined) throw new Error(`proto file ${f} is not embedded in this build (scripts/package/build.ts lists them)`);
    // The same options object loadSync hands to protobufjs's parser (keepCase decides field names).
    protobuf.parse(text, pbRoot, { ...options });
  }
  return protoLoader.fromJSON(pbRoot.toJSON(), options);
}

/**
 * The same files parsed into one protobufjs Root (from the embedded texts when present), for
 * decoding a message carried as bytes (a google.protobuf.Any's value) by its full name.
 */
export function loadProtoRoot(root: string, files: readonly string[], options: protoLoader.Options): protobuf.Root {
  const embedded = embeddedProtos();
  const pbRoot = new protobuf.Root();
  for (const f of files) {
    const text = embedded === undefined ? readFileSync(path.join(root, f), 'utf8') : embedded[f];
    if (text === undefined) throw new Error(`proto file ${f} is not embedded in this build (scripts/package/build.ts lists them)`);
    protobuf.parse(text, pbRoot, { ...options });
  }
  pbRoot.resolveAll();
  return pbRoot;
}
