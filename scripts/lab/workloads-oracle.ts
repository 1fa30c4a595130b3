/**
 * The lab's workloads for the hash oracle (kip-lab up --hashes vectors): the same shape of
 * cluster as workloads.ts (a daemon-set-like pod per node, stateful-like single pods,
 * deployments' pods, the nodeSelector pod for preflight), but every container of every pod is a
 * golden vector (test/fixtures/hash-vectors/containers.json), verbatim, so the lab kubelet can
 * label and judge each one with the hashes the real Go code produced. Init containers, probes,
 * lifecycle hooks, securityContexts, host ports, extended resources, pods with and without
 * hostNetwork, and a static pod per worker (staticPodManifest) are all there.
 *
 * Only vectors that come back from the apiserver exactly as written are used: the apiserver
 * defaults a container (terminationMessagePath/Policy, imagePullPolicy, ports[].protocol), so a
 * vector without those fields ("no-defaults", "upstream-test") would be served changed; a real
 * apiserver drops fields it does not know ("unknown-field"). planVectors() checks every container
 * against the vectors and the apiserver's defaulting before anything is created.
 */
import type { V1Container, V1Pod, V1Volume } from '@kubernetes/client-node';
import { parseJson } from '../../lib/knowledge/hash/index.ts';
import { KipError } from '../../lib/errors.ts';
import { defaultPodSpec } from './apiserver/admission.ts';
import type { JsonObject } from './apiserver/json.ts';
import { canonicalJson, hasFileSensitiveEmpties, loadHashVectors, type HashVector } from './kubelet/hashes.ts';
import { SELECTOR_LABEL, SELECTOR_POD, type WorkloadPlan, type WorkloadProfile } from './workloads.ts';

/** Vectors an apiserver does not serve as written. */
export const UNSERVABLE_VECTORS = ['no-defaults', 'upstream-test', 'unknown-field'] as const;

export interface OracleWorkloadPlan extends WorkloadPlan {
  /** Static pod manifest (JSON) written to every worker's --pod-manifest-path. */
  readonly staticPod: Record<string, unknown>;
  /** ns/pod/container -> vector id, for every container of the plan (static pod: "<static>/..."). */
  readonly vectorOf: ReadonlyMap<string, string>;
}

function vectorContainer(vectors: readonly HashVector[], id: string): V1Container {
  const v = vectors.find((x) => x.id === id);
  if (!v) throw new KipError('LAB_ORACLE_MISS', `no golden vector ${id} in test/fixtures/hash-vectors`, { id });
  return JSON.parse(v.container.raw) as V1Container;
}

interface Spec {
  readonly namespace: string;
  readonly name: string;
  readonly node: string;
  readonly labels: Record<string, string>;
  readonly containers: readonly string[];
  readonly init?: readonly string[];
  readonly hostNetwork?: boolean;
  readonly volumes?: V1Volume[];
  readonly nodeSelector?: Record<string, string>;
  readonly priorityClassName?: string;
}

const TOKEN_VOLUME: V1Volume = { name: 'default-token-x7k2p', secret: { secretName: 'default-token-x7k2p', defaultMode: 420 } };

function suffix(seed: string, length: number): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  let h = 2166136261;
  for (const ch of seed) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  let out = '';
  for (let i = 0; i < length; i++) {
    out += alphabet[h % alphabet.length];
    h = Math.imul(h ^ (i + 7), 16777619) >>> 0;
  }
  return out;
}

