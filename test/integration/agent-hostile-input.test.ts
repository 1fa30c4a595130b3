/**
 * A hostile or careless client against a kip-agent in its own process (issue 8, defect 9): every
 * string field of every RPC gets invalid UTF-8, non-ASCII text, control characters and 10 kB
 * values, sent as raw protobuf bytes over mutual TLS. The agent must answer each call with a
 * status that carries a kip code, keep answering, and leave no temp file of an upload that was
 * in flight meanwhile. At 9fc2631 the first such call (GetRun "é") killed the process: grpc-js
 * refused the non-ASCII `kip-error-details` value inside the handler's rejection path.
 */
import * as grpc from '@grpc/grpc-js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../lib/poll.ts';
import { ERROR_CODE_KEY, ERROR_DETAILS_BIN_KEY } from '../../proto/kip/errors.ts';
import { fakeBinary, sha256 } from '../unit/upgrade-fakes.ts';
import { makeTestPki, type TestPki } from '../../scripts/nspawn/test-pki.ts';

// ---- raw protobuf, so that bytes no well-behaved client would send reach the agent
function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}
const bytesField = (no: number, b: Buffer | string) => {
  const data = typeof b === 'string' ? Buffer.from(b, 'utf8') : b;
  return Buffer.concat([varint((no << 3) | 2), varint(data.length), data]);
};
const intField = (no: number, n: number) => Buffer.concat([varint(no << 3), varint(n)]);

const PAYLOADS: Record<string, Buffer> = {
  'invalid UTF-8': Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0xc0, 0xaf]),
  'version with invalid UTF-8': Buffer.concat([Buffer.from('v1.11.10-'), Buffer.from([0xed, 0xb2, 0x80, 0xff])]),
  'é': Buffer.from('é'),
  '日本': Buffer.from('日本'),
  'v1.11.10-é': Buffer.from('v1.11.10-é'),
  'control characters': Buffer.from('a\u0000b\r\nc\u007f\u001b[31m'),
  'emoji': Buffer.from('😀'),
  '10 kB version': Buffer.from(`v1.11.10-${'a'.repeat(10_000)}`),
  '10 kB of é': Buffer.from('é'.repeat(5_000)),
};

const GOOD_RUN = (i: number) => bytesField(1, `fuzz-${i}`);

/** [rpc, field, build(payload, i)]: the bad value in one field, valid values in the others. */
const CASES: [string, string, (p: Buffer, i: number) => Buffer[]][] = [
  ['GetRun', 'run_id', (p) => [bytesField(1, p)]],
  ['Rollback', 'run_id', (p) => [bytesField(1, p)]],
  ['RemoveStaged', 'version', (p) => [bytesField(1, p)]],
  ['Preflight', 'target_version', (p) => [bytesField(1, p)]],
  ['Preflight', 'allow_dropped_flags', (p) => [Buffer.concat([bytesField(1, 'v1.11.10'), bytesField(2, p), bytesField(2, p)])]],
  ['Upgrade', 'run_id', (p) => [Buffer.concat([bytesField(1, p), bytesField(2, 'v1.11.10')])]],
  ['Upgrade', 'target_version', (p, i) => [Buffer.concat([GOOD_RUN(i), bytesField(2, p)])]],
  ['Upgrade', 'allow_dropped_flags', (p, i) => [Buffer.concat([GOOD_RUN(i), bytesField(2, 'v1.11.10'), intField(3, 5_000), bytesField(4, p)])]],
  ['StageBinary', 'metadata.version', (p) => [bytesField(1, Buffer.concat([bytesField(1, p), bytesField(2, sha256('x')), intField(3, 10)])), bytesField(2, Buffer.alloc(10, 'x'))]],
  ['StageBinary', 'metadata.sha256', (p) => [bytesField(1, Buffer.concat([bytesField(1, 'v1.11.10'), bytesField(2, p), intField(3, 10)])), bytesField(2, Buffer.alloc(10, 'x'))]],
];

let tmp: string;
let pki: TestPki;
let child: ChildProcess;
let port: number;
let stateDir: string;
let client: grpc.Client;
let childExit: { code: number | null; signal: string | null } | undefined;
let childStderr = '';

const raw = (b: Buffer) => b;
const M = (name: string) => `/kip.v1.Agent/${name}`;

interface Outcome {
  readonly code: grpc.status;
  readonly kipCode: string | undefined;
  readonly details: unknown;
  readonly message: string;
}

function outcome(err: grpc.ServiceError | null | undefined): Outcome {
  if (!err) return { code: grpc.status.OK, kipCode: undefined, details: undefined, message: '' };
  const bin = err.metadata?.get(ERROR_DETAILS_BIN_KEY)[0];
  const code = err.metadata?.get(ERROR_CODE_KEY)[0];
  return { code: err.code, kipCode: typeof code === 'string' ? code : undefined, details: Buffer.isBuffer(bin) ? JSON.parse(bin.toString('utf8')) : undefined, message: err.details };
}

function call(rpc: string, messages: Buffer[]): Promise<Outcome> {
  const deadline = Date.now() + 15_000;
  return new Promise<Outcome>((resolve) => {
    if (rpc === 'Upgrade') {
      const s = client.makeServerStreamRequest(M(rpc), raw, raw, messages[0]!, new grpc.Metadata(), { deadline });
      s.on('data', () => {});
      s.on('error', (e: grpc.ServiceError) => resolve(outcome(e)));
      s.on('end', () => resolve(outcome(null)));
    } else if (rpc === 'StageBinary') {
      const s = client.makeClientStreamRequest(M(rpc), raw, raw, new grpc.Metadata(), { deadline }, (e) => resolve(outcome(e)));
      for (const m of messages) s.write(m);
      s.end();
    } else {
      client.makeUnaryRequest(M(rpc), raw, raw, messages[0]!, new grpc.Metadata(), { deadline }, (e) => resolve(outcome(e)));
    }
  });
}

