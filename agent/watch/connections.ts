/**
 * Established TCP connections of a process (the kubelet) to each apiserver endpoint, from
 * /proc/<pid>/fd (socket inodes) and /proc/net/tcp{,6} (issue 11 item 4). Why: 1.17 kubelets keep
 * about ten long-lived connections each instead of one (kubernetes PR #95427, fixed by #105490),
 * enough to overload a load balancer in front of the apiservers; and a kubelet whose pooled HTTP/2
 * connection broke keeps failing on it ("use of closed network connection", kubernetes#87615).
 * /proc/<pid>/net/tcp* list the sockets of that process's network namespace (the host's for a kubelet).
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { isIP } from 'node:net';

export interface TcpSocket {
  readonly inode: number;
  readonly localAddress: string;
  readonly localPort: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** The kernel's TCP state number: 1 = ESTABLISHED (include/net/tcp_states.h). */
  readonly state: number;
}

export const TCP_ESTABLISHED = 1;

/** "0100007F" (IPv4, one little-endian word) or 32 hex digits (IPv6, four little-endian words) to text. */
export function decodeProcAddress(hex: string): string {
  const words = hex.match(/.{8}/g) ?? [];
  const bytes: number[] = [];
  for (const w of words) {
    const n = parseInt(w, 16);
    bytes.push(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
  }
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.length !== 16) throw new RangeError(`bad /proc/net address ${hex}`);
  // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is reported as the IPv4 address.
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return bytes.slice(12).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return compressIpv6(groups);
}

function compressIpv6(groups: string[]): string {
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** The lines of /proc/net/tcp or /proc/net/tcp6. */
export function parseProcNetTcp(text: string): TcpSocket[] {
  const out: TcpSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [local, remote, st] = [f[1]!, f[2]!, f[3]!];
    const [la, lp] = local.split(':');
    const [ra, rp] = remote.split(':');
    if (!la || !lp || !ra || !rp) continue;
    out.push({ inode: Number(f[9]), localAddress: decodeProcAddress(la), localPort: parseInt(lp, 16), remoteAddress: decodeProcAddress(ra), remotePort: parseInt(rp, 16), state: parseInt(st, 16) });
  }
  return out;
}

export interface ProcReader {
  readdir(path: string): Promise<string[]>;
  readlink(path: string): Promise<string>;
  readFile(path: string): Promise<string>;
}

export const nodeProcReader: ProcReader = { readdir: (p) => readdir(p), readlink: (p) => readlink(p), readFile: (p) => readFile(p, 'utf8') };

/** Inodes of the sockets a process holds open (fd links "socket:[N]"); fds closed meanwhile are skipped. */
export async function socketInodes(pid: number, proc: ProcReader = nodeProcReader, procRoot = '/proc'): Promise<Set<number>> {
  const out = new Set<number>();
  for (const fd of await proc.readdir(`${procRoot}/${pid}/fd`)) {
    const target = await proc.readlink(`${procRoot}/${pid}/fd/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m) out.add(Number(m[1]));
  }
  return out;
}

export interface Endpoint {
  readonly address: string;
  readonly port: number;
}

export const endpointKey = (e: Endpoint): string => (isIP(e.address) === 6 ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`);

/** Established connections of `pid` to each endpoint (every endpoint is in the answer, 0 when none). */
export async function connectionsTo(pid: number, endpoints: readonly Endpoint[], proc: ProcReader = nodeProcReader, procRoot = '/proc'): Promise<Record<string, number>> {
  const inodes = await socketInodes(pid, proc, procRoot);
  const sockets: TcpSocket[] = [];
  for (const f of ['tcp', 'tcp6']) {
    const text = await proc.readFile(`${procRoot}/${pid}/net/${f}`).catch(() => '');
    sockets.push(...parseProcNetTcp(text));
  }
  const counts: Record<string, number> = {};
  for (const e of endpoints) counts[endpointKey(e)] = 0;
  for (const s of sockets) {
    if (s.state !== TCP_ESTABLISHED || !inodes.has(s.inode)) continue;
    const key = endpointKey({ address: s.remoteAddress, port: s.remotePort });
    if (key in counts) counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
