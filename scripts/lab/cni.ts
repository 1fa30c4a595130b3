/**
 * A pod network for the lab's containerds without touching the host: two CNI plugins written as
 * shell scripts into a containerd's own cni/bin and cni/net.d (scripts/containerd/containerd.ts
 * points its CRI plugin there). `loopback` brings lo up in the pod's network namespace (containerd
 * always runs it); `kip-lab-netns` creates a veth pair with BOTH ends inside the pod's namespace and
 * gives eth0 a /32 address derived from the sandbox id, so the sandbox has its own namespace and
 * an IP that containerd reports, and nothing is added to the host (no bridge, route or iptables).
 * Pods reach nothing over it; the lab's pods only need to exist, not to talk.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const LAB_CNI_NETWORK = 'kip-lab';

const LOOPBACK = `#!/bin/sh
# kip-lab CNI loopback: lo up inside the pod's network namespace.
case "$CNI_COMMAND" in
  ADD) nsenter --net="$CNI_NETNS" ip link set lo up || exit 1
       printf '{"cniVersion":"0.4.0","interfaces":[{"name":"lo","sandbox":"%s"}],"ips":[{"version":"4","address":"127.0.0.1/8","interface":0}]}' "$CNI_NETNS" ;;
  VERSION) printf '{"cniVersion":"0.4.0","supportedVersions":["0.3.0","0.3.1","0.4.0"]}' ;;
  *) exit 0 ;;
esac
`;

const NETNS = `#!/bin/sh
# kip-lab CNI: eth0 (one end of a veth pair kept inside the pod's namespace) with a /32 address.
case "$CNI_COMMAND" in
  ADD)
    n=$(printf '%d' "0x$(printf '%s' "$CNI_CONTAINERID" | cut -c1-4)")
    ip="10.88.$(( n / 256 )).$(( n % 256 ))"
    nsenter --net="$CNI_NETNS" sh -c "ip link add $CNI_IFNAME type veth peer name kip-peer0 && ip addr add $ip/32 dev $CNI_IFNAME && ip link set kip-peer0 up && ip link set $CNI_IFNAME up" || exit 1
    printf '{"cniVersion":"0.4.0","interfaces":[{"name":"%s","sandbox":"%s"}],"ips":[{"version":"4","address":"%s/32","interface":0}]}' "$CNI_IFNAME" "$CNI_NETNS" "$ip" ;;
  VERSION) printf '{"cniVersion":"0.4.0","supportedVersions":["0.3.0","0.3.1","0.4.0"]}' ;;
  *) exit 0 ;;
esac
`;

/** Writes the plugins and the network config into a lab containerd's directory (containerd picks them up). */
export async function writeLabCni(containerdDir: string): Promise<void> {
  const bin = join(containerdDir, 'cni', 'bin');
  const conf = join(containerdDir, 'cni', 'net.d');
  await mkdir(bin, { recursive: true });
  await mkdir(conf, { recursive: true });
  for (const [name, text] of [['loopback', LOOPBACK], ['kip-lab-netns', NETNS]] as const) {
    await writeFile(join(bin, name), text);
    await chmod(join(bin, name), 0o755);
  }
  await writeFile(join(conf, '10-kip-lab.conflist'), `${JSON.stringify({ cniVersion: '0.4.0', name: LAB_CNI_NETWORK, plugins: [{ type: 'kip-lab-netns' }] }, null, 2)}\n`);
}
