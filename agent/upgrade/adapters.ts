/** Real adapters for the kubelet healthz over HTTP and /proc (the others are in ./wiring.ts). */
import { request } from 'node:http';
import { readFile, readlink, stat } from 'node:fs/promises';
import type { HealthPort, ProcPort } from './ports.ts';

export const httpHealth: HealthPort = {
  healthz(url, timeoutMs) {
    return new Promise((resolve) => {
      const req = request(url, { method: 'GET', timeout: timeoutMs }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          if (body.length < 512) body += c;
        });
        res.on('end', () => {
          const ok = res.statusCode === 200 && body.trim() === 'ok';
          resolve({ ok, detail: ok ? 'ok' : `HTTP ${String(res.statusCode)} ${JSON.stringify(body.slice(0, 100))}` });
        });
        res.on('error', (err) => resolve({ ok: false, detail: err.message }));
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (err) => resolve({ ok: false, detail: err.message }));
      req.end();
    });
  },
};

function isGone(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null && 'code' in err ? (err as { code: unknown }).code : undefined;
  return code === 'ENOENT' || code === 'ESRCH';
}

export function procfs(procRoot = '/proc'): ProcPort {
  return {
    async process(pid) {
      try {
        const exe = await readlink(`${procRoot}/${pid}/exe`);
        const argv = (await readFile(`${procRoot}/${pid}/cmdline`, 'utf8')).split('\0').filter((s, i, a) => s !== '' || i < a.length - 1);
        return { exe, argv };
      } catch (err) {
        if (isGone(err)) return undefined;
        throw err;
      }
    },
    async statAs(pid, hostPath) {
      try {
        const s = await stat(`${procRoot}/${pid}/root${hostPath}`);
        return { dev: s.dev, ino: s.ino };
      } catch (err) {
        if (isGone(err)) return undefined;
        throw err;
      }
    },
    async readAs(pid, hostPath) {
      try {
        return await readFile(`${procRoot}/${pid}/root${hostPath}`, 'utf8');
      } catch (err) {
        if (isGone(err)) return undefined;
        throw err;
      }
    },
  };
}
