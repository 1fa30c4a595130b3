/**
 * Loads kip's own CRI subset (proto/cri/*.proto) at runtime with @grpc/proto-loader.
 * The loader options live in ONE constant: the client and the test fakes decode identically.
 */
import { fileURLToPath } from 'node:url';
import type { Options, PackageDefinition, ServiceDefinition } from '@grpc/proto-loader';
import { loadProto } from '../../proto/embedded.ts';
import { KipError } from '../../lib/errors.ts';
import type { CriApiVersion } from './types.ts';

export const CRI_PROTO_LOADER_OPTIONS: Readonly<Options> = Object.freeze({
  keepCase: false, // fields as camelCase in JS (podSandboxId)
  longs: String, // int64/uint64 as decimal strings; the client turns them into bigint
  enums: String, // enum values by name ('CONTAINER_RUNNING'); names are also accepted on requests
  defaults: true, // absent scalars decode as their zero value, as in Go
  arrays: true,
  objects: true,
  oneofs: true,
});

/** proto/ (the root the files are named from; see proto/embedded.ts for the packaged artifact). */
const PROTO_DIR = fileURLToPath(new URL('../../proto/', import.meta.url));
/** Relative to proto/: the names they are embedded under. */
export const CRI_PROTO_NAMES: Readonly<Record<CriApiVersion, string>> = Object.freeze({ v1: 'cri/runtime_v1.proto', v1alpha2: 'cri/runtime_v1alpha2.proto' });
export const CRI_PROTO_FILES: Readonly<Record<CriApiVersion, string>> = Object.freeze({
  v1: PROTO_DIR + CRI_PROTO_NAMES.v1,
  v1alpha2: PROTO_DIR + CRI_PROTO_NAMES.v1alpha2,
});

export interface CriServices {
  readonly runtime: ServiceDefinition;
  readonly image: ServiceDefinition;
}

let cache: Record<CriApiVersion, CriServices> | undefined;

function service(def: PackageDefinition, name: string): ServiceDefinition {
  const s = def[name];
  if (s === undefined || !('Version' in s || 'ListImages' in s)) {
    throw new KipError('CRI_PROTO_INVALID', `service ${name} missing from the CRI proto files`, { name });
  }
  return s as ServiceDefinition;
}

/** Both API packages' service definitions, loaded once per process. */
export function criServices(): Record<CriApiVersion, CriServices> {
  if (cache === undefined) {
    const out: Partial<Record<CriApiVersion, CriServices>> = {};
    for (const v of ['v1', 'v1alpha2'] as const) {
      const def = loadProto(PROTO_DIR, [CRI_PROTO_NAMES[v]], { ...CRI_PROTO_LOADER_OPTIONS });
      out[v] = { runtime: service(def, `runtime.${v}.RuntimeService`), image: service(def, `runtime.${v}.ImageService`) };
    }
    cache = out as Record<CriApiVersion, CriServices>;
  }
  return cache;
}
