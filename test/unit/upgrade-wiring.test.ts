import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execaExec } from '../../lib/exec.ts';
import type { Systemd } from '../../agent/systemd/index.ts';
import { flagMigrationPort, kubeletBinaryPort, systemdPort, UNIT_PROPERTIES } from '../../agent/upgrade/wiring.ts';

describe('systemdPort (over agent/systemd)', () => {
  it('turns systemctl show properties into UnitInfo', async () => {
    let asked: readonly string[] = [];
    const fake: Systemd = {
      show: async (_unit, props) => {
        asked = props;
        return {
          ActiveState: 'active',
          SubState: 'running',
          MainPID: '4242',
          ExecMainStartTimestamp: 'Wed 2019-11-27 00:00:00 UTC',
          NRestarts: '3',
          FragmentPath: '/etc/systemd/system/kubelet.service',
          DropInPaths: '/etc/systemd/system/kubelet.service.d/10-kubeadm.conf /etc/systemd/system/kubelet.service.d/20-x.conf',
          EnvironmentFiles: '/etc/default/kubelet (ignore_errors=no)\n/var/lib/kubelet/kubeadm-flags.env (ignore_errors=yes)',
          PrivateTmp: 'yes',
          TemporaryFileSystem: '/tmp:ro /var/cache/x',
          RootDirectory: '',
          BindPaths: '-/srv/a:/tmp:rbind',
          BindReadOnlyPaths: '/etc/x:/etc/y:norbind',
          InaccessiblePaths: '-/var/secret /root',
          ProtectHome: 'read-only',
          NeedDaemonReload: 'yes',
          ExecStart: '{ path=/usr/bin/kubelet ; argv[]=/usr/bin/kubelet $KUBELET_ARGS --v=2 ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }',
        };
      },
      start: async () => {},
      stop: async () => {},
      restart: async () => {},
      daemonReload: async () => {},
      isActive: async () => 'active',
    };
    const info = await systemdPort(fake).unitInfo('kubelet.service');
    expect(asked).toEqual(UNIT_PROPERTIES);
    expect(info).toEqual({
      activeState: 'active',
      subState: 'running',
      mainPid: 4242,
      execMainStartUsec: 1574812800 * 1_000_000,
      nRestarts: 3,
      fragmentPath: '/etc/systemd/system/kubelet.service',
      dropInPaths: ['/etc/systemd/system/kubelet.service.d/10-kubeadm.conf', '/etc/systemd/system/kubelet.service.d/20-x.conf'],
      environmentFiles: ['/etc/default/kubelet', '/var/lib/kubelet/kubeadm-flags.env'],
      privateTmp: true,
      mountOptions: {
        temporaryFileSystem: ['/tmp:ro', '/var/cache/x'],
        rootDirectory: '',
        rootImage: '',
        inaccessiblePaths: ['-/var/secret', '/root'],
        bindPaths: ['-/srv/a:/tmp:rbind', '/etc/x:/etc/y:norbind'],
        protectHome: 'read-only',
      },
      execStart: ['/usr/bin/kubelet', '$KUBELET_ARGS', '--v=2'],
      needDaemonReload: true,
    });
  });
});

describe('flagMigrationPort (over agent/kubelet planFlagMigration)', () => {
  let dir = '';
  let withHelp = '';
  let noHelp = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kip-wiring-'));
    withHelp = path.join(dir, 'kubelet-help');
    noHelp = path.join(dir, 'kubelet-nohelp');
    await writeFile(withHelp, '#!/bin/sh\nif [ "$1" = "--help" ]; then printf "Usage:\\n  kubelet [flags]\\n\\nFlags:\\n      --healthz-port int32   port\\n      --v Level   verbosity\\n"; exit 0; fi\necho "Kubernetes v1.11.10"\n', { mode: 0o755 });
    await writeFile(noHelp, '#!/bin/sh\nexit 1\n', { mode: 0o755 });
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const input = (env: string, targetBinary: string, allow: string[] = []) => ({
    fromVersion: 'v1.10.13',
    toVersion: 'v1.11.10',
    execStart: ['/usr/bin/kubelet', '$KUBELET_ARGS'],
    unitFiles: [{ path: '/etc/systemd/system/kubelet.service', content: '[Service]\nEnvironmentFile=/etc/default/kubelet\nExecStart=/usr/bin/kubelet $KUBELET_ARGS\n' }],
    environmentFiles: [{ path: '/etc/default/kubelet', content: env }],
    allowDroppedFlags: allow,
    targetBinary,
  });

  it('refuses a flag the staged binary does not know (its --help), unless the operator allows dropping it', async () => {
    const port = flagMigrationPort(execaExec);
    await expect(port.plan(input('KUBELET_ARGS="--healthz-port=1 --bogus-flag=1"\n', withHelp))).rejects.toMatchObject({ code: 'KUBELET_FLAGS_REFUSED' });
    const plan = await port.plan(input('KUBELET_ARGS="--healthz-port=1 --bogus-flag=1"\n', withHelp, ['unknown:--bogus-flag']));
    expect(plan.edits).toHaveLength(1);
    expect(plan.edits[0]?.content).not.toContain('--bogus-flag');
    expect(plan.edits[0]?.content).toContain('--healthz-port=1');
  });

  it('plans nothing for known flags, and says so when the unknown-flag check cannot run', async () => {
    const port = flagMigrationPort(execaExec);
    expect(await port.plan(input('KUBELET_ARGS="--healthz-port=1 --v=2"\n', withHelp))).toEqual({ edits: [], notes: [] });
    const skipped = await port.plan(input('KUBELET_ARGS="--healthz-port=1 --bogus-flag=1"\n', noHelp));
    expect(skipped.edits).toEqual([]);
    expect(skipped.notes.join('\n')).toMatch(/unknown-flag check skipped/);
  });
});

describe('kubeletBinaryPort.isPatched (the port staging and GetNode use)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'kip-patched-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('reads the markers a real patched build holds, not the skip-file path the patch builds at run time', async () => {
    const port = kubeletBinaryPort(execaExec);
    const write = async (name: string, text: string) => {
      const p = path.join(dir, name);
      await writeFile(p, text);
      return p;
    };
    // A real build holds "cache.version.save" and the package path, never "/tmp/cache.version.save".
    expect(await port.isPatched(await write('real', 'x\0cache.version.save\0k8s.io/kubernetes/pkg/kubelet/cache_version.SubCachVersion\0'), '/tmp/cache.version.save')).toBe(true);
    // The literal alone (what detection searched for before) is not a patched build.
    expect(await port.isPatched(await write('literal', 'x\0/tmp/cache.version.save\0'), '/tmp/cache.version.save')).toBe(false);
    expect(await port.isPatched(await write('upstream', 'x\0k8s.io/kubernetes/pkg/kubelet\0'), '/tmp/cache.version.save')).toBe(false);
    const custom = kubeletBinaryPort(execaExec, 1_000, ['pkg/kubelet/skipversion']);
    expect(await custom.isPatched(await write('port', 'x\0pkg/kubelet/skipversion\0'), '/tmp/cache.version.save')).toBe(true);
  });
});
