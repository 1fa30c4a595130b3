/**
 * Where one node-watcher poll's CPU goes with 500 containers (issue 11's idle goal; part 3 of the
 * eyes work): a private containerd with 25 pods x 20 containers, then KIP_BENCH_POLLS (60) polls of
 * the agent's NodeWatcher, each part timed by process.cpuUsage (user+system of this process):
 * ListContainers and ListPodSandboxes (gRPC + decoding), the snapshot diff, and the whole poll.
 * Then the decoding alone, on the same ListContainersResponse bytes (re-encoded from the list):
 * proto-loader's deserializer + decodeContainer (the client before cri-wire.ts) against
 * cri-wire.ts, alternating, CPU and heap bytes allocated per decode.
 * Run: npx tsx bench/eyes-poll-profile.ts (not part of `npm run bench`).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { criServices } from '../agent/runtime/cri-proto.ts';
import { createCriClient, decodeContainer } from '../agent/runtime/cri.ts';
import { decodeListContainersResponse } from '../agent/runtime/cri-wire.ts';
import type { PodSandboxSpec } from '../agent/runtime/types.ts';
import { EventLog } from '../agent/watch/event-log.ts';
import { NodeWatcher } from '../agent/watch/node-watcher.ts';
import { diffSnapshots } from '../agent/watch/restart-core.ts';
import { systemClock } from '../lib/clock.ts';
import { silentLogger } from '../lib/logger.ts';
import { startContainerd } from '../scripts/containerd/containerd.ts';

const POLLS = Number(process.env.KIP_BENCH_POLLS ?? 60);
const cpuMs = (f: () => Promise<unknown>) => async (): Promise<number> => {
  const c0 = process.cpuUsage();
  await f();
  const d = process.cpuUsage(c0);
  return (d.user + d.system) / 1000;
};
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

const tmp = await mkdtemp(join(tmpdir(), 'kip-poll-prof-'));
// KIP_BENCH_CRI_ADDRESS: a private containerd already holding the 500 containers (the bench's own
// set-up takes minutes on a loaded machine); otherwise one is started here.
const given = process.env.KIP_BENCH_CRI_ADDRESS;
const ctd = given ? undefined : await startContainerd({ dir: join(tmp, 'containerd') });
const cri = createCriClient({ address: given ?? ctd?.address ?? '', timeoutMs: 60_000 });
try {
  let next = 0;
  if (ctd) await Promise.all(Array.from({ length: 5 }, async () => {
    while (next < 25) {
      const p = next++;
      const uid = `uid-prof-${p}`;
      const spec: PodSandboxSpec = { name: `prof-${p}`, uid, namespace: 'default', attempt: 0, labels: { 'io.kubernetes.pod.name': `prof-${p}`, 'io.kubernetes.pod.namespace': 'default', 'io.kubernetes.pod.uid': uid } };
      const sb = await cri.runPodSandbox(spec);
      for (let c = 0; c < 20; c++) {
        const id = await cri.createContainer(sb, { name: `c${c}`, image: ctd.images.busybox, command: ['/bin/sleep', '36000'], labels: { ...spec.labels, 'io.kubernetes.container.name': `c${c}` }, annotations: { 'io.kubernetes.container.restartCount': '0', 'io.kubernetes.container.hash': 'abcdef01' } }, spec);
        await cri.startContainer(id);
      }
    }
  }));
  const list = await cri.listContainers();
  const w = new NodeWatcher({ reader: cri, skipFile: async () => undefined, kubelet: async () => ({ active: true, mainPid: 1 }), log: new EventLog(1_000), clock: systemClock, logger: silentLogger() });
  await w.pollOnce();
  const parts: Record<string, number[]> = { listContainers: [], listPodSandboxes: [], diff: [], poll: [] };
  for (let i = 0; i < POLLS; i++) {
    parts.listContainers!.push(await cpuMs(() => cri.listContainers())());
    parts.listPodSandboxes!.push(await cpuMs(() => cri.listPodSandboxes())());
    parts.diff!.push(await cpuMs(async () => diffSnapshots(list, list, 0))());
    parts.poll!.push(await cpuMs(() => w.pollOnce())());
  }
  const codec = criServices().v1.runtime.ListContainers as unknown as { responseSerialize: (v: unknown) => Buffer; responseDeserialize: (b: Buffer) => unknown };
  const bytes = codec.responseSerialize({
    containers: list.map((c) => ({ id: c.id, podSandboxId: c.podSandboxId, metadata: { name: c.name, attempt: c.attempt }, image: { image: c.image }, imageRef: c.imageRef, state: `CONTAINER_${c.state.toUpperCase()}`, createdAt: String(c.createdAtNs), labels: c.labels, annotations: c.annotations })),
  });
  const decoders = {
    'proto-loader + decodeContainer': () => (codec.responseDeserialize(bytes) as { containers: unknown[] }).containers.map(decodeContainer),
    'cri-wire': () => decodeListContainersResponse(bytes),
  };
  const dec: Record<string, { cpu: number[]; alloc: number[] }> = {};
  for (let i = 0; i < POLLS * 5; i++) {
    for (const [name, f] of Object.entries(decoders)) {
      const h0 = process.memoryUsage().heapUsed;
      const c0 = process.cpuUsage();
      f();
      const d = process.cpuUsage(c0);
      const h1 = process.memoryUsage().heapUsed;
      const e = (dec[name] ??= { cpu: [], alloc: [] });
      e.cpu.push((d.user + d.system) / 1000);
      if (h1 >= h0) e.alloc.push((h1 - h0) / 1024); // a GC in between hides the figure: left out
    }
  }
  const [a, b] = Object.values(dec);
  process.stdout.write(`decode of one ListContainersResponse (${bytes.length} bytes, ${list.length} containers), median of ${POLLS * 5} alternating: ${Object.entries(dec).map(([k, v]) => `${k} ${med(v.cpu).toFixed(2)} ms CPU, ${med(v.alloc).toFixed(0)} KiB allocated`).join(' | ')}${a && b ? ` | ratio ${(med(b.cpu) / med(a.cpu)).toFixed(2)}x CPU, ${(med(b.alloc) / med(a.alloc)).toFixed(2)}x allocated` : ''}\n`);
  process.stdout.write(`${list.length} containers; CPU ms per call, median of ${POLLS}: ${Object.entries(parts).map(([k, v]) => `${k} ${med(v).toFixed(2)}`).join(', ')}; at 1 poll/s the poll alone is ${(med(parts.poll!) / 10).toFixed(2)} % of a core\n`);
} finally {
  cri.close();
  await ctd?.stop();
  await rm(tmp, { recursive: true, force: true });
}
