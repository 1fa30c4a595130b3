/**
 * HA apiservers more than one minor apart: kip plan, kip preflight --to and kip upgrade ask every
 * instance listed in the Endpoints default/kubernetes for its own /version and refuse (exit 2,
 * SKEW_POLICY, naming both addresses) before anything changes; /version through the kubeconfig
 * answered for one instance only, so the rule was never checked before (version-skew policy:
 * "the newest and oldest kube-apiserver instances must be within one minor version").
 */
import { describe, expect, it } from 'vitest';
import { main } from '../../coordinator/cli.ts';
import { apiserverUrlsOf } from '../../coordinator/cluster.ts';
import type { ClusterApi } from '../../coordinator/ports.ts';
import { fakeCluster, fakePorts, node, recordingIo } from './cli-fakes.ts';

/** A cluster whose kubeconfig server answers v1.13.12 and whose instances answer their own versions. */
function haCluster(versions: Record<string, string>): ClusterApi {
  const base = fakeCluster('v1.13.12', [node('w1', 'v1.12.10')]);
  return {
    ...base,
    apiserverEndpoints: async () => Object.keys(versions),
    apiserverStatus: async (url, path) => {
      if (url === undefined) return base.apiserverStatus(url, path);
      const v = versions[url];
      if (!v) throw Object.assign(new Error(`connect ECONNREFUSED ${url}`), { code: 'ECONNREFUSED' });
      return { ready: true, version: v };
    },
  };
}

describe('HA apiserver skew', () => {
  it.each([['plan', '--to', 'v1.14.10'], ['preflight', '--to', 'v1.14.10'], ['upgrade', '--to', 'v1.14.10', '--dry-run']])('kip %s refuses two instances two minors apart (exit 2), naming both', async (...args) => {
    const cluster = haCluster({ 'https://10.0.0.1:6443': 'v1.13.12', 'https://10.0.0.2:6443': 'v1.11.10' });
    const io = recordingIo();
    expect(await main(args, io, fakePorts(cluster))).toBe(2);
    expect(io.err).toMatch(/the HA kube-apiservers are more than one minor apart: https:\/\/10\.0\.0\.2:6443 runs v1\.11\.10, https:\/\/10\.0\.0\.1:6443 runs v1\.13\.12; the version-skew policy allows one/);
  });

  it('one minor apart (an HA upgrade half done) plans from the oldest; an instance that does not answer is skipped', async () => {
    const cluster = haCluster({ 'https://10.0.0.1:6443': 'v1.13.12', 'https://10.0.0.2:6443': 'v1.12.10', 'https://10.0.0.3:6443': '' });
    const io = recordingIo();
    expect(await main(['plan', '--to', 'v1.13.12', '-o', 'json'], io, fakePorts(cluster)), io.err).toBe(0);
    expect((JSON.parse(io.out) as { apiserver: string; controlPlanePath: string[] })).toMatchObject({ apiserver: 'v1.12.10', controlPlanePath: ['v1.13.12'] });
  });

  it('reads https://ip:port per address of the kubernetes endpoints (its https port)', () => {
    expect(apiserverUrlsOf({ subsets: [{ addresses: [{ ip: '10.0.0.2' }, { ip: '10.0.0.1' }], ports: [{ name: 'https', port: 6443 }] }, { addresses: [{ ip: 'fd00::1' }], ports: [{ port: 443 }] }] }))
      .toEqual(['https://10.0.0.1:6443', 'https://10.0.0.2:6443', 'https://[fd00::1]:443']);
    expect(apiserverUrlsOf({})).toEqual([]);
  });
});
