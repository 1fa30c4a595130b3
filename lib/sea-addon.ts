/**
 * A native addon inside the packaged executable (scripts/package: Node's single-executable
 * application). There is no node_modules next to the executable, and the SEA's require() loads
 * built-in modules only (for anything else Node prints its "only supports loading built-in
 * modules" warning and throws), so the build puts the addon's .node file in the executable as a
 * SEA asset (Program.nativeAddons). dlopen needs a file: the asset is written into a fresh private
 * directory (mkdtemp, mode 0700: no other user can plant a library at a guessed path), opened, and
 * removed again (the mapping stays valid after unlink).
 *
 * From a checkout (not a SEA) this returns undefined and the package loads its addon as usual.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as sea from 'node:sea';

const loaded = new Map<string, object>();

export function seaNativeAddon(assetKey: string): object | undefined {
  if (!sea.isSea()) return undefined;
  const known = loaded.get(assetKey);
  if (known) return known;
  const bytes = sea.getRawAsset(assetKey);
  const dir = mkdtempSync(path.join(tmpdir(), 'kip-addon-'));
  try {
    const file = path.join(dir, path.basename(assetKey));
    writeFileSync(file, new Uint8Array(typeof bytes === 'string' ? Buffer.from(bytes) : bytes), { mode: 0o500 });
    const mod = { exports: {} as object };
    process.dlopen(mod, file);
    loaded.set(assetKey, mod.exports);
    return mod.exports;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
