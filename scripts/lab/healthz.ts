/**
 * The plain-HTTP healthz endpoint of the lab's scheduler, controller-manager and kube-proxy, where
 * their upstream counterparts serve it: the insecure port (--address/--port, 10251 scheduler and
 * 10252 controller-manager in 1.10-1.17) and kube-proxy's --healthz-bind-address (0.0.0.0:10256).
 * kip-agent's health probe (agent/components/health.ts) reads these after Release or a swap.
 */
import { createServer, type Server } from 'node:http';
import { InvalidInputError } from '../../lib/errors.ts';

export interface HealthzEndpoint {
  readonly host: string;
  readonly port: number;
}

/** host:port (kube-proxy's --healthz-bind-address); an empty host or 0.0.0.0 listens everywhere. */
export function parseBindAddress(text: string, flag: string): HealthzEndpoint {
  const m = /^(.*):(\d{1,5})$/.exec(text.trim());
  if (!m || Number(m[2]) > 65535) throw new InvalidInputError('LAB_FLAG_BAD_ADDRESS', `--${flag}: want host:port, got ${JSON.stringify(text)}`, { flag, text });
  return { host: m[1] === '' ? '0.0.0.0' : (m[1] as string).replace(/^\[(.*)\]$/, '$1'), port: Number(m[2]) };
}

/** Serves GET /healthz (200, the body) until close(); other paths are 404. */
export async function serveHealthz(at: HealthzEndpoint, body: () => string = () => 'ok'): Promise<{ close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if ((req.url ?? '').split('?')[0] === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(body());
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('404 page not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
