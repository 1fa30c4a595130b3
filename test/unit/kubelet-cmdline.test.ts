import { describe, expect, it } from 'vitest';
import {
  effectiveFlags,
  KubeletEnvFileMissingError,
  KubeletUnitInvalidError,
  lastFlagValue,
  referencedEnvironmentFiles,
  resolveKubeletCommandLine,
} from '../../agent/kubelet/index.ts';
import { DEFAULT_PATH, DROPIN_PATH, KUBEADM_FLAGS_PATH, kubeadmInput, literalInput } from '../fixtures/kubelet/kubeadm-1.10.ts';

const words = (input: Parameters<typeof resolveKubeletCommandLine>[0]) => resolveKubeletCommandLine(input).words.map((w) => w.text);

describe('kubelet effective command line', () => {
  it('resolves a kubeadm layout and says where each flag is defined', () => {
    const cmd = resolveKubeletCommandLine(kubeadmInput());
    expect(cmd.binary).toBe('/usr/bin/kubelet');
    expect(cmd.execStartPath).toBe(DROPIN_PATH);
    expect(effectiveFlags(cmd)).toEqual([
      { flag: '--bootstrap-kubeconfig', value: '/etc/kubernetes/bootstrap-kubelet.conf', definedIn: `${DROPIN_PATH}: Environment=KUBELET_KUBECONFIG_ARGS` },
      { flag: '--kubeconfig', value: '/etc/kubernetes/kubelet.conf', definedIn: `${DROPIN_PATH}: Environment=KUBELET_KUBECONFIG_ARGS` },
      { flag: '--pod-manifest-path', value: '/etc/kubernetes/manifests', definedIn: `${DROPIN_PATH}: Environment=KUBELET_SYSTEM_PODS_ARGS` },
      { flag: '--allow-privileged', value: 'true', definedIn: `${DROPIN_PATH}: Environment=KUBELET_SYSTEM_PODS_ARGS` },
      { flag: '--cadvisor-port', value: '0', definedIn: `${DROPIN_PATH}: Environment=KUBELET_CADVISOR_ARGS` },
      { flag: '--cgroup-driver', value: 'cgroupfs', definedIn: `${KUBEADM_FLAGS_PATH}: KUBELET_KUBEADM_ARGS` },
      { flag: '--network-plugin', value: 'cni', definedIn: `${KUBEADM_FLAGS_PATH}: KUBELET_KUBEADM_ARGS` },
      { flag: '--docker-disable-shared-pid', value: 'true', definedIn: `${KUBEADM_FLAGS_PATH}: KUBELET_KUBEADM_ARGS` },
      { flag: '--node-labels', value: 'team=blue,tier=web', definedIn: `${DEFAULT_PATH}: KUBELET_EXTRA_ARGS` },
      { flag: '--feature-gates', value: 'Accelerators=false,CustomPodDNS=true', definedIn: `${DEFAULT_PATH}: KUBELET_EXTRA_ARGS` },
      { flag: '--v', value: '2', definedIn: `${DEFAULT_PATH}: KUBELET_EXTRA_ARGS` },
    ]);
    expect(referencedEnvironmentFiles(kubeadmInput().units)).toEqual([
      { path: KUBEADM_FLAGS_PATH, optional: true },
      { path: DEFAULT_PATH, optional: true },
    ]);
  });

  it('lets EnvironmentFile= override Environment= whatever the order', () => {
    const input = kubeadmInput({ default: 'KUBELET_CADVISOR_ARGS=--cadvisor-port=4194\n' });
    const cmd = resolveKubeletCommandLine(input);
    expect(lastFlagValue(cmd, '--cadvisor-port')).toBe('4194');
    expect(effectiveFlags(cmd).find((f) => f.flag === '--cadvisor-port')?.definedIn).toBe(`${DEFAULT_PATH}: KUBELET_CADVISOR_ARGS`);
  });

  it('splits $VAR at whitespace, keeps ${VAR} one word, drops unset $VAR, and reads $$ as $', () => {
    const input = literalInput('/usr/bin/kubelet $A ${B} --x=${B}y $UNSET --price=$$5 "--q=a b"', 'Environment="A=--one  --two" "B=has space"\n');
    expect(words(input)).toEqual(['/usr/bin/kubelet', '--one', '--two', 'has space', '--x=has spacey', '--price=$5', '--q=a b']);
    const cmd = resolveKubeletCommandLine(input);
    expect(cmd.words.map((w) => w.source.kind)).toEqual(['literal', 'split', 'split', 'whole', 'mixed', 'literal', 'literal']);
    expect(cmd.warnings).toContain('ExecStart references unset variable $UNSET');
  });

  it('follows ExecStart= and Environment= resets across drop-ins and strips command prefixes', () => {
    const input = {
      units: [
        { path: '/u/kubelet.service', content: '[Service]\nEnvironment=A=--old\nExecStart=/old/kubelet $A\n' },
        { path: '/u/kubelet.service.d/a.conf', content: '[Service]\nEnvironment=\nEnvironment=A=--new\nExecStart=\nExecStart=-/usr/bin/kubelet $A\n' },
      ],
      envFiles: {},
    };
    expect(words(input)).toEqual(['/usr/bin/kubelet', '--new']);
  });

  it('joins continuation lines and skips comments inside them', () => {
    const input = literalInput('/usr/bin/kubelet \\\n  --a=1 \\\n# --b=2 \\\n  --c=3');
    expect(words(input)).toEqual(['/usr/bin/kubelet', '--a=1', '--c=3']);
  });

  it('ignores settings outside [Service] and unescapes C escapes and %%', () => {
    const input = {
      units: [{ path: '/k.service', content: '[Unit]\nExecStart=/nope\n[Service]\nExecStart=/usr/bin/kubelet "--a=x\\ty" --b=100%%\n' }],
      envFiles: {},
    };
    expect(words(input)).toEqual(['/usr/bin/kubelet', '--a=x\ty', '--b=100%']);
  });

  it('takes the next word as the value except for boolean flags, and normalizes underscores', () => {
    const input = literalInput('/usr/bin/kubelet --kubeconfig /etc/k.conf --containerized --node_ip 10.0.0.1 -v 3');
    const cmd = resolveKubeletCommandLine(input, { booleanFlags: new Set(['--containerized']) });
    expect(cmd.flags.map((f) => [f.name, f.value])).toEqual([
      ['--kubeconfig', '/etc/k.conf'],
      ['--containerized', undefined],
      ['--node-ip', '10.0.0.1'],
      ['--v', '3'],
    ]);
    expect(cmd.positional).toEqual([]);
  });

  it('requires non-optional environment files and reports a unit without ExecStart', () => {
    const input = { units: [{ path: '/k.service', content: '[Service]\nEnvironmentFile=/etc/default/kubelet\nExecStart=/usr/bin/kubelet $X\n' }], envFiles: {} };
    expect(() => resolveKubeletCommandLine(input)).toThrow(KubeletEnvFileMissingError);
    expect(() => resolveKubeletCommandLine({ units: [{ path: '/k.service', content: '[Service]\nRestart=always\n' }], envFiles: {} })).toThrow(KubeletUnitInvalidError);
    expect(() => resolveKubeletCommandLine(literalInput('/usr/bin/kubelet "--a=unterminated'))).toThrow(/unterminated quote/);
  });
});