/** The pods, and the static pod, for these worker names. */
export function oracleWorkloadPlan(workers: readonly string[], profile: WorkloadProfile = 'full', vectors: readonly HashVector[] = loadHashVectors()): OracleWorkloadPlan {
  if (workers.length === 0) throw new KipError('LAB_BAD_ARGUMENT', 'workloads need at least one worker', {});
  const w = (i: number): string => workers[i % workers.length]!;
  const full = profile === 'full';
  const specs: Spec[] = [];
  for (const node of workers) {
    specs.push({ namespace: 'kube-system', name: `kube-proxy-${suffix(node, 5)}`, node, labels: { 'k8s-app': 'kube-proxy' }, containers: ['sc-priv'], hostNetwork: true, priorityClassName: 'system-node-critical' });
    if (full) specs.push({ namespace: 'monitoring', name: `node-exporter-${suffix(`ne/${node}`, 5)}`, node, labels: { app: 'node-exporter' }, containers: ['res-tiny', 'sc-selinux'], hostNetwork: true });
  }
  // The host port 53/UDP of "ports" allows one such pod per node: one replica per worker at most.
  const dnsReplicas = full ? Math.min(2, workers.length) : 1;
  for (let i = 0; i < dnsReplicas; i++) {
    specs.push({ namespace: 'kube-system', name: `kube-dns-86f4d74b45-${suffix(`dns/${i}`, 5)}`, node: w(i), labels: { 'k8s-app': 'kube-dns' }, containers: ['probe-http', 'ports'], priorityClassName: 'system-cluster-critical' });
  }
  specs.push({
    namespace: 'data', name: 'mysql-0', node: w(0), labels: { app: 'mysql', 'statefulset.kubernetes.io/pod-name': 'mysql-0' }, init: ['cmd-args'], containers: ['probe-exec-tcp', 'res-basic'],
    volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data-mysql-0' } }],
  });
  // Two replicas even in the small plan: each of two workers then has a container with a volume
  // mount (the 1.13 -> 1.14 change) for the e2e tests.
  for (let i = 0; i < (full ? 3 : 2); i++) {
    specs.push({ namespace: 'shop', name: `web-5d8f6c7b9-${suffix(`web/${i}`, 5)}`, node: w(i + 1), labels: { app: 'web' }, containers: ['sa-mount', 'lifecycle', 'env-values'], volumes: [TOKEN_VOLUME] });
  }
  specs.push({ namespace: SELECTOR_POD.namespace, name: SELECTOR_POD.name, node: w(0), labels: { app: 'legacy-reports' }, containers: ['res-forms', 'env-from'], nodeSelector: { [SELECTOR_LABEL.key]: SELECTOR_LABEL.value } });
  if (full) {
    specs.push({ namespace: 'data', name: 'redis-0', node: w(1), labels: { app: 'redis' }, containers: ['res-odd', 'stdin-tty'] });
    specs.push({ namespace: 'data', name: 'zookeeper-0', node: w(2), labels: { app: 'zookeeper' }, init: ['res-tiny'], containers: ['sc-full', 'long-strings'] });
    specs.push({ namespace: 'monitoring', name: 'prometheus-k8s-0', node: w(1), labels: { app: 'prometheus' }, containers: ['quantity-edge', 'fallback-msg'] });
    specs.push({ namespace: 'ml', name: 'trainer-0', node: w(2), labels: { app: 'trainer' }, containers: ['res-gpu', 'devices'], volumes: [{ name: 'blk', persistentVolumeClaim: { claimName: 'blk-trainer-0' } }] });
    for (let i = 0; i < 2; i++) {
      specs.push({ namespace: 'billing', name: `billing-api-7c9d5f8b6-${suffix(`billing/${i}`, 5)}`, node: w(i + 2), labels: { app: 'billing-api' }, containers: ['pull-always', 'sc-empty', 'lifecycle-tcp'] });
    }
    specs.push({ namespace: 'ingress', name: `nginx-ingress-controller-6b9d8c5f4-${suffix('ingress', 5)}`, node: w(0), labels: { app: 'ingress' }, containers: ['empty-lists', 'res-empty-maps', 'minimal'] });
  }
  const vectorOf = new Map<string, string>();
  const pods: V1Pod[] = specs.map((s) => {
    const containers = s.containers.map((id) => vectorContainer(vectors, id));
    const init = (s.init ?? []).map((id) => vectorContainer(vectors, id));
    [...s.containers, ...(s.init ?? [])].forEach((id, i) => vectorOf.set(`${s.namespace}/${s.name}/${[...containers, ...init][i]!.name}`, id));
    return {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: s.name, namespace: s.namespace, labels: s.labels },
      spec: {
        nodeName: s.node,
        ...(init.length > 0 ? { initContainers: init } : {}),
        containers,
        ...(s.volumes ? { volumes: s.volumes } : {}),
        restartPolicy: 'Always',
        terminationGracePeriodSeconds: 30,
        dnsPolicy: s.hostNetwork ? 'ClusterFirstWithHostNet' : 'ClusterFirst',
        ...(s.hostNetwork ? { hostNetwork: true } : {}),
        ...(s.nodeSelector ? { nodeSelector: s.nodeSelector } : {}),
        ...(s.priorityClassName ? { priorityClassName: s.priorityClassName } : {}),
      },
    };
  });
  const staticContainer = vectorContainer(vectors, 'minimal');
  vectorOf.set(`<static>/node-probe/${staticContainer.name}`, 'minimal');
  const staticPod = {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: 'node-probe', namespace: 'kube-system', labels: { component: 'node-probe', tier: 'node' } },
    spec: { hostNetwork: true, priorityClassName: 'system-node-critical', containers: [staticContainer] },
  };
  const plan: OracleWorkloadPlan = {
    namespaces: [...new Set(pods.map((p) => p.metadata?.namespace ?? 'default'))].filter((n) => !['default', 'kube-system', 'kube-public'].includes(n)),
    pods,
    containers: pods.reduce((n, p) => n + (p.spec?.containers.length ?? 0), 0),
    staticPod,
    vectorOf,
  };
  planVectors(plan, vectors);
  return plan;
}

/**
 * Checks that every container of the plan is served by the apiserver exactly as its vector
 * (defaulting changes nothing), and that the static pod's would hash the same from a file.
 */
export function planVectors(plan: OracleWorkloadPlan, vectors: readonly HashVector[]): void {
  const known = new Set(vectors.map((v) => canonicalJson(v.container)));
  const check = (spec: JsonObject, where: string, source: 'apiserver' | 'file'): void => {
    const defaulted = JSON.parse(JSON.stringify(spec)) as JsonObject;
    defaultPodSpec(defaulted);
    for (const key of ['initContainers', 'containers'] as const) {
      const list = defaulted[key];
      if (!Array.isArray(list)) continue;
      for (const c of list) {
        const node = parseJson(JSON.stringify(c));
        const name = (c as { name?: string }).name;
        if (!known.has(canonicalJson(node))) throw new KipError('LAB_ORACLE_MISS', `${where}/${name}: the apiserver would serve this container changed from its golden vector (defaults), so the oracle could not answer for it`, { where, name });
        if (source === 'file' && hasFileSensitiveEmpties(node)) throw new KipError('LAB_ORACLE_MISS', `${where}/${name}: a static pod's literal empty list or map hashes differently from the vectors`, { where, name });
      }
    }
  };
  for (const p of plan.pods) check(p.spec as unknown as JsonObject, `${p.metadata?.namespace}/${p.metadata?.name}`, 'apiserver');
  check(plan.staticPod.spec as JsonObject, 'static node-probe', 'file');
}

export const ORACLE_STATIC_POD_FILE = 'node-probe.json';
