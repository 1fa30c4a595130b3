/**
 * Verified etcd snapshots kept under the agent's state dir.
 *
 * Why etcdctl and not etcd's Maintenance.Snapshot over @grpc/grpc-js: the Debian etcd-client is
 * the client built with the server it talks to, `snapshot save` already writes to `<file>.part`,
 * fsyncs and renames, and `snapshot status` re-reads the finished file independently of the
 * stream that wrote it (bbolt hash, revision, keys, size). The gRPC route would need etcd's
 * gogoproto files and would only re-implement those steps. The cost: etcdctl reports a down etcd
 * and a refused certificate alike ("context deadline exceeded"), so ./etcd-probe.ts checks TCP
 * and TLS first with Node's own sockets and error codes; what still fails inside etcdctl is
 * classified from its stderr (a full disk), the raw stderr always kept in the error's details.
 *
 * Layout: <stateDir>/etcd-snapshots/<id>.db and <id>.json (metadata, written last: a .db without
 * its .json is an interrupted save and is not listed). On any failure the partial files are
 * removed and nothing is listed.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { Clock } from '../../lib/clock.ts';
import type { Exec, ExecResult } from '../../lib/exec.ts';
import type { FileSystem } from '../upgrade/fs.ts';
import { EtcdSnapshotError, EtcdSnapshotNotFoundError, EtcdTargetInvalidError } from './errors.ts';
import { probeEtcd } from './etcd-probe.ts';

export interface EtcdTarget {
  /** Client URLs; `snapshot save` talks to the first one only (etcdctl requires exactly one). */
  readonly endpoints: readonly string[];
  /** Host paths; all three or none. */
  readonly cacert?: string;
  readonly cert?: string;
  readonly key?: string;
}

export interface EtcdSnapshotInfo {
  readonly id: string;
  /** Host path of the .db file. */
  readonly path: string;
  readonly endpoint: string;
  readonly sizeBytes: number;
  readonly sha256: string;
  /** From `etcdctl snapshot status`. */
  readonly etcdHash: number;
  readonly revision: number;
  readonly totalKeys: number;
  readonly totalSize: number;
  readonly createdAtMs: number;
  readonly durationMs: number;
}

export interface EtcdSnapshotDeps {
  readonly exec: Exec;
  readonly fs: FileSystem;
  readonly clock: Clock;
  /** Host path of the agent's state dir. */
  readonly stateDir: string;
  readonly etcdctl?: string;
  readonly timeoutMs?: number;
}

const ID_RE = /^etcd-\d{8}T\d{6}Z-[0-9a-f]{8}$/;

function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

function classify(r: ExecResult, endpoint: string): EtcdSnapshotError {
  const err = r.stderr.trim();
  const details = { endpoint, exitCode: r.exitCode, stderr: err.slice(-2000), timedOut: r.timedOut };
  if (/no space left on device/i.test(err)) return new EtcdSnapshotError('ETCD_SNAPSHOT_NO_SPACE', `the state dir has no space left for the snapshot of ${endpoint}; free space (old snapshots: FetchSnapshot them off the node, then remove) and retry`, details);
  if (/x509|certificate|tls: |handshake|authentication handshake failed/i.test(err)) return new EtcdSnapshotError('ETCD_SNAPSHOT_TLS', `etcd at ${endpoint} and the agent do not accept each other's certificates: check the agent's etcd cacert/cert/key (${err.split('\n').pop() ?? ''})`, details);
  if (r.timedOut || /context deadline exceeded|connection refused|no such host|unavailable|connect: /i.test(err)) return new EtcdSnapshotError('ETCD_SNAPSHOT_UNREACHABLE', `etcd at ${endpoint} did not answer: is it running, and is the endpoint right?`, details);
  return new EtcdSnapshotError('ETCD_SNAPSHOT_FAILED', `etcdctl snapshot save failed (exit ${String(r.exitCode)}): ${err.split('\n').pop() ?? ''}`, details);
}

interface StatusJson {
  hash?: unknown;
  revision?: unknown;
  totalKey?: unknown;
  totalSize?: unknown;
}

export class EtcdSnapshots {
  private readonly etcdctl: string;
  private readonly timeoutMs: number;

  constructor(private readonly deps: EtcdSnapshotDeps) {
    this.etcdctl = deps.etcdctl ?? 'etcdctl';
    this.timeoutMs = deps.timeoutMs ?? 300_000;
  }

  dir(): string {
    return path.join(this.deps.stateDir, 'etcd-snapshots');
  }

