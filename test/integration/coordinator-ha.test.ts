/**
 * Per-node apiserver probing in an HA control plane, against two real lab apiserver processes on
 * one real etcd, each on its own loopback address and the same port (as two control-plane hosts
 * would be), with the kubeconfig pointing at a loopback TCP balancer in front of them.
 *
 * Step 3 of the procedure upgrades kube-apiserver one node at a time; a node is done when ITS
 * apiserver answers /readyz (/healthz before 1.16) and /version says the new version. With node A
 * new, node B still old and the balancer answering from A, the coordinator must not count B as
 * done: it probes B at B's own address (the agent's health URL with its loopback host replaced by
 * the agent's address). And the version-skew policy's HA rule ("the newest and oldest
 * kube-apiserver instances must be within one minor version", kubernetes.io/releases/
 * version-skew-policy) is checked per instance, not through the balancer.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../lib/clock.ts';
import { execaExec } from '../../lib/exec.ts';
import { isKipError } from '../../lib/errors.ts';
import { silentLogger } from '../../lib/logger.ts';
import { kubeCluster } from '../../coordinator/cluster.ts';
import { apiserverUrlOf } from '../../coordinator/commands/control-plane-fleet.ts';
import type { NodeInfo } from '../../coordinator/fleet/port.ts';
import { apiserverInstances, apiserverVersionsForPlan, checkHaApiservers } from '../../coordinator/plan/ha-apiservers.ts';
import { planVersions } from '../../coordinator/plan/path.ts';
import type { ClusterApi } from '../../coordinator/ports.ts';
import { waitApiserver, type ControlPlaneDeps } from '../../coordinator/rollout/control-plane.ts';
import type { ControlPlaneStepSpec, RunSpec } from '../../coordinator/rollout/spec.ts';
import { startApiServer, type ApiServerHandle } from '../../scripts/lab/apiserver/server.ts';
import { startEtcd, type EtcdHandle } from '../../scripts/lab/etcd.ts';
import { writeKubeconfig } from '../../scripts/lab/kubeconfig.ts';
import { generateLabPki, type LabPki } from '../../scripts/lab/pki.ts';

// The coord engineer's loopback range (127.0.31.0/24): no other test binds it.
const HOST_A = '127.0.31.1';
const HOST_B = '127.0.31.2';
const HOST_LB = '127.0.31.3';

let dir = '';
let pki: LabPki;
let etcd: EtcdHandle;
let tls: { cert: string; key: string; clientCa: string };
let apiA: ApiServerHandle;
let apiB: ApiServerHandle;
let port = 0;
let lb: Server;
const lbSockets = new Set<Socket>();
/** Where the balancer sends new connections (the kubeconfig server's backends). */
let backends: string[] = [];
let cluster: ClusterApi;

const start = (gitVersion: string, host: string, p?: number): Promise<ApiServerHandle> =>
  startApiServer({ gitVersion, etcd: etcd.client, tls, host, ...(p ? { port: p } : {}), logger: silentLogger() });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kip-coord-ha-'));
  pki = await generateLabPki({ exec: execaExec, dir: join(dir, 'pki'), serverNames: ['localhost', '127.0.0.1', HOST_A, HOST_B, HOST_LB], clients: [{ name: 'admin', commonName: 'kip-admin', organizations: ['system:masters'] }] });
  etcd = await startEtcd({ exec: execaExec, dir, logger: silentLogger() });
  tls = { cert: await readFile(pki.server.cert, 'utf8'), key: await readFile(pki.server.key, 'utf8'), clientCa: await readFile(pki.ca.cert, 'utf8') };
  // Node A already upgraded, node B still old; both on the same port, as two hosts would be.
  apiA = await start('v1.13.12', HOST_A);
  port = apiA.port;
  apiB = await start('v1.12.10', HOST_B, port);
  backends = [HOST_A];
  let next = 0;
  lb = createServer((client) => {
    lbSockets.add(client);
    const host = backends[next++ % backends.length]!;
    const upstream = connect(port, host);
    lbSockets.add(upstream);
    client.pipe(upstream).pipe(client);
    const close = (): void => { client.destroy(); upstream.destroy(); lbSockets.delete(client); lbSockets.delete(upstream); };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((resolve) => lb.listen(0, HOST_LB, resolve));
  const lbPort = (lb.address() as { port: number }).port;
  const kubeconfig = join(dir, 'admin.kubeconfig');
  await writeKubeconfig(kubeconfig, { server: `https://${HOST_LB}:${lbPort}`, caFile: pki.ca.cert, clientCertFile: pki.clients.admin!.cert, clientKeyFile: pki.clients.admin!.key, name: 'kip-ha' });
  cluster = await kubeCluster({ kubeconfig, context: undefined });
}, 120_000);

