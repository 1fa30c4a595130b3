/**
 * A lab node's memory by owner, in RSS and PSS (issue 12: "report lab memory per node"): kip's own
 * agent, the lab's own programs (the kubelet, apiserver, scheduler, controller-manager and
 * kube-proxy stand-ins and their launcher shells), Debian's daemons (containerd, its shims,
 * dockerd, etcd), the containers' own processes, and the node's OS (systemd, journald, dbus,
 * logind, agetty, systemd-nspawn). RSS counts a page shared by N processes N times (the node
 * binary's text in every lab program, the shims' Go runtime); PSS divides it among them, so the
 * PSS sum is what the node really costs the host (Documentation/filesystems/proc.rst, smaps_rollup).
 */
import { readFile } from 'node:fs/promises';
import { cmdline, processTree, type MemoryBreakdown, type OwnerMemory } from './lab.ts';

export const MEMORY_OWNERS = ['agent', 'lab', 'runtime', 'etcd', 'containers', 'os'] as const;
export type MemoryOwner = (typeof MEMORY_OWNERS)[number];

const NONE: OwnerMemory = { rssBytes: 0, pssBytes: 0, processes: 0 };

/** Who owns a process, from its command line (argv[0] and the script a node runs). */
export function ownerOf(argv: readonly string[]): MemoryOwner {
  const exe = argv[0] ?? '';
  const line = argv.join(' ');
  if (/kip-agent/.test(exe) || /\/kip-agent(\.mjs|\/main\.ts)?\b/.test(line)) return 'agent';
  if (/containerd-shim/.test(exe) || /(^|\/)(containerd|dockerd)$/.test(exe)) return 'runtime';
  if (/(^|\/)etcd$/.test(exe)) return 'etcd';
  if (/\/dist\/lab\/|\/scripts\/lab\//.test(line) || /^\/bin\/sh \/usr\/bin\/(kubelet|kube-[a-z-]+)( |$)/.test(line)) return 'lab';
  return 'os';
}

async function rssPss(pid: number): Promise<{ rss: number; pss: number } | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB$`, 'm').exec(text)?.[1] ?? 0) * 1024;
    return { rss: kb('Rss'), pss: kb('Pss') };
  } catch {
    return undefined; // ended while we looked
  }
}

/**
 * The breakdown of one node: `nodePids` (its cgroup) and `runtimeRoots` (its containerd or dockerd
 * on the host, and their shims). A process under a shim is a container's, one under the agent
 * (its journalctl follower) the agent's.
 */
export async function memoryBreakdown(nodePids: readonly number[], runtimeRoots: readonly number[]): Promise<MemoryBreakdown> {
  const owner = new Map<number, MemoryOwner>();
  for (const root of runtimeRoots) {
    for (const p of await processTree(root)) {
      if (!owner.has(p)) owner.set(p, p === root || ownerOf(await cmdline(p)) === 'runtime' ? 'runtime' : 'containers');
    }
  }
  for (const pid of nodePids) {
    if (owner.has(pid)) continue;
    const own = ownerOf(await cmdline(pid));
    owner.set(pid, own);
    if (own === 'agent') for (const child of (await processTree(pid)).slice(1)) owner.set(child, 'agent');
  }
  const acc = Object.fromEntries(MEMORY_OWNERS.map((o) => [o, { rssBytes: 0, pssBytes: 0, processes: 0 }])) as Record<MemoryOwner, { rssBytes: number; pssBytes: number; processes: number }>;
  for (const [pid, own] of owner) {
    const m = await rssPss(pid);
    if (!m) continue;
    acc[own].rssBytes += m.rss;
    acc[own].pssBytes += m.pss;
    acc[own].processes += 1;
  }
  return acc;
}

const mib = (b: number): string => (b / 2 ** 20).toFixed(0);

/** One line: `RSS 430 / PSS 160 MiB: agent 80/76, lab 130/50, ...`. */
export function formatBreakdown(b: MemoryBreakdown): string {
  const of = (o: MemoryOwner): OwnerMemory => b[o] ?? NONE;
  const total = MEMORY_OWNERS.reduce((t, o) => ({ rss: t.rss + of(o).rssBytes, pss: t.pss + of(o).pssBytes }), { rss: 0, pss: 0 });
  const parts = MEMORY_OWNERS.filter((o) => of(o).processes > 0).map((o) => `${o} ${mib(of(o).rssBytes)}/${mib(of(o).pssBytes)}${of(o).processes > 1 ? ` (${of(o).processes})` : ''}`);
  return `RSS ${mib(total.rss)} / PSS ${mib(total.pss)} MiB: ${parts.join(', ')}`;
}
