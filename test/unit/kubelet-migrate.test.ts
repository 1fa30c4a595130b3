import { describe, expect, it } from 'vitest';
import {
  KubeletFlagMigrationRefusedError,
  KubeletFlagSourceError,
  planFlagMigration,
  REMOVED_FEATURE_GATES,
  REMOVED_FLAGS,
  resolveKubeletCommandLine,
  type FlagMigrationInput,
  type RemovedFlag,
} from '../../agent/kubelet/index.ts';
import { VersionSkewError } from '../../lib/knowledge/version.ts';
import { DEFAULT, DEFAULT_PATH, DROPIN, DROPIN_PATH, KUBEADM_FLAGS, KUBEADM_FLAGS_PATH, kubeadmInput, literalInput } from '../fixtures/kubelet/kubeadm-1.10.ts';

const prev = (minor: string): string => `v1.${Number(minor.split('.')[1]) - 1}.9`;
const prevMinor = (minor: string): string => `1.${Number(minor.split('.')[1]) - 1}`;
const at = (minor: string): string => `v${minor}.2`;

function refusalsOf(fn: () => unknown): { subject: string; override: string; citation: string | undefined }[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(KubeletFlagMigrationRefusedError);
    const e = err as KubeletFlagMigrationRefusedError;
    expect(e.code).toBe('KUBELET_FLAGS_REFUSED');
    return e.refusals.map((r) => ({ subject: r.subject, override: r.override, citation: r.citation }));
  }
  throw new Error('expected a refusal');
}

function flagsAfter(input: FlagMigrationInput, plan: ReturnType<typeof planFlagMigration>): string[] {
  const units = input.units.map((u) => ({ path: u.path, content: plan.files.find((f) => f.path === u.path)?.after ?? u.content }));
  const envFiles: Record<string, string> = { ...input.envFiles };
  for (const f of plan.files) if (f.path in envFiles) envFiles[f.path] = f.after;
  return resolveKubeletCommandLine({ units, envFiles }).flags.map((f) => (f.value === undefined ? f.name : `${f.name}=${f.value}`));
}

/** Lines that differ between two texts (same number of lines expected). */
function changedLines(before: string, after: string): [string, string][] {
  const a = before.split('\n');
  const b = after.split('\n');
  expect(b.length).toBe(a.length);
  return a.flatMap((line, i) => (line === b[i] ? [] : [[line, b[i] as string] as [string, string]]));
}

