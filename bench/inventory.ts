/**
 * The drift loop's inventory pass on a node with 500 containers (issue 11, "Agent idle"): CPU of
 * one pass hashing every container for every supported version, against a pass through the hash
 * memo the agent keeps between passes (agent/watch/hash-memo.ts), alternating in the same process.
 * The pod list is parsed fresh each pass, as the agent reads it fresh from the apiserver.
 * Environment: KIP_BENCH_INVENTORY_CONTAINERS (500), KIP_BENCH_INVENTORY_ROUNDS (7).
 */
import { containerHash, parseJson } from '../lib/knowledge/hash/index.ts';
import { inventory } from '../agent/watch/inventory.ts';
import { HashMemo } from '../agent/watch/hash-memo.ts';
import type { ContainerInfo } from '../agent/runtime/types.ts';

const CONTAINERS = Number(process.env.KIP_BENCH_INVENTORY_CONTAINERS ?? 500);
const ROUNDS = Number(process.env.KIP_BENCH_INVENTORY_ROUNDS ?? 7);

/** A container spec the size of a typical Deployment's: ports, env, mounts, resources, probes. */
function spec(i: number): Record<string, unknown> {
  return {
    name: `app-${i % 2}`, image: `registry.local/team/app:${1 + (i % 7)}.4.2`, imagePullPolicy: 'IfNotPresent',
    ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
    env: [{ name: 'POD_INDEX', value: String(i) }, { name: 'POD_NAME', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } } }],
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } },
    volumeMounts: [{ name: 'data', mountPath: '/data' }, { name: 'default-token-abcde', readOnly: true, mountPath: '/var/run/secrets/kubernetes.io/serviceaccount' }],
    livenessProbe: { httpGet: { path: '/healthz', port: 8080, scheme: 'HTTP' }, initialDelaySeconds: 5, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 },
    terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File',
  };
}

function world(): { text: string; containers: ContainerInfo[] } {
  const pods: object[] = [];
  const containers: ContainerInfo[] = [];
  for (let p = 0; p < CONTAINERS / 2; p++) {
    const specs = [spec(2 * p), spec(2 * p + 1)];
    pods.push({ metadata: { name: `pod-${p}`, namespace: 'bench', uid: `uid-${p}`, resourceVersion: String(1000 + p) }, spec: { nodeName: 'n1', containers: specs } });
    for (const s of specs) {
      containers.push({
        id: `c-${p}-${String(s.name)}`, podSandboxId: `s-${p}`, name: String(s.name), attempt: 0, state: 'running', createdAtNs: 0n, image: String(s.image), imageRef: 'sha256:x',
        labels: { 'io.kubernetes.pod.uid': `uid-${p}`, 'io.kubernetes.pod.name': `pod-${p}`, 'io.kubernetes.pod.namespace': 'bench', 'io.kubernetes.container.name': String(s.name) },
        annotations: { 'io.kubernetes.container.hash': containerHash(s, '1.13').label },
      });
    }
  }
  return { text: JSON.stringify({ kind: 'PodList', apiVersion: 'v1', items: pods }), containers };
}

function cpuMs(fn: () => void): number {
  const t0 = process.cpuUsage();
  fn();
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / 1000;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function runInventoryBench(out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<void> {
  const { text, containers } = world();
  const ctx = { kubeletVersion: 'v1.14.10', skipFileVersion: 'v1.13.12' };
  const memo = new HashMemo();
  inventory(parseJson(text), containers, undefined, ctx, memo); // the memo's first pass: every container hashed
  inventory(parseJson(text), containers, undefined, ctx); // warm the engines and the JIT for both paths
  const plain: number[] = [];
  const memoed: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    plain.push(cpuMs(() => inventory(parseJson(text), containers, undefined, ctx)));
    memoed.push(cpuMs(() => inventory(parseJson(text), containers, undefined, ctx, memo)));
  }
  const a = median(plain);
  const b = median(memoed);
  out(`inventory pass, ${containers.length} containers, ${(text.length / 1024).toFixed(0)} KiB pod list, ${ROUNDS} alternating rounds: CPU median ${a.toFixed(1)} ms hashing every container (min ${Math.min(...plain).toFixed(1)}, max ${Math.max(...plain).toFixed(1)}) | through the memo ${b.toFixed(1)} ms (min ${Math.min(...memoed).toFixed(1)}, max ${Math.max(...memoed).toFixed(1)}) | ${(b / a).toFixed(3)}x`);
  out(`at one pass a minute (consistencyIntervalMs 60 s): ${((a / 60_000) * 100).toFixed(2)} % of a core without the memo, ${((b / 60_000) * 100).toFixed(3)} % with it; memo ${memo.stats().hits} hits, ${memo.stats().misses} misses`);
}
