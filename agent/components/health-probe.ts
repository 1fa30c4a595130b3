/**
 * One health probe of a component over http or https (loopback probes of self-signed serving
 * certificates skip verification when the probe says so). `ok` means HTTP 200 with body `ok`,
 * as kube-apiserver, controller-manager, scheduler and the kubelet answer, or HTTP 200 with
 * kube-proxy's JSON body: its /healthz writes `{"lastUpdated": ..,"currentTime": ..}` with 200
 * when healthy and 503 when its proxier sync is stale (pkg/proxy/healthcheck/healthcheck.go,
 * healthzHandler.ServeHTTP, 1.10-1.17), never `ok`.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { HealthProbe } from './types.ts';

export interface HealthResult {
  readonly ok: boolean;
  readonly detail: string;
}

export function probeHealth(probe: HealthProbe, timeoutMs: number): Promise<HealthResult> {
  if (probe.url === '') return Promise.resolve({ ok: false, detail: `no health endpoint (${probe.source})` });
  return new Promise((resolve) => {
    let url: URL;
    try {
      url = new URL(probe.url);
    } catch {
      resolve({ ok: false, detail: `not a URL: ${probe.url}` });
      return;
    }
    const https = url.protocol === 'https:';
    const req = (https ? httpsRequest : httpRequest)(url, { method: 'GET', timeout: timeoutMs, ...(https ? { rejectUnauthorized: !probe.insecureSkipVerify } : {}) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (body.length < 512) body += c;
      });
      res.on('end', () => {
        const ok = res.statusCode === 200 && (body.trim() === 'ok' || isKubeProxyHealthz(body));
        resolve({ ok, detail: ok ? 'ok' : `HTTP ${String(res.statusCode)} ${JSON.stringify(body.slice(0, 100))}` });
      });
      res.on('error', (err) => resolve({ ok: false, detail: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => resolve({ ok: false, detail: err.message }));
    req.end();
  });
}

/** kube-proxy's healthz body: a JSON object with its lastUpdated time (see the header). */
function isKubeProxyHealthz(body: string): boolean {
  try {
    const v: unknown = JSON.parse(body);
    return typeof v === 'object' && v !== null && 'lastUpdated' in v;
  } catch {
    return false;
  }
}
