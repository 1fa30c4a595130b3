/**
 * A private etcd 3.4 (Debian etcd-server) for the lab and the tests, and a small client over etcd's
 * v3 JSON gRPC gateway (HTTP on the client port; keys and values base64, int64 as strings), so Node
 * needs no extra dependency. Gateway paths as documented for etcd 3.4
 * (https://etcd.io/docs/v3.4/dev-guide/api_grpc_gateway/): /v3/kv/range, /v3/kv/put, /v3/kv/txn,
 * /v3/kv/deleterange, /v3/watch (a stream of newline-separated JSON objects).
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { createServer } from 'node:net';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KipError } from '../../lib/errors.ts';
import type { Exec, ExecResult } from '../../lib/exec.ts';
import type { Logger } from '../../lib/logger.ts';

export class EtcdError extends KipError {
  constructor(code: string, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(code, message, details, options);
  }
}

export interface EtcdKv {
  readonly key: string;
  readonly value: string;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
}

export interface EtcdWatchEvent {
  readonly type: 'PUT' | 'DELETE';
  /** For DELETE: key only, modRevision = the deletion's revision. */
  readonly kv: EtcdKv;
  readonly prevKv: EtcdKv | undefined;
}

export interface EtcdWatch {
  cancel(): void;
}

type Wire = { [k: string]: unknown };

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: unknown): string => (typeof s === 'string' ? Buffer.from(s, 'base64').toString('utf8') : '');
const num = (v: unknown): number => (typeof v === 'string' || typeof v === 'number' ? Number(v) : 0);

