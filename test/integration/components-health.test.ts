/** probeHealth against real loopback http and https servers (a self-signed-CA serving cert). */
import { createServer as createHttp, type Server } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { componentFromHelp, probeHealth } from '../../agent/components/index.ts';
import { makeTestPki } from '../../scripts/nspawn/test-pki.ts';

let tmp: string;
const servers: Server[] = [];
let httpPort = 0;
let httpsPort = 0;

function listen(s: Server): Promise<number> {
  servers.push(s);
  return new Promise((r) => s.listen(0, '127.0.0.1', () => r((s.address() as { port: number }).port)));
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'kip-health-'));
  const pki = await makeTestPki(path.join(tmp, 'pki'));
  const handler = (req: { url?: string }, res: { writeHead(c: number): void; end(b: string): void }) => {
    if (req.url === '/readyz') {
      res.writeHead(200);
      res.end('ok');
    } else if (req.url === '/proxy-healthy' || req.url === '/proxy-stale') {
      // kube-proxy's /healthz (pkg/proxy/healthcheck healthzHandler, 1.10-1.17): JSON, 200 or 503.
      res.writeHead(req.url === '/proxy-healthy' ? 200 : 503);
      res.end('{"lastUpdated": "2026-12-01 14:57:09.093 +0000 UTC","currentTime": "2026-12-01 14:58:55.517 +0000 UTC"}');
    } else {
      res.writeHead(500);
      res.end('[-]etcd failed');
    }
  };
  httpPort = await listen(createHttp(handler));
  httpsPort = await listen(createHttps({ cert: pki.server.cert, key: pki.server.key }, handler));
}, 60_000);

afterAll(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
  await rm(tmp, { recursive: true, force: true });
});

describe('probeHealth', () => {
  it('http and https (verification skipped only when the probe says so)', async () => {
    expect(await probeHealth({ url: `http://127.0.0.1:${httpPort}/readyz`, insecureSkipVerify: false, source: '' }, 2_000)).toEqual({ ok: true, detail: 'ok' });
    expect((await probeHealth({ url: `http://127.0.0.1:${httpPort}/healthz`, insecureSkipVerify: false, source: '' }, 2_000)).detail).toContain('HTTP 500');
    expect(await probeHealth({ url: `https://127.0.0.1:${httpsPort}/readyz`, insecureSkipVerify: true, source: '' }, 2_000)).toEqual({ ok: true, detail: 'ok' });
    const strict = await probeHealth({ url: `https://127.0.0.1:${httpsPort}/readyz`, insecureSkipVerify: false, source: '' }, 2_000);
    expect(strict.ok).toBe(false);
    expect(strict.detail).toMatch(/certificate/i);
    expect(await probeHealth({ url: '', insecureSkipVerify: false, source: '--port=0' }, 2_000)).toEqual({ ok: false, detail: 'no health endpoint (--port=0)' });
  });

  it("kube-proxy's JSON healthz: 200 is healthy, 503 is not (the body is never `ok`)", async () => {
    expect(await probeHealth({ url: `http://127.0.0.1:${httpPort}/proxy-healthy`, insecureSkipVerify: false, source: '' }, 2_000)).toEqual({ ok: true, detail: 'ok' });
    const stale = await probeHealth({ url: `http://127.0.0.1:${httpPort}/proxy-stale`, insecureSkipVerify: false, source: '' }, 2_000);
    expect(stale.ok).toBe(false);
    expect(stale.detail).toContain('HTTP 503');
  });

  it('tells components apart by their --help usage line', () => {
    expect(componentFromHelp('The Kubernetes API server validates...\n\nUsage:\n  kube-apiserver [flags]\n')).toBe('kube-apiserver');
    expect(componentFromHelp('Usage:\n  /usr/local/bin/kube-proxy [flags]\n')).toBe('kube-proxy');
    expect(componentFromHelp('Usage:\n  hyperkube [flags]\n')).toBeUndefined();
  });
});
