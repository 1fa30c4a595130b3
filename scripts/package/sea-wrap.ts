/**
 * What scripts/package/sea-launcher.ts (in the executable) and scripts/package/sea.ts (the build)
 * must agree on: the wrapper a chunk is compiled in (a V8 code cache is only accepted for the same
 * source text) and how NODE_OPTIONS names a code cache.
 */
export const WRAP_HEAD = '(function (exports, require, module, __filename, __dirname, __kip_sea) {';
export const WRAP_TAIL = '\n})';

/** NODE_OPTIONS as the cache table keys it: its words in order, one space apart. */
export function optionsKey(nodeOptions: string | undefined): string {
  return (nodeOptions ?? '').split(/\s+/).filter((w) => w !== '').join(' ');
}
