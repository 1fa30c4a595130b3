#!/usr/bin/env bash
# Regenerates proto/kip/generated/ (TypeScript types for proto/kip) and proto/containerd/generated/
# (kip's subset of containerd's events service) with the loader's own options (proto/kip/loader.ts).
# Usage: scripts/gen-proto.sh [kipOutDir] [containerdOutDir]. Commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-proto/kip/generated}
ctd=${2:-proto/containerd/generated}
rm -rf "${out:?}"/kip "$out"/agent.ts
rm -rf "${ctd:?}"/containerd "$ctd"/events.ts "$ctd"/event-types.ts
exec node_modules/.bin/tsx proto/kip/gen.ts "$out" "$ctd"
