/** Real adapters for the kubelet healthz over HTTP and /proc (the others are in ./wiring.ts). */
import { readFile, readlink, stat } from 'node:fs/promises';
import { probeHealth } from '../components/health-probe.ts';
import type { HealthPort, ProcPort } from './ports.ts';

/** A component's health endpoint, through the one component health probe (HTTP 200 with body `ok`). */
export const httpHealth: HealthPort = {
  healthz: (url, timeoutMs, insecureSkipVerify = false) => probeHealth({ url, insecureSkipVerify, source: 'component health' }, timeoutMs),
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
