/**
 * The fallback path of the private containerd harness: the native snapshotter (used where overlay
 * mounts are refused, e.g. overlay on overlay) must run a pod just as well.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createCriClient, type CriClient } from '../../agent/runtime/cri.ts';
import { startContainerd, type ContainerdHandle } from '../../scripts/containerd/containerd.ts';

let ctd: ContainerdHandle | undefined;
let cri: CriClient | undefined;

beforeAll(async () => {
  ctd = await startContainerd({ dir: await mkdtemp(join(tmpdir(), 'kip-cri-native-')), snapshotter: 'native' });
  cri = createCriClient({ address: ctd.address, timeoutMs: 20_000 });
}, 120_000);

afterAll(async () => {
  cri?.close();
  await ctd?.stop();
}, 120_000);

it('runs a pod sandbox and a container on the native snapshotter', async () => {
  if (ctd === undefined || cri === undefined) throw new Error('containerd did not start');
  expect(ctd.snapshotter).toBe('native');
  const sandbox = { name: 'native', uid: 'uid-native', namespace: 'default' };
  const sb = await cri.runPodSandbox(sandbox);
  const id = await cri.createContainer(sb, { name: 'app', image: ctd.images.busybox, command: ['/bin/sleep', '600'] }, sandbox);
  await cri.startContainer(id);
  expect((await cri.containerStatus(id)).state).toBe('running');
}, 60_000);
