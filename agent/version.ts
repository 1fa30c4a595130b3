// A JSON module, not a file read: the packaged artifact carries it in the bundle.
import pkg from '../package.json' with { type: 'json' };

// Defined by scripts/package/build.ts (KIP_BUILD_ID); absent when run from a checkout.
declare const __KIP_BUILD_ID__: string | undefined;

export function agentVersion(): string {
  const build = typeof __KIP_BUILD_ID__ === 'string' ? __KIP_BUILD_ID__ : '';
  return build ? `${pkg.version}+${build}` : pkg.version;
}