afterAll(async () => {
  for (const s of lbSockets) s.destroy();
  await new Promise<void>((resolve) => (lb ? lb.close(() => resolve()) : resolve()));
  await apiA?.stop();
  await apiB?.stop();
  await etcd?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** What each node's agent reports (GetNode): the apiserver's health URL on the node's own loopback. */
const infoWith = (p: number): NodeInfo => ({ components: [{ name: 'kube-apiserver', healthUrl: `https://127.0.0.1:${p}/healthz` }] }) as unknown as NodeInfo;

function step(): ControlPlaneStepSpec {
  const nodes = [['cp-a', HOST_A], ['cp-b', HOST_B]].map(([name, host]) => ({
    name: name!, components: ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'],
    apiserverUrl: apiserverUrlOf(infoWith(port), { node: name!, address: `${host}:7443`, source: 'inventory' }),
  }));
  return { index: 0, from: 'v1.12.10', to: 'v1.13.12', nodes, etcdNode: 'cp-a', kubeletSteps: [], touchTolerations: false };
}

const deps = (): ControlPlaneDeps => ({ cluster, clock: systemClock, pollMs: 100 }) as unknown as ControlPlaneDeps;
const spec = (readyTimeoutMs: number): RunSpec => ({ readyTimeoutMs }) as unknown as RunSpec;

describe('HA control plane: each node\'s own apiserver', () => {
  it('the agent\'s loopback health URL becomes the node\'s own address', () => {
    expect(step().nodes.map((n) => n.apiserverUrl)).toEqual([`https://${HOST_A}:${port}`, `https://${HOST_B}:${port}`]);
  });

  it('node B is not done while its own apiserver is old, though the kubeconfig server answers the new version', async () => {
    // Through the balancer (the kubeconfig's server): the new version, ready.
    expect(await cluster.apiserverStatus(undefined, '/healthz')).toEqual({ ready: true, version: 'v1.13.12' });
    await waitApiserver(step(), 'cp-a', spec(20_000), deps());
    let paused: unknown;
    try {
      await waitApiserver(step(), 'cp-b', spec(2_000), deps());
    } catch (err) {
      paused = err;
    }
    expect(paused instanceof Error && paused.message).toBe('kube-apiserver on cp-b is not ready at v1.13.12 within 2 s (/healthz ok, /version v1.12.10)');
  }, 60_000);

  it('node B is done once its own apiserver answers the new version (it was away in between)', async () => {
    await apiB.stop();
    const waiting = waitApiserver(step(), 'cp-b', spec(60_000), deps());
    // While B is away the wait goes on (connection refused is retried); then B comes back new.
    const refused = await cluster.apiserverStatus(`https://${HOST_B}:${port}`, '/healthz').then(() => 'answered', (e: unknown) => (e instanceof Error ? e.message : String(e)));
    expect(refused).toMatch(/ECONNREFUSED/);
    apiB = await start('v1.13.12', HOST_B, port);
    await waiting;
    expect((await cluster.apiserverStatus(`https://${HOST_B}:${port}`, '/healthz')).version).toBe('v1.13.12');
  }, 90_000);

  it('the HA skew rule is checked per instance: one minor apart is allowed, two are refused naming both addresses', async () => {
    const urls = [`https://${HOST_A}:${port}`, `https://${HOST_B}:${port}`];
    const withEndpoints: ClusterApi = { ...cluster, apiserverEndpoints: async () => urls };
    // B back to old (one minor apart): allowed, and the plan starts from the oldest.
    await apiB.stop();
    apiB = await start('v1.12.10', HOST_B, port);
    const versions = await apiserverVersionsForPlan(withEndpoints);
    expect(versions.sort()).toEqual(['v1.12.10', 'v1.13.12', 'v1.13.12']);
    expect(planVersions({ apiservers: versions, nodes: [] }, 'v1.14.10').controlPlanePath).toEqual(['v1.13.x', 'v1.14.10']);
    // B at 1.11: two minors from A. Through the balancer alone nothing would show it.
    await apiB.stop();
    apiB = await start('v1.11.10', HOST_B, port);
    expect(await cluster.version()).toBe('v1.13.12');
    let err: unknown;
    try {
      await apiserverVersionsForPlan(withEndpoints);
    } catch (e) {
      err = e;
    }
    expect(isKipError(err) && err.code).toBe('SKEW_POLICY');
    expect(isKipError(err) && err.message).toMatch(new RegExp(`https://${HOST_B.replace(/\./g, '\\.')}:${port} runs v1\\.11\\.10, https://${HOST_A.replace(/\./g, '\\.')}:${port} runs v1\\.13\\.12; the version-skew policy allows one`));
    // An instance that does not answer (a stale endpoint) is skipped, not an error.
    await apiB.stop();
    expect(await apiserverInstances(withEndpoints)).toEqual([{ address: urls[0], version: 'v1.13.12' }]);
    checkHaApiservers(await apiserverInstances({ ...withEndpoints, apiserverEndpoints: async () => [...urls, 'https://127.0.31.9:1'] }));
    apiB = await start('v1.13.12', HOST_B, port);
  }, 90_000);
});
