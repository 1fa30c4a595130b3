/**
 * Real adapters for the upgrade ports that are not systemd/journal: `--version` of a binary
 * (through lib/exec.ts), the kubelet healthz over HTTP, and /proc.
 */
import { request } from 'node:http';
import { readFile, readlink } from 'node:fs/promises';
import type { Exec } from '../../lib/exec.ts';
import { KipError } from '../../lib/errors.ts';
import type { FileSystem } from './fs.ts';
import type { HealthPort, KubeletBinaryPort, ProcPort } from './ports.ts';
import { versionFromOutput } from './version.ts';

export function execKubeletBinary(exec: Exec, fs: FileSystem, timeoutMs = 15_000): KubeletBinaryPort {
  return {
    async version(path) {
      const r = await exec(path, ['--version'], { timeoutMs, killGraceMs: 1_000 });
      const v = versionFromOutput(r.stdout);
      if (r.exitCode !== 0 || v === undefined) {
        throw new KipError('KUBELET_VERSION_UNREADABLE', `${path} --version exited ${String(r.exitCode ?? r.signal)} and printed ${JSON.stringify((r.stdout + r.stderr).slice(0, 200))}`, { path });
      }
      return v;
    },
    isPatched: (path, skipFilePath) => fs.contains(path, skipFilePath),
  };
}

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
  };
}
