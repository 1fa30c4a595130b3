#!/usr/bin/env bash
# Regenerates agent/generated/ (TypeScript types for proto/kip) with the loader's own options
# (proto/kip/loader.ts). Usage: scripts/gen-proto.sh [outDir]. Commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-agent/generated}
rm -rf "${out:?}"/kip "$out"/agent.ts
exec node_modules/.bin/tsx proto/kip/gen.ts "$out"