function isWire(v: unknown): v is Wire {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function toKv(w: unknown): EtcdKv | undefined {
  if (!isWire(w)) return undefined;
  return {
    key: unb64(w.key),
    value: unb64(w.value),
    createRevision: num(w.create_revision),
    modRevision: num(w.mod_revision),
    version: num(w.version),
  };
}

/** The end of the key range that holds every key with this prefix. */
export function prefixEnd(prefix: string): string {
  const buf = Buffer.from(prefix, 'utf8');
  for (let i = buf.length - 1; i >= 0; i--) {
    const byte = buf[i] ?? 0;
    if (byte < 0xff) {
      const end = Buffer.from(buf.subarray(0, i + 1));
      end[i] = byte + 1;
      return end.toString('base64');
    }
  }
  return Buffer.from([0]).toString('base64');
}

function headerRevision(w: Wire): number {
  return isWire(w.header) ? num(w.header.revision) : 0;
}

export class EtcdClient {
  readonly endpoint: string;

  constructor(endpoint: string) {
    this.endpoint = endpoint.replace(/\/$/, '');
  }

  private async call(path: string, body: Wire): Promise<Wire> {
    let res: Response;
    try {
      res = await fetch(`${this.endpoint}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    } catch (cause) {
      throw new EtcdError('ETCD_UNREACHABLE', `etcd at ${this.endpoint} unreachable: ${cause instanceof Error ? cause.message : String(cause)}`, { path }, { cause });
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (cause) {
      throw new EtcdError('ETCD_BAD_RESPONSE', `etcd ${path} answered non-JSON (${res.status})`, { path, status: res.status, body: text.slice(0, 200) }, { cause });
    }
    if (!res.ok || !isWire(parsed)) {
      throw new EtcdError('ETCD_REQUEST_FAILED', `etcd ${path} failed (${res.status}): ${text.slice(0, 300)}`, { path, status: res.status });
    }
    return parsed;
  }

  async get(key: string): Promise<{ kv: EtcdKv | undefined; revision: number }> {
    const r = await this.call('/v3/kv/range', { key: b64(key) });
    const kvs = Array.isArray(r.kvs) ? r.kvs : [];
    return { kv: toKv(kvs[0]), revision: headerRevision(r) };
  }

  /** Every key under prefix, at one revision (the answer's revision). */
  async list(prefix: string, atRevision?: number): Promise<{ kvs: EtcdKv[]; revision: number }> {
    const req: Wire = { key: b64(prefix), range_end: prefixEnd(prefix) };
    if (atRevision !== undefined && atRevision > 0) req.revision = String(atRevision);
    const r = await this.call('/v3/kv/range', req);
    const kvs = (Array.isArray(r.kvs) ? r.kvs : []).map(toKv).filter((k): k is EtcdKv => k !== undefined);
    return { kvs, revision: headerRevision(r) };
  }

  async put(key: string, value: string): Promise<number> {
    return headerRevision(await this.call('/v3/kv/put', { key: b64(key), value: b64(value) }));
  }

  private async txn(compare: Wire, success: Wire[], failure: Wire[]): Promise<Wire> {
    return this.call('/v3/kv/txn', { compare: [compare], success, failure });
  }

  /** Put only if the key does not exist. On failure, `current` is the existing entry. */
  async create(key: string, value: string): Promise<{ ok: boolean; revision: number; current: EtcdKv | undefined }> {
    const r = await this.txn({ key: b64(key), result: 'EQUAL', target: 'CREATE', create_revision: '0' },
      [{ request_put: { key: b64(key), value: b64(value) } }], [{ request_range: { key: b64(key) } }]);
    return { ok: r.succeeded === true, revision: headerRevision(r), current: r.succeeded === true ? undefined : firstRangeKv(r) };
  }

  /** Put only if the key's mod revision is still modRevision (compare-and-swap). */
  async update(key: string, value: string, modRevision: number): Promise<{ ok: boolean; revision: number; current: EtcdKv | undefined }> {
    const r = await this.txn({ key: b64(key), result: 'EQUAL', target: 'MOD', mod_revision: String(modRevision) },
      [{ request_put: { key: b64(key), value: b64(value) } }], [{ request_range: { key: b64(key) } }]);
    return { ok: r.succeeded === true, revision: headerRevision(r), current: r.succeeded === true ? undefined : firstRangeKv(r) };
  }

  /** Delete only if the key's mod revision is still modRevision. */
  async deleteIf(key: string, modRevision: number): Promise<{ ok: boolean; revision: number; current: EtcdKv | undefined }> {
    const r = await this.txn({ key: b64(key), result: 'EQUAL', target: 'MOD', mod_revision: String(modRevision) },
      [{ request_delete_range: { key: b64(key) } }], [{ request_range: { key: b64(key) } }]);
    return { ok: r.succeeded === true, revision: headerRevision(r), current: r.succeeded === true ? undefined : firstRangeKv(r) };
  }

  /** Discards history before revision (watches and reads from older revisions then fail). */
  async compact(revision: number): Promise<void> {
    await this.call('/v3/kv/compaction', { revision: String(revision), physical: true });
  }

  /**
   * Watch every key under prefix from startRevision (inclusive). Events arrive in revision order.
   * onError is called once if the stream fails or etcd reports the revision compacted.
   */
  watch(prefix: string, startRevision: number, onEvents: (events: EtcdWatchEvent[]) => void, onError: (err: EtcdError) => void): EtcdWatch {
    const url = new URL(`${this.endpoint}/v3/watch`);
    let cancelled = false;
    let failed = false;
    const fail = (err: EtcdError): void => {
      if (cancelled || failed) return;
      failed = true;
      req.destroy();
      onError(err);
    };
    const body = JSON.stringify({
      create_request: { key: b64(prefix), range_end: prefixEnd(prefix), start_revision: String(startRevision), prev_kv: true },
    });
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res: IncomingMessage) => {
      if (res.statusCode !== 200) {
        fail(new EtcdError('ETCD_WATCH_FAILED', `etcd watch answered ${res.statusCode ?? '?'}`, { prefix }));
        return;
      }
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let nl: number;
        while ((nl = buffer.indexOf('\n')) >= 0) {
          const line = buffer.slice(0, nl).trim();
          buffer = buffer.slice(nl + 1);
          if (line) handleLine(line);
        }
        // The gateway may not end a message with a newline: try the whole buffer as one object.
        const rest = buffer.trim();
        if (rest.startsWith('{') && rest.endsWith('}')) {
          try {
            JSON.parse(rest);
            buffer = '';
            handleLine(rest);
          } catch {
            // incomplete: wait for more data
          }
        }
      });
      res.on('end', () => fail(new EtcdError('ETCD_WATCH_ENDED', 'etcd closed the watch stream', { prefix })));
      res.on('error', (cause) => fail(new EtcdError('ETCD_WATCH_FAILED', `etcd watch stream failed: ${cause.message}`, { prefix }, { cause })));
    });
    const handleLine = (line: string): void => {
      if (cancelled || failed) return;
      let msg: unknown;
      try {
        msg = JSON.parse(line);
      } catch (cause) {
        fail(new EtcdError('ETCD_BAD_RESPONSE', 'etcd watch sent non-JSON', { line: line.slice(0, 200) }, { cause }));
        return;
      }
      if (!isWire(msg)) return;
      if (isWire(msg.error)) {
        fail(new EtcdError('ETCD_WATCH_FAILED', `etcd watch error: ${JSON.stringify(msg.error).slice(0, 300)}`, { prefix }));
        return;
      }
      const result = msg.result;
      if (!isWire(result)) return;
      if (num(result.compact_revision) > 0) {
        fail(new EtcdError('ETCD_COMPACTED', `revision ${startRevision} compacted (now ${num(result.compact_revision)})`, { prefix, compactRevision: num(result.compact_revision) }));
        return;
      }
      if (result.canceled === true) {
        fail(new EtcdError('ETCD_WATCH_CANCELED', 'etcd cancelled the watch', { prefix }));
        return;
      }
      const events: EtcdWatchEvent[] = [];
      for (const e of Array.isArray(result.events) ? result.events : []) {
        if (!isWire(e)) continue;
        const kv = toKv(e.kv);
        if (!kv) continue;
        events.push({ type: e.type === 'DELETE' ? 'DELETE' : 'PUT', kv, prevKv: toKv(e.prev_kv) });
      }
      if (events.length > 0) onEvents(events);
    };
    req.on('error', (cause) => fail(new EtcdError('ETCD_WATCH_FAILED', `etcd watch request failed: ${cause.message}`, { prefix }, { cause })));
    req.end(body);
    return {
      cancel: () => {
        cancelled = true;
        req.destroy();
      },
    };
  }
}

function firstRangeKv(r: Wire): EtcdKv | undefined {
  const responses = Array.isArray(r.responses) ? r.responses : [];
  const first: unknown = responses[0];
  if (!isWire(first) || !isWire(first.response_range)) return undefined;
  const kvs = first.response_range.kvs;
  return Array.isArray(kvs) ? toKv(kvs[0]) : undefined;
}

/** A port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface EtcdHandle {
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  readonly dataDir: string;
  readonly client: EtcdClient;
  readonly pid: number;
  /** TERM, then KILL after a grace period; resolves when the process has exited. Idempotent. */
  stop(): Promise<void>;
}

export interface StartEtcdOptions {
  readonly exec: Exec;
  /** A private directory; the data dir is created inside it. */
  readonly dir: string;
  readonly logger?: Logger;
  readonly name?: string;
  readonly startTimeoutMs?: number;
  /** The etcd binary; /usr/bin/etcd unless given. */
  readonly binary?: string;
}

async function findPidByArg(arg: string): Promise<number | undefined> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0');
      if (argv.includes(arg) && (argv[0] ?? '').endsWith('etcd')) return Number(entry);
    } catch {
      // the process ended while we looked: not ours
    }
  }
  return undefined;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Starts etcd on free 127.0.0.1 ports with its own data dir under options.dir and waits for
 * /health. The process runs through the Exec port (a run-to-completion call that we leave pending
 * with a 24 h timeout); stop() signals it with `kill` through the same port.
 */
export async function startEtcd(options: StartEtcdOptions): Promise<EtcdHandle> {
  const { exec } = options;
  const name = options.name ?? 'kip-lab';
  const dataDir = join(options.dir, 'etcd-data');
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  let lastErr = '';
  for (let attempt = 1; attempt <= 3; attempt++) {
    const clientPort = await freePort();
    const peerPort = await freePort();
    const client = `http://127.0.0.1:${clientPort}`;
    const peer = `http://127.0.0.1:${peerPort}`;
    const args = [
      '--name', name, '--data-dir', dataDir,
      '--listen-client-urls', client, '--advertise-client-urls', client,
      '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
      '--initial-cluster', `${name}=${peer}`, '--initial-cluster-state', 'new',
      '--logger', 'zap', '--log-level', 'warn', '--log-outputs', 'stderr',
    ];
    let exited: ExecResult | undefined;
    let spawnError: unknown;
    const running = exec(options.binary ?? 'etcd', args, { timeoutMs: 24 * 3600_000, killGraceMs: 5_000 }).then(
      (r) => { exited = r; },
      (e: unknown) => { spawnError = e; },
    );
    const etcd = new EtcdClient(client);
    let pid: number | undefined;
    while (Date.now() < deadline && exited === undefined && spawnError === undefined) {
      pid ??= await findPidByArg(dataDir);
      try {
        const res = await fetch(`${client}/health`);
        const body = await res.text();
        if (res.ok && body.includes('"true"') && pid !== undefined) {
          options.logger?.info({ endpoint: client, pid, dataDir }, 'etcd started');
          return makeHandle(exec, client, dataDir, etcd, pid, running);
        }
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    if (spawnError !== undefined) {
      throw new EtcdError('ETCD_START_FAILED', `could not start etcd: ${spawnError instanceof Error ? spawnError.message : String(spawnError)}`, {}, { cause: spawnError });
    }
    if (exited === undefined) {
      // deadline passed while it was running: end it and give up
      pid ??= await findPidByArg(dataDir);
      if (pid !== undefined) await exec('kill', ['-KILL', String(pid)], { timeoutMs: 5_000 });
      await running;
      throw new EtcdError('ETCD_START_TIMEOUT', 'etcd did not become healthy in time', { dataDir });
    }
    const ended: ExecResult = exited;
    lastErr = ended.stderr.slice(-2000);
    // a port taken between freePort() and bind is worth another try; anything else is not
    if (!/address already in use/.test(lastErr)) break;
  }
  throw new EtcdError('ETCD_START_FAILED', `etcd exited during start-up: ${lastErr.trim().split('\n').slice(-3).join(' | ')}`, { dataDir });
}

function makeHandle(exec: Exec, endpoint: string, dataDir: string, client: EtcdClient, pid: number, running: Promise<void>): EtcdHandle {
  let stopping: Promise<void> | undefined;
  return {
    endpoint,
    dataDir,
    client,
    pid,
    stop: () => {
      stopping ??= (async () => {
        if (!processAlive(pid)) return void (await running);
        await exec('kill', ['-TERM', String(pid)], { timeoutMs: 5_000 });
        const deadline = Date.now() + 10_000;
        while (processAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        if (processAlive(pid)) await exec('kill', ['-KILL', String(pid)], { timeoutMs: 5_000 });
        await running;
      })();
      return stopping;
    },
  };
}
