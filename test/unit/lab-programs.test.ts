import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { execaExec } from '../../lib/exec.ts';
import { AGENT_NODE_FLAGS, LAB_NODE_ENV, LAB_NODE_FLAGS, bundlePath, programCommand, programOfSource, programsDirOf } from '../../scripts/lab/programs.ts';
import { launcherScript } from '../../scripts/lab/kubelet/launcher.ts';
import { componentLauncherScript } from '../../scripts/lab/scheduler/launcher.ts';
import { labProgramScript } from '../../scripts/lab/launchers.ts';
import { agentUnit } from '../../scripts/lab/node-config.ts';
import { parseSupervisorArgs } from '../../scripts/lab/supervisor.ts';

describe('lab programs: bundles or tsx', () => {
  it('a lab with bundles starts each program from its bundle, one without (or from before bundles) through tsx', () => {
    expect(programsDirOf({ programs: 'bundle' }, '/repo')).toBe('/repo/dist/lab');
    expect(programsDirOf({ programs: 'tsx' }, '/repo')).toBeUndefined();
    expect(programsDirOf({}, '/repo')).toBeUndefined();
    expect(programCommand('/usr/bin/node', '/repo', 'scripts/lab/kubelet/main.ts', '/repo/dist/lab')).toBe('MALLOC_ARENA_MAX=1 "/usr/bin/node" --max-semi-space-size=2 --v8-pool-size=1 --optimize-for-size "/repo/dist/lab/kubelet.mjs"');
    expect(programCommand('/usr/bin/node', '/repo', 'scripts/lab/kubelet/main.ts', undefined)).toBe('"/usr/bin/node" --import "/repo/node_modules/tsx/dist/esm/index.mjs" "/repo/scripts/lab/kubelet/main.ts"');
    // A module that is no lab program always runs from source.
    expect(programCommand('/usr/bin/node', '/repo', 'scripts/lab/other/main.ts', '/repo/dist/lab')).toMatch(/tsx.*other\/main\.ts"$/);
    expect(programOfSource('agent/main.ts')).toBe('kip-agent');
    expect(bundlePath('/d', 'apiserver')).toBe('/d/apiserver.mjs');
  });

  it('every launcher follows the lab\'s choice', () => {
    const rt = { nodeBinary: '/usr/bin/node', repoDir: '/repo', programsDir: '/repo/dist/lab' };
    expect(launcherScript({ version: 'v1.11.10', ...rt })).toContain('MALLOC_ARENA_MAX=1 "/usr/bin/node" --max-semi-space-size=2 --v8-pool-size=1 --optimize-for-size "/repo/dist/lab/kubelet.mjs" "--lab-kube-version=v1.11.10"');
    expect(componentLauncherScript({ component: 'scheduler', version: 'v1.11.10', ...rt })).toContain('MALLOC_ARENA_MAX=1 "/usr/bin/node" --max-semi-space-size=2 --v8-pool-size=1 --optimize-for-size "/repo/dist/lab/scheduler.mjs" "--lab-kube-version=v1.11.10"');
    expect(labProgramScript({ program: 'kube-apiserver', version: 'v1.11.10', ...rt })).toContain('MALLOC_ARENA_MAX=1 "/usr/bin/node" --max-semi-space-size=2 --v8-pool-size=1 --optimize-for-size "/repo/dist/lab/apiserver.mjs" "--lab-kube-version=v1.11.10"');
    expect(labProgramScript({ program: 'kube-proxy', version: 'v1.11.10', ...rt })).toContain('MALLOC_ARENA_MAX=1 "/usr/bin/node" --max-semi-space-size=2 --v8-pool-size=1 --optimize-for-size "/repo/dist/lab/kube-proxy.mjs" "--lab-kube-version=v1.11.10"');
    expect(agentUnit(rt)).toContain('ExecStart="/usr/bin/node" --max-semi-space-size=2 "/repo/dist/lab/kip-agent.mjs" --config');
    expect(agentUnit({ nodeBinary: '/usr/bin/node', repoDir: '/repo' })).toContain('ExecStart=/usr/bin/node /repo/bin/kip-agent.mjs --config');
    expect(launcherScript({ version: 'v1.11.10', nodeBinary: '/usr/bin/node', repoDir: '/repo' })).toContain('tsx/dist/esm/index.mjs" "/repo/scripts/lab/kubelet/main.ts"');
  });

  it('the supervisor takes --programs bundle|tsx (default bundle) and refuses anything else', () => {
    expect(parseSupervisorArgs(['--state-dir', '/tmp/x']).programs).toBe('bundle');
    expect(parseSupervisorArgs(['--state-dir', '/tmp/x', '--programs', 'tsx']).programs).toBe('tsx');
    expect(() => parseSupervisorArgs(['--state-dir', '/tmp/x', '--programs', 'ts-node'])).toThrow(/--programs must be bundle or tsx, got ts-node/);
  });

  it('the lab runs kip-agent with the shipped unit\'s V8 flags, so it measures the agent a real node runs', async () => {
    const unit = await readFile(new URL('../../scripts/systemd/kip-agent.service', import.meta.url), 'utf8');
    expect(/^Environment=NODE_OPTIONS=(.*)$/m.exec(unit)?.[1]).toBe(AGENT_NODE_FLAGS);
    expect(programCommand('/usr/bin/node', '/repo', 'agent/main.ts', '/repo/dist/lab')).toBe(`"/usr/bin/node" ${AGENT_NODE_FLAGS} "/repo/dist/lab/kip-agent.mjs"`);
  });

  it('a launcher\'s command line starts this node with the stand-ins\' flags and environment, silently', async () => {
    // The launcher is a shell script: run its command words through sh with a probe in place of the bundle.
    const line = programCommand(process.execPath, '/repo', 'scripts/lab/kubelet/main.ts', '/repo/dist/lab').replace('"/repo/dist/lab/kubelet.mjs"', '-e "process.stdout.write(JSON.stringify({ env: process.env.MALLOC_ARENA_MAX, argv: process.execArgv }))"');
    const r = await execaExec('/bin/sh', ['-c', line], { timeoutMs: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const probe = JSON.parse(r.stdout) as { env: string; argv: string[] };
    expect(`MALLOC_ARENA_MAX=${probe.env}`).toBe(LAB_NODE_ENV);
    expect(probe.argv.slice(0, 3)).toEqual(LAB_NODE_FLAGS.split(' '));
  });
});