describe('planFlagMigration on a kubeadm node', () => {
  it('1.10 -> 1.11 drops Accelerators=false from the feature gates, touching only that line of /etc/default/kubelet', () => {
    const input = { ...kubeadmInput(), from: 'v1.10.13', to: 'v1.11.10' };
    const plan = planFlagMigration(input);
    expect(plan.step).toBe('minor');
    expect(plan.files.map((f) => f.path)).toEqual([DEFAULT_PATH]);
    const file = plan.files[0];
    expect(file?.before).toBe(DEFAULT);
    expect(changedLines(DEFAULT, file?.after ?? '')).toEqual([
      [
        'KUBELET_EXTRA_ARGS="--node-labels=team=blue,tier=web --feature-gates=Accelerators=false,CustomPodDNS=true --v=2"',
        'KUBELET_EXTRA_ARGS="--node-labels=team=blue,tier=web --feature-gates=CustomPodDNS=true --v=2"',
      ],
    ]);
    expect(plan.changes).toEqual([
      expect.objectContaining({ subject: '--feature-gates=Accelerators', action: 'edit-value', before: 'Accelerators=false', definedIn: `${DEFAULT_PATH}: KUBELET_EXTRA_ARGS` }),
    ]);
    expect(plan.changes[0]?.citation).toMatch(/#62187/);
    expect(plan.unknownFlagCheck).toBe('skipped');
  });

  it('1.11 -> 1.12 drops --cadvisor-port=0 from the drop-in and --docker-disable-shared-pid=true from kubeadm-flags.env', () => {
    const input = { ...kubeadmInput({ default: '# nothing here\n' }), from: 'v1.11.10', to: 'v1.12.10' };
    const plan = planFlagMigration(input);
    expect(plan.files.map((f) => f.path)).toEqual([DROPIN_PATH, KUBEADM_FLAGS_PATH]);
    const dropin = plan.files.find((f) => f.path === DROPIN_PATH);
    expect(changedLines(DROPIN, dropin?.after ?? '')).toEqual([['Environment="KUBELET_CADVISOR_ARGS=--cadvisor-port=0"', 'Environment=KUBELET_CADVISOR_ARGS=']]);
    const flagsEnv = plan.files.find((f) => f.path === KUBEADM_FLAGS_PATH);
    expect(flagsEnv?.after).toBe('KUBELET_KUBEADM_ARGS=--cgroup-driver=cgroupfs --network-plugin=cni\n');
    expect(plan.changes.map((c) => [c.subject, c.action, c.citation?.match(/#\d+/)?.[0]])).toEqual([
      ['--cadvisor-port', 'drop', '#65707'],
      ['--docker-disable-shared-pid', 'drop', '#66506'],
    ]);
    expect(flagsAfter(input, plan)).not.toContain('--cadvisor-port=0');
    expect(plan.effectiveAfter.map((f) => f.flag)).not.toContain('--docker-disable-shared-pid');
  });

  it('changes nothing for a patch step', () => {
    const plan = planFlagMigration({ ...kubeadmInput(), from: 'v1.12.1', to: 'v1.12.10' });
    expect(plan.step).toBe('patch');
    expect(plan.files).toEqual([]);
    expect(plan.changes).toEqual([]);
  });

  it('refuses to skip a minor version', () => {
    expect(() => planFlagMigration({ ...kubeadmInput(), from: 'v1.10.13', to: 'v1.12.0' })).toThrow(VersionSkewError);
  });

  it('lists every offending flag in one refusal, each with its override and citation', () => {
    const input = {
      ...kubeadmInput({
        kubeadmFlags: 'KUBELET_KUBEADM_ARGS=--allow-privileged=false --host-network-sources=api --host-pid-sources=file,api --host-ipc-sources=*\n',
        dropin: DROPIN.replace('--allow-privileged=true', ''),
      }),
      from: 'v1.14.10',
      to: 'v1.15.12',
    };
    expect(refusalsOf(() => planFlagMigration(input))).toEqual([
      { subject: '--allow-privileged', override: '--allow-privileged', citation: expect.stringMatching(/CHANGELOG-1\.15\.md.*#77820/) },
      { subject: '--host-network-sources', override: '--host-network-sources', citation: expect.stringMatching(/#77820/) },
      { subject: '--host-pid-sources', override: '--host-pid-sources', citation: expect.stringMatching(/#77820/) },
    ]);
    const plan = planFlagMigration({ ...input, overrides: ['--allow-privileged', '--host-network-sources', '--host-pid-sources', '--typo'] });
    expect(plan.files.find((f) => f.path === KUBEADM_FLAGS_PATH)?.after).toBe('KUBELET_KUBEADM_ARGS=\n');
    expect(plan.changes.filter((c) => c.override !== undefined).map((c) => c.subject)).toEqual(['--allow-privileged', '--host-network-sources', '--host-pid-sources']);
    expect(plan.unusedOverrides).toEqual(['--typo']);
  });
});

/** Sample values for a table entry: one its migration accepts, one it refuses (if any). */
function samples(e: RemovedFlag): { safe: string | undefined; unsafe: string | undefined } {
  const m = e.migration;
  if (e.removedValues !== undefined) return { safe: undefined, unsafe: e.removedValues[0] };
  switch (m.kind) {
    case 'drop':
      return { safe: e.boolean ? 'true' : 'x', unsafe: undefined };
    case 'rename':
      return { safe: 'false', unsafe: undefined };
    case 'drop-if':
      return { safe: m.safeValues[0], unsafe: e.boolean ? String(m.safeValues[0] !== 'true') : '4194' };
    case 'drop-if-flag':
      return { safe: 'true', unsafe: 'true' };
    case 'refuse':
      return { safe: undefined, unsafe: 'some-value' };
  }
}

describe('every removed-flag table entry', () => {
  it.each(REMOVED_FLAGS.map((e) => [`${e.flag} (${e.removedIn})`, e] as const))('%s migrates or refuses as declared', (_name, e) => {
    expect(e.citation.changelog).toBe(`CHANGELOG/CHANGELOG-${e.removedIn}.md`);
    expect(e.citation.pr).toBeGreaterThan(50_000);
    const { safe, unsafe } = samples(e);
    const extra = e.migration.kind === 'drop-if-flag' ? ` ${e.migration.requires}=/etc/kubernetes/kubelet.conf` : '';
    const base = (value: string) => ({
      ...literalInput(`/usr/bin/kubelet --v=2 ${e.flag}=${value}${extra} --node-ip=10.0.0.1`),
      from: prev(e.removedIn),
      to: at(e.removedIn),
    });
    if (safe !== undefined) {
      const input = base(safe);
      const plan = planFlagMigration(input);
      const expected = ['--v=2', ...(e.migration.kind === 'rename' ? [`${e.migration.to}=${safe}`] : []), ...(extra ? [extra.trim()] : []), '--node-ip=10.0.0.1'];
      expect(flagsAfter(input, plan)).toEqual(expected);
      expect(plan.changes[0]).toMatchObject({ subject: e.flag, action: e.migration.kind === 'rename' ? 'rename' : 'drop' });
    }
    if (unsafe !== undefined) {
      const input = e.migration.kind === 'drop-if-flag' ? { ...literalInput(`/usr/bin/kubelet --v=2 ${e.flag}=${unsafe}`), from: prev(e.removedIn), to: at(e.removedIn) } : base(unsafe);
      expect(refusalsOf(() => planFlagMigration(input))).toEqual([{ subject: e.flag, override: e.flag, citation: expect.stringContaining(`#${e.citation.pr}`) }]);
      const plan = planFlagMigration({ ...input, overrides: [e.flag] });
      expect(flagsAfter(input, plan)).not.toContain(`${e.flag}=${unsafe}`);
      expect(plan.changes[0]).toMatchObject({ subject: e.flag, action: 'drop', override: e.flag });
      // the previous minor version still accepts the flag: nothing to do there
      expect(planFlagMigration({ ...input, from: prev(prevMinor(e.removedIn)), to: prev(e.removedIn) }).changes).toEqual([]);
    }
  });

  it('leaves other values of a flag whose removal is value-specific', () => {
    const input = { ...literalInput('/usr/bin/kubelet --container-runtime=remote'), from: 'v1.10.13', to: 'v1.11.1' };
    expect(planFlagMigration(input).files).toEqual([]);
  });

  it('understands Go booleans and bare boolean flags', () => {
    const bare = { ...literalInput('/usr/bin/kubelet --containerized --v=1'), from: 'v1.15.3', to: 'v1.16.2' };
    expect(refusalsOf(() => planFlagMigration(bare)).map((r) => r.subject)).toEqual(['--containerized']);
    const f = { ...literalInput('/usr/bin/kubelet --containerized=F --v=1'), from: 'v1.15.3', to: 'v1.16.2' };
    expect(flagsAfter(f, planFlagMigration(f))).toEqual(['--v=1']);
  });
});

describe('every removed feature gate', () => {
  it.each(REMOVED_FEATURE_GATES.map((g) => [`${g.gate} (${g.removedIn})`, g] as const))('%s', (_name, g) => {
    const input = (value: boolean) => ({
      ...literalInput(`/usr/bin/kubelet --feature-gates=SomeOther=true,${g.gate}=${value} --v=2`),
      from: prev(g.removedIn),
      to: at(g.removedIn),
    });
    const safe = input(g.safeValue);
    const plan = planFlagMigration(safe);
    expect(flagsAfter(safe, plan)).toEqual(['--feature-gates=SomeOther=true', '--v=2']);
    expect(plan.changes).toEqual([expect.objectContaining({ subject: `--feature-gates=${g.gate}`, citation: expect.stringContaining(`#${g.citation.pr}`) })]);

    const unsafe = input(!g.safeValue);
    expect(refusalsOf(() => planFlagMigration(unsafe))).toEqual([
      { subject: `--feature-gates=${g.gate}`, override: `feature-gate:${g.gate}`, citation: expect.stringContaining(`#${g.citation.pr}`) },
    ]);
    expect(flagsAfter(unsafe, planFlagMigration({ ...unsafe, overrides: [`feature-gate:${g.gate}`] }))).toEqual(['--feature-gates=SomeOther=true', '--v=2']);
  });

  it('drops --feature-gates entirely when the removed gate was the only one', () => {
    const input = { ...literalInput('/usr/bin/kubelet --feature-gates=HugePages=true --v=2'), from: 'v1.15.1', to: 'v1.16.0' };
    expect(flagsAfter(input, planFlagMigration(input))).toEqual(['--v=2']);
  });
});

describe('--node-labels restriction (1.16, #79305)', () => {
  const labels = 'node-role.kubernetes.io/master=,kubernetes.io/hostname=n1,node.kubernetes.io/pool=a,x.kubelet.kubernetes.io/y=1,foo.k8s.io/x=1,team=a';
  const input = { ...kubeadmInput({ default: `KUBELET_EXTRA_ARGS='--node-labels=${labels}'\n` }), from: 'v1.15.12', to: 'v1.16.15' };

  it('refuses kubernetes.io/k8s.io labels outside the allowed set', () => {
    expect(refusalsOf(() => planFlagMigration(input))).toEqual([
      { subject: '--node-labels=node-role.kubernetes.io/master', override: 'node-label:node-role.kubernetes.io/master', citation: expect.stringContaining('#79305') },
      { subject: '--node-labels=foo.k8s.io/x', override: 'node-label:foo.k8s.io/x', citation: expect.stringContaining('#79305') },
    ]);
  });

  it('drops them with overrides, keeping the quote style of the file', () => {
    const plan = planFlagMigration({ ...input, overrides: ['node-label:node-role.kubernetes.io/master', 'node-label:foo.k8s.io/x'] });
    expect(plan.files.find((f) => f.path === DEFAULT_PATH)?.after).toBe(
      "KUBELET_EXTRA_ARGS='--node-labels=kubernetes.io/hostname=n1,node.kubernetes.io/pool=a,x.kubelet.kubernetes.io/y=1,team=a'\n",
    );
  });

  it('does not apply before 1.16', () => {
    const plan = planFlagMigration({ ...input, from: 'v1.14.1', to: 'v1.15.0' });
    expect(plan.changes.filter((c) => c.subject.startsWith('--node-labels'))).toEqual([]);
    expect(plan.effectiveAfter.find((f) => f.flag === '--node-labels')?.value).toBe(labels);
  });
});

describe('unknown flags', () => {
  const input = { ...literalInput('/usr/bin/kubelet --v=2 --my-vendor-flag=1 --node_ip=10.0.0.1'), from: 'v1.16.1', to: 'v1.17.3' };

  it('are refused when the target binary does not list them', () => {
    const targetFlags = new Set(['--v', '--node-ip']);
    expect(refusalsOf(() => planFlagMigration({ ...input, targetFlags }))).toEqual([
      { subject: '--my-vendor-flag', override: 'unknown:--my-vendor-flag', citation: undefined },
    ]);
    const plan = planFlagMigration({ ...input, targetFlags, overrides: ['unknown:--my-vendor-flag'] });
    expect(plan.unknownFlagCheck).toBe('target-binary');
    expect(flagsAfter(input, plan)).toEqual(['--v=2', '--node-ip=10.0.0.1']);
  });

  it('are reported as unchecked without the target flag list', () => {
    const plan = planFlagMigration(input);
    expect(plan.unknownFlagCheck).toBe('skipped');
    expect(plan.files).toEqual([]);
  });
});

describe('rewriting flags written in ExecStart=', () => {
  const run = (execStart: string, from = 'v1.11.1', to = 'v1.12.0') => {
    const input = { ...literalInput(execStart), from, to };
    const plan = planFlagMigration(input);
    return { after: plan.files[0]?.after ?? '', before: input.units[0]?.content ?? '', input, plan };
  };

  it('removes a word in the middle of a line', () => {
    const { after, before } = run('/usr/bin/kubelet --v=2 --cadvisor-port=0 --node-ip=1.2.3.4');
    expect(after).toBe(before.replace('--cadvisor-port=0 ', ''));
  });

  it('removes the last word of a line', () => {
    const { after, before } = run('/usr/bin/kubelet --v=2 --cadvisor-port=0');
    expect(after).toBe(before.replace(' --cadvisor-port=0', ''));
  });

  it('removes a continuation line holding only the flag', () => {
    const { after, before, input, plan } = run('/usr/bin/kubelet \\\n    --v=2 \\\n    --cadvisor-port=0 \\\n    --node-ip=1.2.3.4');
    expect(after).toBe(before.replace('    --cadvisor-port=0 \\\n', ''));
    expect(flagsAfter(input, plan)).toEqual(['--v=2', '--node-ip=1.2.3.4']);
  });

  it('removes the flag on the last continuation line and keeps the unit valid', () => {
    const { input, plan, after } = run('/usr/bin/kubelet \\\n    --v=2 \\\n    --cadvisor-port=0');
    expect(after).toContain('--v=2 \\\n\nRestart=always');
    expect(flagsAfter(input, plan)).toEqual(['--v=2']);
  });

  it('removes a flag whose value is a separate word', () => {
    const { input, plan } = run('/usr/bin/kubelet --cadvisor-port 0 --v=2');
    expect(flagsAfter(input, plan)).toEqual(['--v=2']);
  });

  it('renames in place, quoting when needed', () => {
    const { after } = run('/usr/bin/kubelet "--experimental-fail-swap-on=false" --v=2', 'v1.13.4', 'v1.14.0');
    expect(after).toContain('ExecStart=/usr/bin/kubelet --fail-swap-on=false --v=2\n');
  });

  it('refuses to remove a flag that is a whole ${VAR} word or mixed with literal text', () => {
    const whole = { ...literalInput('/usr/bin/kubelet ${CADVISOR} --v=2', 'Environment=CADVISOR=--cadvisor-port=0\n'), from: 'v1.11.1', to: 'v1.12.0' };
    expect(() => planFlagMigration(whole)).toThrow(KubeletFlagSourceError);
    const mixed = { ...literalInput('/usr/bin/kubelet --cadvisor-port=${PORT}', 'Environment=PORT=0\n'), from: 'v1.11.1', to: 'v1.12.0' };
    expect(() => planFlagMigration(mixed)).toThrow(/mixes literal text/);
  });

  it('edits a ${VAR} whole word when only its value changes', () => {
    const input = { ...literalInput('/usr/bin/kubelet ${GATES}', 'Environment="GATES=--feature-gates=VolumeScheduling=true,Foo=true"\n'), from: 'v1.15.1', to: 'v1.16.0' };
    const plan = planFlagMigration(input);
    expect(plan.files[0]?.after).toContain('Environment=GATES=--feature-gates=Foo=true\n');
    expect(flagsAfter(input, plan)).toEqual(['--feature-gates=Foo=true']);
  });

  it('leaves kubeadm-flags.env untouched when nothing in it is affected', () => {
    const plan = planFlagMigration({ ...kubeadmInput({ kubeadmFlags: KUBEADM_FLAGS.replace(' --docker-disable-shared-pid=true', '') }), from: 'v1.11.3', to: 'v1.12.0' });
    expect(plan.files.map((f) => f.path)).toEqual([DROPIN_PATH]);
  });

  it('refuses to rewrite a unit-file word holding a systemd specifier', () => {
    const input = { ...literalInput('/usr/bin/kubelet $ARGS', 'Environment="ARGS=--hostname-override=%H --cadvisor-port=0"\n'), from: 'v1.11.1', to: 'v1.12.0' };
    expect(() => planFlagMigration(input)).toThrow(/specifier/);
  });
});

describe('rewriting variables', () => {
  it('edits one assignment among several on an Environment= line', () => {
    const input = { ...literalInput('/usr/bin/kubelet $A $B', 'Environment="A=--v=2 --cadvisor-port=0" B=--node-ip=1.2.3.4 # trailing\n'), from: 'v1.11.1', to: 'v1.12.0' };
    const plan = planFlagMigration(input);
    expect(plan.files[0]?.after).toContain('Environment=A=--v=2 B=--node-ip=1.2.3.4 # trailing\n');
    expect(flagsAfter(input, plan)).toEqual(['--v=2', '--node-ip=1.2.3.4']);
  });

  it('rewrites a continued env-file assignment and only the last of duplicate assignments', () => {
    const env = '# keep me\nKUBELET_EXTRA_ARGS=--cadvisor-port=1 \\\n  --v=1\n; keep me too\nKUBELET_EXTRA_ARGS=--v=2 \\\n  --cadvisor-port=0 \\\n  --node-ip=1.2.3.4\nOTHER=x\n';
    const input = { ...kubeadmInput({ default: env }), from: 'v1.11.1', to: 'v1.12.0' };
    const plan = planFlagMigration(input);
    expect(plan.files.find((f) => f.path === DEFAULT_PATH)?.after).toBe(
      '# keep me\nKUBELET_EXTRA_ARGS=--cadvisor-port=1 \\\n  --v=1\n; keep me too\nKUBELET_EXTRA_ARGS=--v=2   --node-ip=1.2.3.4\nOTHER=x\n',
    );
    expect(flagsAfter(input, plan)).toContain('--node-ip=1.2.3.4');
  });
});

