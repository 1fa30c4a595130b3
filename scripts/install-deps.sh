#!/usr/bin/env bash
# Installs everything kip's tests, lab and demo need on Debian 12, as root. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
need_apt=()
for pair in containerd:containerd runc:runc etcd:etcd-server etcdctl:etcd-client busybox:busybox-static \
            debootstrap:debootstrap systemd-nspawn:systemd-container zstd:zstd ip:iproute2 openssl:openssl \
            dockerd:docker.io go:golang-go chromium:chromium strip:binutils \
            ansible-playbook:ansible qemu-aarch64-static:qemu-user-static; do
  cmd=${pair%%:*} pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || need_apt+=("$pkg")
done
# The arm64 agent runs under qemu-aarch64 (test/integration/agent-arm64-qemu.test.ts) with
# Debian's aarch64 cross runtime as its root (-L /usr/aarch64-linux-gnu): no dpkg multiarch.
for pair in /usr/aarch64-linux-gnu/lib/libc.so.6:libc6-arm64-cross /usr/aarch64-linux-gnu/lib/libstdc++.so.6:libstdc++6-arm64-cross \
            /usr/aarch64-linux-gnu/lib/libgcc_s.so.1:libgcc-s1-arm64-cross; do
  file=${pair%%:*} pkg=${pair#*:}
  [ -e "$file" ] || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# A node_modules that is a symlink or a mount point is shared with other checkouts (worktrees):
# npm ci would empty it under them, so it is left alone (install from the checkout that owns it).
if [ -L node_modules ] || mountpoint -q node_modules 2>/dev/null; then
  echo "== node_modules is shared (a symlink or mount): not reinstalling it here"
elif [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi
