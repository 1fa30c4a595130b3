/**
 * The consistency pass on a Docker (dockershim) node, end to end against a real dockerd 20.10: the
 * runtime is detected from the kubelet's command line (dockershim defaults, --docker-endpoint),
 * containers are laid out as dockershim lays them out, and the skip file (a real file) is removed
 * only when the join of the API's statuses and dockerd's containers is complete and every hash is
 * the running kubelet's. A kubelet command line naming a CRI socket that is not there never passes.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { autoRuntime, type AutoRuntime } from '../../agent/runtime/select.ts';
import { consistencyPass, type ConsistencyPorts } from '../../agent/watch/consistency-loop.ts';
import { containerHash, parseJson } from '../../lib/knowledge/hash/index.ts';
import { silentLogger } from '../../lib/logger.ts';
import { startDockerd, type DockerdHandle } from '../../scripts/containerd/dockerd.ts';

let dockerd: DockerdHandle | undefined;
let dir = '';
const runtimes: AutoRuntime[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kip-docker-consistency-'));
  dockerd = await startDockerd({ dir: join(dir, 'dockerd') });
}, 120_000);

afterAll(async () => {
  for (const r of runtimes) r.close();
  await dockerd?.stop();
}, 120_000);

function d(): DockerdHandle {
  if (dockerd === undefined) throw new Error('dockerd did not start');
  return dockerd;
}
async function docker(...args: string[]): Promise<string> {
  const r = await d().docker(args);
  if (r.exitCode !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

const POD = { name: 'web', namespace: 'default', uid: 'uid-web-1' };
const web = { name: 'web', image: 'busybox', volumeMounts: [{ name: 'data', mountPath: '/data' }] };
const app = { name: 'app', image: 'busybox' };
const podLabels = ['--label', `io.kubernetes.pod.name=${POD.name}`, '--label', `io.kubernetes.pod.namespace=${POD.namespace}`, '--label', `io.kubernetes.pod.uid=${POD.uid}`];

async function sandbox(): Promise<string> {
  return docker('run', '-d', '--name', `k8s_POD_${POD.name}_${POD.namespace}_${POD.uid}_0`, '--network', 'none', '--label', 'io.kubernetes.docker.type=podsandbox', ...podLabels, d().images.pause);
}
/** As dockershim creates an application container: k8s_ name, type and sandbox labels, annotations as "annotation." labels. */
async function container(sandboxId: string, name: string, hash: string, attempt: number): Promise<string> {
  const id = await docker(
    'create', '--name', `k8s_${name}_${POD.name}_${POD.namespace}_${POD.uid}_${attempt}`, '--network', `container:${sandboxId}`,
    '--label', 'io.kubernetes.docker.type=container', '--label', `io.kubernetes.sandbox.id=${sandboxId}`, '--label', `io.kubernetes.container.name=${name}`,
    ...podLabels, '--label', `annotation.io.kubernetes.container.hash=${hash}`, '--label', `annotation.io.kubernetes.container.restartCount=${attempt}`,
    d().images.busybox, '/bin/sleep', '3600',
  );
  await docker('start', id);
  return id;
}

function podList(ids: { web: string; app: string }) {
  const status = (name: string, id: string) => ({ name, containerID: `docker://${id}`, ready: true, restartCount: 0, state: { running: { startedAt: '2026-01-01T00:00:00Z' } } });
  return parseJson(JSON.stringify({
    kind: 'PodList',
    items: [{ metadata: { name: POD.name, namespace: POD.namespace, uid: POD.uid }, spec: { containers: [web, app] }, status: { phase: 'Running', containerStatuses: [status('web', ids.web), status('app', ids.app)] } }],
  }));
}

function ports(argv: string[], ids: () => { web: string; app: string }, skipFile: string): ConsistencyPorts {
  const runtime = autoRuntime({ kubeletArgv: async () => argv, readText: async () => undefined, logger: silentLogger() });
  runtimes.push(runtime);
  return {
    nodeExists: async () => true,
    listNodePods: async () => podList(ids()),
    runtime,
    kubelet: async () => ({ version: 'v1.14.10', active: true }),
    runInProgress: () => false,
    skipFile: {
      read: async () => (existsSync(skipFile) ? readFile(skipFile, 'utf8') : undefined),
      remove: () => rm(skipFile),
    },
    logger: silentLogger(),
  };
}

describe('consistency on a dockershim node (real dockerd)', () => {
  it('reads dockerd through the detected runtime, keeps the file while a hash is stale or the runtime is wrong, removes it when all match', async () => {
    const skipFile = join(dir, 'cache.version.save');
    await writeFile(skipFile, 'v1.13.12,1574812800');
    const sb = await sandbox();
    const ids = { web: await container(sb, 'web', containerHash(web, '1.13').label, 0), app: await container(sb, 'app', containerHash(app, '1.14').label, 0) };
    const dockerArgv = ['/usr/bin/kubelet', '--kubeconfig=/etc/kubernetes/kubelet.conf', `--docker-endpoint=unix://${d().socket}`];

    // A kubelet command line that names a CRI socket nobody serves: incomplete, never "no containers".
    const wrong = await consistencyPass(ports(['kubelet', '--container-runtime=remote', `--container-runtime-endpoint=unix://${join(dir, 'absent.sock')}`], () => ids, skipFile));
    expect(wrong.kind).toBe('incomplete');
    expect(existsSync(skipFile)).toBe(true);

    // The web container still carries its 1.13 hash (1.14 changed it: a volume mount).
    const stale = await consistencyPass(ports(dockerArgv, () => ids, skipFile));
    expect(stale).toMatchObject({ kind: 'checked', removedSkipFile: false, report: { compared: 2, stale: [{ container: 'web', containerId: ids.web }] } });
    expect(existsSync(skipFile)).toBe(true);

    // The operator rolls the pod's web container: the API reports the new instance.
    await docker('rm', '-f', ids.web);
    ids.web = await container(sb, 'web', containerHash(web, '1.14').label, 1);
    // dockerd lost a container the API says is running (killed under the agent): the join refuses.
    await docker('kill', ids.app);
    const partial = await consistencyPass(ports(dockerArgv, () => ids, skipFile));
    expect(partial).toMatchObject({ kind: 'checked', removedSkipFile: false, report: { missing: [{ containerId: ids.app, container: 'app' }] } });
    expect(existsSync(skipFile)).toBe(true);

    await docker('rm', '-f', ids.app);
    ids.app = await container(sb, 'app', containerHash(app, '1.14').label, 1);
    const done = await consistencyPass(ports(dockerArgv, () => ids, skipFile));
    expect(done).toMatchObject({ kind: 'checked', removedSkipFile: true, report: { compared: 2, stale: [], missing: [], unknown: [] } });
    expect(existsSync(skipFile)).toBe(false);
  }, 120_000);
});
