import { describe, expect, it } from 'vitest';
import {
  ComponentFlagsRefusedError,
  FLAG_CHANGES,
  SERVED_API_ESCAPES,
  flagChangesBetween,
  planComponentFlagMigration,
} from '../../lib/knowledge/flags/index.ts';

describe('control-plane flag table', () => {
  it('cites a changelog of the minor each entry is about, with a PR or a note saying why not', () => {
    for (const e of [...FLAG_CHANGES, ...SERVED_API_ESCAPES]) {
      expect(e.citation.changelog).toBe(`CHANGELOG/CHANGELOG-${e.since}.md`);
      expect(e.citation.section).toMatch(/^v\d+\.\d+\.\d+/);
      if (e.citation.pr === undefined) expect(e.citation.note).toBeTruthy();
    }
  });

  it('selects the entries of one step only', () => {
    expect(flagChangesBetween('kube-apiserver', '1.12', '1.13').map((e) => e.flag).sort()).toEqual(
      ['--deserialization-cache-size', '--etcd-quorum-read', '--experimental-encryption-provider-config', '--service-account-api-audiences', '--storage-backend'].sort(),
    );
    expect(flagChangesBetween('kube-proxy', 'v1.15.12', 'v1.16.15').map((e) => e.flag)).toEqual(['--resource-container']);
    expect(flagChangesBetween('kube-scheduler', '1.10', '1.17')).toEqual([]);
  });
});

describe('planComponentFlagMigration', () => {
  it('drops --etcd-quorum-read=true going to 1.13 and keeps every other word in order', () => {
    const p = planComponentFlagMigration({ component: 'kube-apiserver', from: 'v1.12.10', to: 'v1.13.12', args: ['--etcd-servers=http://x', '--etcd-quorum-read', '--v=2'] });
    expect(p.args).toEqual(['--etcd-servers=http://x', '--v=2']);
    expect(p.changes).toHaveLength(1);
    expect(p.changes[0]?.citation).toContain('#69527');
  });

  it('refuses --etcd-quorum-read=false without the override, drops it with', () => {
    const input = { component: 'kube-apiserver', from: '1.12', to: '1.13', args: ['--etcd-quorum-read=false'] };
    expect(() => planComponentFlagMigration(input)).toThrow(ComponentFlagsRefusedError);
    const p = planComponentFlagMigration({ ...input, overrides: ['--etcd-quorum-read'] });
    expect(p.args).toEqual([]);
    expect(p.changes[0]?.override).toBe('--etcd-quorum-read');
  });

  it('refuses the etcd2 backend but not etcd3', () => {
    expect(() => planComponentFlagMigration({ component: 'kube-apiserver', from: '1.12', to: '1.13', args: ['--storage-backend=etcd2'] })).toThrow(/etcd v2 data/);
    const p = planComponentFlagMigration({ component: 'kube-apiserver', from: '1.12', to: '1.13', args: ['--storage-backend=etcd3'] });
    expect(p.changed).toBe(false);
  });

  it('lists every refused flag in one error with its override', () => {
    try {
      planComponentFlagMigration({ component: 'kube-apiserver', from: '1.13', to: '1.14', args: ['--storage-versions=v1', '--repair-malformed-updates=false'] });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ComponentFlagsRefusedError);
      expect((err as ComponentFlagsRefusedError).refusals.map((r) => r.override)).toEqual(['--storage-versions', '--repair-malformed-updates']);
      expect((err as ComponentFlagsRefusedError).code).toBe('COMPONENT_FLAGS_REFUSED');
    }
  });

  it('kube-proxy 1.16: drops --resource-container="" (both spellings), refuses a real cgroup', () => {
    expect(planComponentFlagMigration({ component: 'kube-proxy', from: '1.15', to: '1.16', args: ['--resource-container=', '--v=1'] }).args).toEqual(['--v=1']);
    expect(planComponentFlagMigration({ component: 'kube-proxy', from: '1.15', to: '1.16', args: ['--resource-container', '', '--v=1'] }).args).toEqual(['--v=1']);
    expect(() => planComponentFlagMigration({ component: 'kube-proxy', from: '1.15', to: '1.16', args: ['--resource-container=/kube-proxy'] })).toThrow(/override: --resource-container/);
  });

  it('a deprecated flag is a warning, never a change', () => {
    const p = planComponentFlagMigration({ component: 'kube-apiserver', from: '1.9', to: '1.10', args: ['--admission-control=NamespaceLifecycle,ServiceAccount'] });
    expect(p.changed).toBe(false);
    expect(p.warnings.join('\n')).toContain('#58123');
  });

  it('1.16: warns about API versions no longer served, or keeps them served through --runtime-config', () => {
    const base = { component: 'kube-apiserver', from: 'v1.15.12', to: 'v1.16.15' };
    const warned = planComponentFlagMigration({ ...base, args: ['--v=2'] });
    expect(warned.changed).toBe(false);
    expect(warned.warnings.join('\n')).toContain('#70672');
    const kept = planComponentFlagMigration({ ...base, args: ['--runtime-config=apps/v1beta1=false,batch/v2alpha1=true', '--v=2'], keepServedApis: true });
    const rc = kept.args[0] ?? '';
    expect(rc.startsWith('--runtime-config=apps/v1beta1=false,batch/v2alpha1=true,apps/v1beta2=true,extensions/v1beta1/daemonsets=true')).toBe(true);
    expect(kept.args[1]).toBe('--v=2');
    const added = planComponentFlagMigration({ ...base, args: ['--v=2'], keepServedApis: true });
    expect(added.args).toEqual(['--v=2', `--runtime-config=${SERVED_API_ESCAPES[0]?.entries.join(',')}`]);
  });

  it('refuses a skipped minor, a downgrade, a bad version and an unknown component', () => {
    expect(() => planComponentFlagMigration({ component: 'kube-scheduler', from: '1.10', to: '1.12', args: [] })).toThrow(/one minor version at a time/);
    expect(() => planComponentFlagMigration({ component: 'kube-scheduler', from: '1.12', to: '1.11', args: [] })).toThrow(/downgrade/);
    expect(() => planComponentFlagMigration({ component: 'kube-scheduler', from: 'latest', to: '1.11', args: [] })).toThrow(/not a Kubernetes version/);
    expect(() => planComponentFlagMigration({ component: 'kube-dns', from: '1.10', to: '1.11', args: [] })).toThrow(/unknown component/);
  });

  it('drops a no-op controller-manager flag given with a separate value', () => {
    const p = planComponentFlagMigration({ component: 'kube-controller-manager', from: '1.12', to: '1.13', args: ['--insecure-experimental-approve-all-kubelet-csrs-for-group', 'system:bootstrappers', '--leader-elect'] });
    expect(p.args).toEqual(['--leader-elect']);
  });
});