  private async checkTarget(t: EtcdTarget): Promise<string[]> {
    const endpoint = t.endpoints[0];
    if (endpoint === undefined || endpoint === '') throw new EtcdTargetInvalidError('no etcd endpoint: set etcd endpoints in the agent config (e.g. https://127.0.0.1:2379)');
    const files = [t.cacert, t.cert, t.key];
    const given = files.filter((f) => f !== undefined && f !== '');
    if (given.length !== 0 && given.length !== 3) throw new EtcdTargetInvalidError('etcd client TLS needs all of cacert, cert and key (or none)', { cacert: t.cacert, cert: t.cert, key: t.key });
    for (const f of given) if ((await this.deps.fs.stat(f as string)) === undefined) throw new EtcdTargetInvalidError(`etcd TLS file ${f} does not exist`, { file: f });
    const args = [`--endpoints=${endpoint}`, '--dial-timeout=5s', `--command-timeout=${Math.ceil(this.timeoutMs / 1000)}s`];
    if (given.length === 3) args.push(`--cacert=${t.cacert}`, `--cert=${t.cert}`, `--key=${t.key}`);
    return args;
  }

  private run(args: readonly string[]): Promise<ExecResult> {
    return this.deps.exec(this.etcdctl, args, { timeoutMs: this.timeoutMs, env: { ETCDCTL_API: '3', PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  }

  async save(target: EtcdTarget): Promise<EtcdSnapshotInfo> {
    const { fs, clock } = this.deps;
    const conn = await this.checkTarget(target);
    const endpoint = target.endpoints[0] as string;
    await probeEtcd(endpoint, target.cert ? { cacert: target.cacert as string, cert: target.cert, key: target.key as string } : undefined);
    const started = clock.now();
    const id = `etcd-${stamp(started)}-${randomBytes(4).toString('hex')}`;
    const dir = this.dir();
    await fs.mkdirp(dir);
    const tmp = path.join(dir, `.kip-tmp-${id}.db`);
    const db = path.join(dir, `${id}.db`);
    const meta = path.join(dir, `${id}.json`);
    const cleanup = async () => {
      for (const f of [tmp, `${tmp}.part`, db, meta]) await fs.remove(f).catch(() => undefined);
    };
    try {
      const r = await this.run([...conn, 'snapshot', 'save', tmp]);
      if (r.exitCode !== 0 || r.timedOut) throw classify(r, endpoint);
      const st = await this.run(['snapshot', 'status', tmp, '--write-out=json']);
      let status: StatusJson;
      try {
        status = JSON.parse(st.stdout) as StatusJson;
      } catch {
        throw new EtcdSnapshotError('ETCD_SNAPSHOT_VERIFY_FAILED', `etcdctl snapshot status refused the snapshot: ${st.stderr.trim() || st.stdout.trim()}`, { stderr: st.stderr.slice(-2000) });
      }
      if (st.exitCode !== 0 || typeof status.revision !== 'number' || typeof status.totalKey !== 'number') {
        throw new EtcdSnapshotError('ETCD_SNAPSHOT_VERIFY_FAILED', `etcdctl snapshot status refused the snapshot: ${st.stderr.trim()}`, { stderr: st.stderr.slice(-2000) });
      }
      const sha256 = await fs.sha256(tmp);
      const stat = await fs.stat(tmp);
      if (sha256 === undefined || stat === undefined) throw new EtcdSnapshotError('ETCD_SNAPSHOT_FAILED', 'the snapshot file vanished after saving');
      await fs.rename(tmp, db);
      const info: EtcdSnapshotInfo = {
        id,
        path: db,
        endpoint,
        sizeBytes: stat.size,
        sha256,
        etcdHash: Number(status.hash ?? 0),
        revision: status.revision,
        totalKeys: status.totalKey,
        totalSize: Number(status.totalSize ?? 0),
        createdAtMs: started,
        durationMs: clock.now() - started,
      };
      try {
        await fs.writeAtomic(meta, `${JSON.stringify(info, null, 2)}\n`, 0o600);
      } catch (err) {
        if (/ENOSPC/.test(String(err))) throw new EtcdSnapshotError('ETCD_SNAPSHOT_NO_SPACE', 'the state dir has no space left for the snapshot metadata', { endpoint });
        throw err;
      }
      await fs.fsyncDir(dir);
      return info;
    } catch (err) {
      await cleanup();
      throw err;
    }
  }

  async list(): Promise<EtcdSnapshotInfo[]> {
    const out: EtcdSnapshotInfo[] = [];
    for (const f of await this.deps.fs.list(this.dir())) {
      if (!f.endsWith('.json') || !ID_RE.test(f.slice(0, -5))) continue;
      const t = await this.deps.fs.readText(path.join(this.dir(), f));
      if (t === undefined) continue;
      const info = JSON.parse(t) as EtcdSnapshotInfo;
      if ((await this.deps.fs.stat(info.path)) !== undefined) out.push(info);
    }
    return out.sort((a, b) => a.createdAtMs - b.createdAtMs);
  }

  async get(id: string): Promise<EtcdSnapshotInfo> {
    if (!ID_RE.test(id)) throw new EtcdSnapshotNotFoundError(id);
    const found = (await this.list()).find((s) => s.id === id);
    if (!found) throw new EtcdSnapshotNotFoundError(id);
    return found;
  }
}
