#!/usr/bin/env bash
# Regenerates proto/kip/generated/ (TypeScript types for proto/kip) with the loader's own options
# (proto/kip/loader.ts). Usage: scripts/gen-proto.sh [outDir]. Commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-proto/kip/generated}
rm -rf "${out:?}"/kip "$out"/agent.ts
exec node_modules/.bin/tsx proto/kip/gen.ts "$out"
