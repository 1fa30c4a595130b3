/**
 * lib/kube/raw.ts with its own kubeconfig reader (no client-node) against the lab apiserver:
 * a real etcd and real TLS with a client certificate on 127.0.0.1.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execaExec } from '../../lib/exec.ts';
import { silentLogger } from '../../lib/logger.ts';
import { kubeRestFromKubeconfig, RawKubeApiError } from '../../lib/kube/raw.ts';
import { startLabControlPlane, type LabControlPlane } from '../../scripts/lab/apiserver/harness.ts';

let dir = '';
let plane: LabControlPlane | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kip-raw-'));
  plane = await startLabControlPlane({ exec: execaExec, logger: silentLogger(), dir, gitVersion: 'v1.10.13' });
}, 90_000);

afterAll(async () => {
  try {
    await plane?.stop();
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
});

describe('raw Kubernetes REST from a kubeconfig', () => {
  it('creates and reads a pod over mutual TLS, and maps HTTP errors', async () => {
    if (!plane) throw new Error('no plane');
    const rest = await kubeRestFromKubeconfig(plane.kubeconfig);
    await rest.send('POST', '/api/v1/namespaces/default/pods', { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'raw-1' }, spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'busybox' }] } });
    const got = await rest.get('/api/v1/pods?fieldSelector=spec.nodeName%3Dn1');
    expect((got.value as { items: { metadata: { name: string } }[] }).items.map((p) => p.metadata.name)).toEqual(['raw-1']);
    expect(got.node).toBeDefined();
    await expect(rest.get('/api/v1/namespaces/default/pods/nope')).rejects.toBeInstanceOf(RawKubeApiError);
  }, 30_000);
});