async function tempFiles(): Promise<string[]> {
  return (await readdir(path.join(stateDir, 'binaries'), { recursive: true }).catch(() => [] as string[])).map(String).filter((f) => f.includes('.kip-tmp-'));
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'kip-agent-hostile-'));
  pki = await makeTestPki(path.join(tmp, 'pki'));
  const tsx = path.join(import.meta.dirname, '../../node_modules/.bin/tsx');
  child = spawn(tsx, [path.join(import.meta.dirname, '../harness/grpc-agent-child.ts'), pki.dir], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.once('exit', (code, signal) => {
    childExit = { code, signal };
  });
  const ready = await new Promise<{ port: number; stateDir: string }>((resolve, reject) => {
    child.stderr!.on('data', (b: Buffer) => {
      childStderr += b.toString();
      const line = childStderr.split('\n').find((l) => l.startsWith('{"port"'));
      if (line) resolve(JSON.parse(line) as { port: number; stateDir: string });
    });
    child.once('exit', () => reject(new Error(`the agent exited before it was ready: ${childStderr}`)));
  });
  port = ready.port;
  stateDir = ready.stateDir;
  client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createSsl(pki.caCert, pki.client.key, pki.client.cert));
}, 60_000);

afterAll(async () => {
  client?.close();
  if (child && !childExit) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await exited;
  }
  await rm(tmp, { recursive: true, force: true });
});

describe('kip-agent against hostile input (its own process)', () => {
  it('answers every RPC with a kip-coded status whatever its string fields hold, keeps answering, and leaves no temp file of an upload in flight', async () => {
    // An upload in flight: metadata and its first bytes, then nothing until the end.
    const bin = fakeBinary('v1.11.10');
    let uploadResult: Outcome | undefined;
    const upload = client.makeClientStreamRequest(M('StageBinary'), raw, raw, new grpc.Metadata(), { deadline: Date.now() + 120_000 }, (e) => {
      uploadResult = outcome(e);
    });
    upload.write(bytesField(1, Buffer.concat([bytesField(1, 'v1.11.10'), bytesField(2, sha256(bin)), intField(3, bin.length)])));
    upload.write(bytesField(2, bin.subarray(0, 10)));
    await waitFor('the upload\'s temp file', async () => ((await tempFiles()).length > 0 ? true : undefined), { timeoutMs: 10_000, intervalMs: 20 });

    const failures: string[] = [];
    let i = 0;
    for (const [rpc, field, build] of CASES) {
      for (const [name, payload] of Object.entries(PAYLOADS)) {
        i += 1;
        const o = await call(rpc, build(payload, i));
        const where = `${rpc}.${field} = ${name}`;
        if (o.code !== grpc.status.OK) {
          if ([grpc.status.INTERNAL, grpc.status.UNKNOWN, grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED].includes(o.code)) failures.push(`${where}: ${grpc.status[o.code]} ${o.message.slice(0, 200)}`);
          else if (!o.kipCode) failures.push(`${where}: ${grpc.status[o.code]} without a kip code`);
          else if (typeof o.details !== 'object' || o.details === null) failures.push(`${where}: details are not a JSON object`);
        }
        const alive = await call('GetNode', [Buffer.alloc(0)]);
        if (alive.code !== grpc.status.OK) {
          failures.push(`after ${where}: GetNode ${grpc.status[alive.code]} ${alive.message}`);
          break;
        }
      }
    }
    expect(failures).toEqual([]);
    expect(childExit).toBeUndefined();

    // The abandoned upload: its temp file goes when the client gives up.
    upload.cancel();
    await waitFor('no temp file left', async () => ((await tempFiles()).length === 0 ? true : undefined), { timeoutMs: 10_000, intervalMs: 50 });
    expect(uploadResult?.code).toBe(grpc.status.CANCELLED);
    expect(childExit).toBeUndefined();
  }, 180_000);

  it('survives a staged binary whose --version prints non-ASCII text, with no hostile client at all', async () => {
    for (const bin of [Buffer.from('#!/bin/sh\necho "Kubernetes v1.11.10 caf\u00e9"\n'), Buffer.from('#!/bin/sh\nprintf "\\377\\376 Kubernetes v1.11.10"\nexit 1\n')]) {
      const o = await call('StageBinary', [bytesField(1, Buffer.concat([bytesField(1, 'v1.11.10'), bytesField(2, sha256(bin)), intField(3, bin.length)])), bytesField(2, bin)]);
      expect(o).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, kipCode: 'STAGE_VERSION_UNREADABLE' });
      expect((await call('GetNode', [Buffer.alloc(0)])).code).toBe(grpc.status.OK);
    }
    expect(childExit).toBeUndefined();
  });

  it('a non-ASCII detail arrives intact, through the coordinator\'s error mapping', async () => {
    const { fromGrpcError } = await import('../../coordinator/fleet/errors.ts');
    const err = await new Promise<grpc.ServiceError | null>((resolve) =>
      client.makeUnaryRequest(M('GetRun'), raw, raw, bytesField(1, 'é日本'), new grpc.Metadata(), { deadline: Date.now() + 10_000 }, (e) => resolve(e)),
    );
    const mapped = fromGrpcError(err, 'GetRun');
    expect(mapped).toMatchObject({ code: 'RUN_ID_INVALID', kind: 'invalid', details: { runId: 'é日本' } });
  });
});
