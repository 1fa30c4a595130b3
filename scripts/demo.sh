#!/usr/bin/env bash
# npm run demo [-- --unpatched]: from a fresh clone on Debian 12 as root, installs what is missing,
# brings up a fresh lab (a v1.10 cluster of systemd-nspawn nodes), and upgrades it in place to
# v1.17 one minor at a time with kip, printing containers restarted per step.
set -euo pipefail
cd "$(dirname "$0")/.."
unpatched=()
for a in "$@"; do [ "$a" = "--unpatched" ] && unpatched=(--unpatched); done
bash scripts/install-deps.sh
if node bin/kip-lab.mjs status >/dev/null 2>&1 || [ -e "${KIP_LAB_DIR:-/var/lib/kip-lab}/lab.json" ]; then
  echo "== a lab exists: taking it down for a fresh start"
  node bin/kip-lab.mjs down
fi
# The hash oracle: the lab kubelets take every container hash from the golden vectors produced
# with the real Go code, so the demo proves kip agrees with the real kubelet (KIP_DEMO_HASHES=engine
# runs kip's own engine in the kubelets instead).
hashes="${KIP_DEMO_HASHES:-vectors}"
echo "== kip-lab up --hashes $hashes --agents role ${unpatched[*]}"
node bin/kip-lab.mjs up --hashes "$hashes" --agents role "${unpatched[@]}"
echo "== kip: in-place upgrade"
exec node --import tsx scripts/demo/main.ts "$@"
