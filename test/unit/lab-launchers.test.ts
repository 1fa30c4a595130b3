import { describe, expect, it } from 'vitest';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { labProgramBinary, labProgramScript } from '../../scripts/lab/launchers.ts';
import { parseKubeProxyArgs, removedFlags } from '../../scripts/lab/kube-proxy/main.ts';
import { parseKubeVersion } from '../../scripts/lab/scheduler/flags.ts';
import { parseVersionOutput } from '../../agent/components/version.ts';
import { componentFromHelp } from '../../agent/components/identity.ts';

describe('lab program launchers', () => {
  it('answer --version in the shell, the way kip-agent parses a Go binary', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kip-launch-'));
    try {
      for (const program of ['kube-apiserver', 'kube-scheduler', 'kube-controller-manager', 'kube-proxy'] as const) {
        const bin = join(dir, program);
        await writeFile(bin, labProgramScript({ program, version: 'v1.16.15', nodeBinary: '/nonexistent/node', repoDir: '/nonexistent' }));
        await chmod(bin, 0o755);
        const r = await execa(bin, ['--version']);
        expect(r.stdout).toBe('Kubernetes v1.16.15');
        expect(parseVersionOutput(r.stdout)).toBe('v1.16.15');
        expect(componentFromHelp((await execa(bin, ['--help'])).stdout)).toBe(program);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  it('runs its program with the version and the build arguments before the unit\'s own', () => {
    const s = labProgramScript({ program: 'kube-apiserver', version: 'v1.11.10', buildArgs: ['--lab-default-toleration-seconds=true'], nodeBinary: '/n', repoDir: '/r' });
    expect(s).toContain('"/n" --import "/r/node_modules/tsx/dist/esm/index.mjs" "/r/scripts/lab/apiserver/main.ts" "--lab-kube-version=v1.11.10" "--lab-default-toleration-seconds=true" "$@" &');
    const b = labProgramBinary({ program: 'kube-apiserver', version: 'v1.11.10', nodeBinary: '/n', repoDir: '/r' });
    expect(b.size).toBe(b.data.length);
    expect(b.sha256).toMatch(/^[0-9a-f]{64}$/);
  });
  it('refuses versions and paths a shell would misread', () => {
    expect(() => labProgramScript({ program: 'kube-proxy', version: '1.16', nodeBinary: '/n', repoDir: '/r' })).toThrow(/v1\.13\.12/);
    expect(() => labProgramScript({ program: 'kube-proxy', version: 'v1.16.15', nodeBinary: '/n; rm -rf /', repoDir: '/r' })).toThrow(/refuses/);
  });
});

describe('lab kube-proxy flags', () => {
  it('--resource-container is accepted before 1.16 and refused from 1.16 (CHANGELOG-1.16, #78294)', () => {
    expect(parseKubeProxyArgs(['--lab-kube-version=v1.15.12', '--resource-container=', '--healthz-bind-address=127.0.0.11:10256']).healthz).toEqual({ host: '127.0.0.11', port: 10256 });
    expect([...removedFlags(parseKubeVersion('v1.15.12')).keys()]).toEqual([]);
    expect([...removedFlags(parseKubeVersion('v1.16.15')).keys()]).toEqual(['resource-container']);
    expect(() => parseKubeProxyArgs(['--lab-kube-version=v1.16.15', '--resource-container='])).toThrow(/unknown flag: --resource-container/);
  });
  it('healthz defaults to 0.0.0.0:10256 and port 0 turns it off', () => {
    expect(parseKubeProxyArgs(['--lab-kube-version=v1.10.13']).healthz).toEqual({ host: '0.0.0.0', port: 10256 });
    expect(parseKubeProxyArgs(['--lab-kube-version=v1.10.13', '--healthz-bind-address=127.0.0.1:0']).healthz).toBeUndefined();
    expect(() => parseKubeProxyArgs(['--lab-kube-version=v1.10.13', '--healthz-bind-address=nope'])).toThrow(/host:port/);
  });
});
