/**
 * The ONE place that says how kip's .proto files are loaded. Both the runtime loader
 * (`loadKipPackage`) and the type generator (`scripts/gen-proto.sh` -> `proto/kip/gen.ts`) read
 * `LOADER_OPTIONS`, so the generated TypeScript types always describe the objects grpc-js hands us.
 */
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type * as protoLoader from '@grpc/proto-loader';
import * as grpc from '@grpc/grpc-js';
import { loadProto } from '../embedded.ts';

/** The proto/ directory. In the packaged artifact import.meta.url points at the executable; nothing is read from there (proto/embedded.ts). */
export const PROTO_ROOT = path.dirname(fileURLToPath(import.meta.url)).replace(/\/kip$/, '');
/** Proto files relative to PROTO_ROOT. */
export const KIP_PROTO_FILES = ['kip/v1/agent.proto'] as const;

/** Serializable form of the options (names of the conversion types), shared by loader and generator. */
export const LOADER_OPTIONS = {
  keepCase: false,
  longs: 'Number',
  enums: 'String',
  defaults: true,
  oneofs: true,
} as const;

/** The options in the form `protoLoader.loadSync` takes. */
export function loadSyncOptions(): protoLoader.Options {
  return {
    keepCase: LOADER_OPTIONS.keepCase,
    longs: LOADER_OPTIONS.longs === 'Number' ? Number : String,
    enums: LOADER_OPTIONS.enums === 'String' ? String : undefined,
    defaults: LOADER_OPTIONS.defaults,
    oneofs: LOADER_OPTIONS.oneofs,
    includeDirs: [PROTO_ROOT],
  };
}

/** The same options as command-line flags of `proto-loader-gen-types` (default: kip's own files). */
export function genTypesArgs(outDir: string, files: readonly string[] = KIP_PROTO_FILES): string[] {
  const args = [
    `--longs=${LOADER_OPTIONS.longs}`,
    `--enums=${LOADER_OPTIONS.enums}`,
    '--grpcLib=@grpc/grpc-js',
    `--includeDirs=${PROTO_ROOT}`,
    `--outDir=${outDir}`,
  ];
  if (LOADER_OPTIONS.keepCase) args.push('--keepCase');
  if (LOADER_OPTIONS.defaults) args.push('--defaults');
  if (LOADER_OPTIONS.oneofs) args.push('--oneofs');
  return [...args, ...files];
}

export function loadKipPackageDefinition(): protoLoader.PackageDefinition {
  return loadProto(PROTO_ROOT, KIP_PROTO_FILES, loadSyncOptions());
}

let grpcObject: grpc.GrpcObject | undefined;

/** Parsed once per process: every agent connection (kip stage opens one per node) and server shares it. */
export function loadKipGrpcObject(): grpc.GrpcObject {
  grpcObject ??= grpc.loadPackageDefinition(loadKipPackageDefinition());
  return grpcObject;
}
