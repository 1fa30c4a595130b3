/**
 * Which container-hash algorithm each Kubernetes minor uses.
 *
 * - 1.10-1.15: FNV-1a 32 over go-spew `%#v` of the v1.Container value
 *   (pkg/kubelet/container/helpers.go HashContainer + pkg/util/hash DeepHashObject).
 * - 1.16-1.30: the same over the spew of `json.Marshal(container)` bytes
 *   (kubernetes PR #57741, first released in v1.16.0: "Omit nil or empty field when calculating
 *   container hash value").
 * - 1.31 on: only name and image, marshalled as a map (kubernetes PR #124220, released in v1.31.0,
 *   `pickFieldsToHash` in pkg/kubelet/container/helpers.go).
 */
import { parseMinor } from '../version.ts';
import { UnsupportedKubeVersionError } from './errors.ts';
import { schemaVersions } from './schema.ts';

export type HashAlgorithm = 'spew-struct' | 'spew-json' | 'spew-json-name-image';

let supportedCache: string[] | undefined;

export function supportedVersions(): readonly string[] {
  supportedCache ??= schemaVersions();
  return supportedCache;
}

/** Normalizes "1.17", "v1.17", "v1.17.17", "1.17.3-gke.1" to the minor "1.17"; refuses others. */
export function normalizeKubeVersion(version: string): string {
  let minor: string | undefined;
  try {
    minor = parseMinor(version).key;
  } catch {
    minor = undefined;
  }
  if (!minor || !supportedVersions().includes(minor)) throw new UnsupportedKubeVersionError(version, supportedVersions());
  return minor;
}

export function algorithmFor(minor: string): HashAlgorithm {
  const n = Number(minor.split('.')[1]);
  if (n <= 15) return 'spew-struct';
  if (n <= 30) return 'spew-json';
  return 'spew-json-name-image';
}

/**
 * Go 1.22 changed encoding/json's escapes for \b and \f. Kubernetes 1.30.0 was the first minor
 * released with Go 1.22 (CHANGELOG-1.30.md, "Dependencies: golang 1.22"); older minors hash
 * with the Go they shipped with. (Late 1.28/1.29 patch releases moved to Go 1.22 too; kip
 * keys on the minor and documents the difference, which only touches strings holding a
 * backspace or form feed.)
 */
export function usesGo122Json(minor: string): boolean {
  return Number(minor.split('.')[1]) >= 30;
}
