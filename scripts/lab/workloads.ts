/**
 * The lab's v1.10 cluster state: pods across namespaces shaped like a real cluster's (a
 * daemon-set-like pod per node, single-replica stateful-like pods, deployments' pods, service
 * account token mounts, securityContexts, resources with fractional quantities, probes), created
 * through the Kubernetes API while DefaultTolerationSeconds is off (so none of them carries the
 * not-ready/unreachable tolerations), bound by nodeName, plus one pod whose nodeSelector label is
 * removed from its node after it started (what kip's preflight must find).
 *
 * workloadPlan() is pure; createWorkloads()/waitForWorkloads() talk to the API through KubeClient.
 */
import type { V1Container, V1Pod, V1PodSecurityContext, V1Probe, V1Volume } from '@kubernetes/client-node';
import { KipError } from '../../lib/errors.ts';
import type { Clock } from '../../lib/clock.ts';
import type { KubeClient } from '../../lib/kube/index.ts';

export type WorkloadProfile = 'full' | 'small';

/** The label the selector pod needs; put on the first worker before the pod, removed after. */
export const SELECTOR_LABEL = { key: 'lab.kip.io/disk', value: 'ssd' } as const;
export const SELECTOR_POD = { namespace: 'reports', name: 'legacy-reports-0' } as const;

export interface WorkloadPlan {
  readonly namespaces: readonly string[];
  readonly pods: readonly V1Pod[];
  readonly containers: number;
}

const SA_MOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';

/** Deterministic pseudo-random suffixes, like a ReplicaSet's pod-template-hash and pod suffix. */
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

function tokenVolume(sa: string): { volume: V1Volume; name: string } {
  const name = `${sa}-token-${suffix(sa, 5)}`;
  return { name, volume: { name, secret: { secretName: name, defaultMode: 420 } } };
}

function container(name: string, image: string, extra: Partial<V1Container> = {}): V1Container {
  return { name, image, imagePullPolicy: 'IfNotPresent', ...extra };
}

function httpProbe(path: string, port: number, extra: Partial<V1Probe> = {}): V1Probe {
  return { httpGet: { path, port, scheme: 'HTTP' }, initialDelaySeconds: 10, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3, ...extra };
}

interface PodArgs {
  readonly namespace: string;
  readonly name: string;
  readonly node: string;
  readonly labels: Record<string, string>;
  readonly containers: V1Container[];
  readonly serviceAccount?: string;
  readonly volumes?: V1Volume[];
  readonly hostNetwork?: boolean;
  readonly nodeSelector?: Record<string, string>;
  readonly priorityClassName?: string;
  readonly podSecurity?: V1PodSecurityContext;
}

function pod(a: PodArgs): V1Pod {
  const sa = a.serviceAccount ?? 'default';
  const token = tokenVolume(sa);
  const mounted = a.containers.map((c) => ({
    ...c,
    volumeMounts: [...(c.volumeMounts ?? []), { name: token.name, mountPath: SA_MOUNT, readOnly: true }],
  }));
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: a.name, namespace: a.namespace, labels: a.labels },
    spec: {
      nodeName: a.node,
      containers: mounted,
      volumes: [...(a.volumes ?? []), token.volume],
      serviceAccountName: sa,
      restartPolicy: 'Always',
      terminationGracePeriodSeconds: 30,
      dnsPolicy: a.hostNetwork ? 'ClusterFirstWithHostNet' : 'ClusterFirst',
      ...(a.hostNetwork ? { hostNetwork: true } : {}),
      ...(a.nodeSelector ? { nodeSelector: a.nodeSelector } : {}),
      ...(a.priorityClassName ? { priorityClassName: a.priorityClassName } : {}),
      ...(a.podSecurity ? { securityContext: a.podSecurity } : {}),
    },
  };
}

/** A deployment's pods: NAME-<template hash>-<5 chars>, spread round-robin over the workers. */
function deploymentPods(ns: string, app: string, replicas: number, workers: readonly string[], offset: number, make: () => V1Container[], extra: Partial<PodArgs> = {}): V1Pod[] {
  const hash = suffix(`${ns}/${app}`, 10).replace(/[a-z]/g, (c, i: number) => (i % 3 === 0 ? String(c.charCodeAt(0) % 10) : c));
  return Array.from({ length: replicas }, (_, i) =>
    pod({
      namespace: ns,
      name: `${app}-${hash}-${suffix(`${ns}/${app}/${i}`, 5)}`,
      node: workers[(offset + i) % workers.length]!,
      labels: { app, 'pod-template-hash': hash },
      containers: make(),
      ...extra,
    }));
}

/** The pods of the lab's v1.10 cluster for these worker node names. */
export function workloadPlan(workers: readonly string[], profile: WorkloadProfile = 'full'): WorkloadPlan {
  if (workers.length === 0) throw new KipError('LAB_BAD_ARGUMENT', 'workloads need at least one worker', {});
  const w = (i: number): string => workers[i % workers.length]!;
  const pods: V1Pod[] = [];

  // kube-system: a daemon-set-like pod per node (privileged, host network, hostPath volumes).
  for (const node of workers) {
    pods.push(pod({
      namespace: 'kube-system',
      name: `kube-proxy-${suffix(node, 5)}`,
      node,
      labels: { 'k8s-app': 'kube-proxy', 'controller-revision-hash': '3287914530', 'pod-template-generation': '1' },
      serviceAccount: 'kube-proxy',
      hostNetwork: true,
      priorityClassName: 'system-node-critical',
      volumes: [
        { name: 'kube-proxy', configMap: { name: 'kube-proxy', defaultMode: 420 } },
        { name: 'xtables-lock', hostPath: { path: '/run/xtables.lock', type: 'FileOrCreate' } },
        { name: 'lib-modules', hostPath: { path: '/lib/modules', type: '' } },
      ],
      containers: [container('kube-proxy', 'k8s.gcr.io/kube-proxy-amd64:v1.10.13', {
        command: ['/usr/local/bin/kube-proxy', '--config=/var/lib/kube-proxy/config.conf'],
        securityContext: { privileged: true },
        volumeMounts: [
          { name: 'kube-proxy', mountPath: '/var/lib/kube-proxy' },
          { name: 'xtables-lock', mountPath: '/run/xtables.lock' },
          { name: 'lib-modules', mountPath: '/lib/modules', readOnly: true },
        ],
        terminationMessagePath: '/dev/termination-log',
        terminationMessagePolicy: 'File',
      })],
    }));
  }
  // monitoring: node-exporter per node (2 containers), prometheus and alertmanager (full only).
  for (const node of profile === 'full' ? workers : []) {
    pods.push(pod({
      namespace: 'monitoring',
      name: `node-exporter-${suffix(`ne/${node}`, 5)}`,
      node,
      labels: { app: 'node-exporter', 'controller-revision-hash': '1562438207' },
      serviceAccount: 'node-exporter',
      hostNetwork: true,
      podSecurity: { runAsNonRoot: true, runAsUser: 65534 },
      containers: [
        container('node-exporter', 'quay.io/prometheus/node-exporter:v0.16.0', {
          args: ['--web.listen-address=127.0.0.1:9101', '--path.procfs=/host/proc', '--path.sysfs=/host/sys'],
          resources: { limits: { cpu: '250m', memory: '180Mi' }, requests: { cpu: '102m', memory: '180Mi' } },
        }),
        container('kube-rbac-proxy', 'quay.io/coreos/kube-rbac-proxy:v0.3.1', {
          args: ['--secure-listen-address=$(IP):9100', '--upstream=http://127.0.0.1:9101/'],
          env: [{ name: 'IP', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'status.podIP' } } }],
          ports: [{ containerPort: 9100, hostPort: 9100, name: 'https', protocol: 'TCP' }],
          resources: { limits: { cpu: '20m', memory: '40Mi' }, requests: { cpu: '10m', memory: '20Mi' } },
        }),
      ],
    }));
  }
  // kube-system: DNS (a deployment's pods).
  pods.push(...deploymentPods('kube-system', 'kube-dns', profile === 'full' ? 2 : 1, workers, 0, () => [
    container('kubedns', 'k8s.gcr.io/k8s-dns-kube-dns-amd64:1.14.8', {
      args: ['--domain=cluster.local.', '--dns-port=10053', '--v=2'],
      resources: { limits: { memory: '170Mi' }, requests: { cpu: '100m', memory: '70Mi' } },
      livenessProbe: httpProbe('/healthcheck/kubedns', 10054, { initialDelaySeconds: 60, timeoutSeconds: 5, failureThreshold: 5 }),
      readinessProbe: httpProbe('/readiness', 8081, { initialDelaySeconds: 3, timeoutSeconds: 5 }),
      ports: [{ containerPort: 10053, name: 'dns-local', protocol: 'UDP' }, { containerPort: 10055, name: 'metrics', protocol: 'TCP' }],
    }),
  ], { serviceAccount: 'kube-dns', priorityClassName: 'system-cluster-critical' }));

  // data: single-replica stateful-like pods (no second copy: a restart is an outage).
  pods.push(pod({
    namespace: 'data',
    name: 'mysql-0',
    node: w(0),
    labels: { app: 'mysql', 'statefulset.kubernetes.io/pod-name': 'mysql-0', 'controller-revision-hash': 'mysql-7d9f8b6c5' },
    podSecurity: { fsGroup: 999 },
    volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data-mysql-0' } }],
    containers: [
      container('mysql', 'mysql:5.7.22', {
        env: [{ name: 'MYSQL_ROOT_PASSWORD', valueFrom: { secretKeyRef: { name: 'mysql', key: 'root-password' } } }],
        ports: [{ containerPort: 3306, name: 'mysql', protocol: 'TCP' }],
        resources: { limits: { cpu: '2', memory: '4Gi' }, requests: { cpu: '1500m', memory: '2.5Gi' } },
        livenessProbe: { exec: { command: ['mysqladmin', 'ping'] }, initialDelaySeconds: 30, periodSeconds: 10, timeoutSeconds: 5, successThreshold: 1, failureThreshold: 3 },
        readinessProbe: { tcpSocket: { port: 3306 }, initialDelaySeconds: 5, periodSeconds: 2, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 },
        volumeMounts: [{ name: 'data', mountPath: '/var/lib/mysql', subPath: 'mysql' }],
        securityContext: { runAsUser: 999, allowPrivilegeEscalation: false },
      }),
      container('metrics', 'prom/mysqld-exporter:v0.10.0', {
        resources: { requests: { cpu: '0.05', memory: '32Mi' }, limits: { cpu: '0.1', memory: '64Mi' } },
        securityContext: { readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
      }),
    ],
  }));
  pods.push(...deploymentPods('shop', 'web', profile === 'full' ? 3 : 1, workers, 1, () => [
    container('nginx', 'nginx:1.13.12', {
      ports: [{ containerPort: 80, name: 'http', protocol: 'TCP' }],
      resources: { requests: { cpu: '0.25', memory: '64Mi' }, limits: { cpu: '0.5', memory: '128Mi' } },
      readinessProbe: httpProbe('/healthz', 80, { initialDelaySeconds: 2, periodSeconds: 5 }),
      lifecycle: { preStop: { exec: { command: ['/usr/sbin/nginx', '-s', 'quit'] } } },
    }),
    container('php-fpm', 'php:7.2-fpm', {
      resources: { requests: { cpu: '300m', memory: '0.25Gi' }, limits: { cpu: '1', memory: '512Mi' } },
      livenessProbe: { tcpSocket: { port: 9000 }, initialDelaySeconds: 15, periodSeconds: 20, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 },
      securityContext: { runAsUser: 33, runAsNonRoot: true },
    }),
    container('log-shipper', 'fluent/fluent-bit:0.13', {
      resources: { requests: { cpu: '5m', memory: '10Mi' }, limits: { memory: '50Mi' } },
    }),
  ]));
  // The pod whose node later loses its nodeSelector label (created while the label was present).
  pods.push(pod({
    namespace: SELECTOR_POD.namespace,
    name: SELECTOR_POD.name,
    node: w(0),
    labels: { app: 'legacy-reports' },
    nodeSelector: { [SELECTOR_LABEL.key]: SELECTOR_LABEL.value },
    containers: [
      container('reports', 'registry.example.com/reports:2.3.1', {
        resources: { requests: { cpu: '0.1', memory: '100M' }, limits: { cpu: '0.2', memory: '200M' } },
        env: [{ name: 'REPORT_SCHEDULE', value: '0 3 * * *' }],
      }),
      container('cron', 'registry.example.com/cron:1.0', { resources: { requests: { cpu: '10m', memory: '16Mi' } } }),
    ],
  }));

  if (profile === 'full') {
    pods.push(pod({
      namespace: 'data',
      name: 'redis-0',
      node: w(1),
      labels: { app: 'redis', 'statefulset.kubernetes.io/pod-name': 'redis-0' },
      containers: [container('redis', 'redis:4.0.9', {
        command: ['redis-server', '--appendonly', 'yes'],
        resources: { requests: { cpu: '0.2', memory: '1.5Gi' }, limits: { memory: '2Gi' } },
        livenessProbe: { exec: { command: ['redis-cli', 'ping'] }, initialDelaySeconds: 5, periodSeconds: 5, timeoutSeconds: 1, successThreshold: 1, failureThreshold: 3 },
      })],
    }));
    pods.push(pod({
      namespace: 'data',
      name: 'zookeeper-0',
      node: w(2),
      labels: { app: 'zookeeper', 'statefulset.kubernetes.io/pod-name': 'zookeeper-0' },
      podSecurity: { runAsUser: 1000, fsGroup: 1000 },
      containers: [
        container('zookeeper', 'zookeeper:3.4.12', {
          ports: [{ containerPort: 2181, name: 'client' }, { containerPort: 2888, name: 'server' }, { containerPort: 3888, name: 'leader-election' }],
          resources: { requests: { cpu: '500m', memory: '1Gi' } },
          readinessProbe: { exec: { command: ['sh', '-c', 'echo ruok | nc 127.0.0.1 2181'] }, initialDelaySeconds: 10, timeoutSeconds: 5, periodSeconds: 10, successThreshold: 1, failureThreshold: 3 },
        }),
        container('jmx-exporter', 'sscaling/jmx-prometheus-exporter:0.3.0', { resources: { requests: { cpu: '0.05', memory: '64Mi' } } }),
      ],
    }));
    pods.push(pod({
      namespace: 'monitoring',
      name: 'prometheus-k8s-0',
      node: w(1),
      labels: { app: 'prometheus', prometheus: 'k8s' },
      serviceAccount: 'prometheus-k8s',
      podSecurity: { runAsNonRoot: true, runAsUser: 1000, fsGroup: 2000 },
      containers: [
        container('prometheus', 'quay.io/prometheus/prometheus:v2.2.1', {
          args: ['--storage.tsdb.retention=24h', '--config.file=/etc/prometheus/config/prometheus.yaml'],
          resources: { requests: { memory: '400Mi' } },
          readinessProbe: httpProbe('/-/ready', 9090, { initialDelaySeconds: 0, periodSeconds: 5, failureThreshold: 6 }),
        }),
        container('prometheus-config-reloader', 'quay.io/coreos/prometheus-config-reloader:v0.0.3', {
          resources: { limits: { cpu: '5m', memory: '10Mi' } },
        }),
      ],
    }));
    pods.push(pod({
      namespace: 'monitoring',
      name: 'alertmanager-main-0',
      node: w(2),
      labels: { app: 'alertmanager', alertmanager: 'main' },
      containers: [
        container('alertmanager', 'quay.io/prometheus/alertmanager:v0.14.0', {
          resources: { requests: { memory: '200Mi' } },
          livenessProbe: httpProbe('/api/v1/status', 9093, { initialDelaySeconds: 30, failureThreshold: 10 }),
        }),
        container('config-reloader', 'quay.io/coreos/configmap-reload:v0.0.1', { resources: { limits: { cpu: '5m', memory: '10Mi' } } }),
      ],
    }));
    pods.push(...deploymentPods('billing', 'billing-api', 2, workers, 2, () => [
      container('api', 'registry.example.com/billing-api:4.12.0', {
        env: [{ name: 'JAVA_OPTS', value: '-Xmx768m' }, { name: 'DB_HOST', value: 'mysql.data.svc.cluster.local' }],
        resources: { requests: { cpu: '0.75', memory: '1Gi' }, limits: { cpu: '1.5', memory: '1536Mi' } },
        livenessProbe: httpProbe('/health', 8080, { initialDelaySeconds: 90 }),
        readinessProbe: httpProbe('/ready', 8080, { initialDelaySeconds: 20, periodSeconds: 5 }),
        securityContext: { runAsUser: 1001, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false },
      }),
      container('envoy', 'envoyproxy/envoy:v1.6.0', {
        resources: { requests: { cpu: '100m', memory: '64Mi' }, limits: { cpu: '0.5', memory: '256Mi' } },
        securityContext: { capabilities: { add: ['NET_ADMIN'] } },
      }),
      container('log-shipper', 'fluent/fluent-bit:0.13', { resources: { requests: { cpu: '5m', memory: '10Mi' } } }),
    ]));
    pods.push(...deploymentPods('ingress', 'nginx-ingress-controller', 1, workers, 0, () => [
      container('nginx-ingress-controller', 'quay.io/kubernetes-ingress-controller/nginx-ingress-controller:0.14.0', {
        args: ['/nginx-ingress-controller', '--configmap=$(POD_NAMESPACE)/nginx-configuration'],
        env: [{ name: 'POD_NAMESPACE', valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } } }],
        securityContext: { runAsNonRoot: false, capabilities: { add: ['NET_BIND_SERVICE'], drop: ['ALL'] } },
        livenessProbe: httpProbe('/healthz', 10254, { initialDelaySeconds: 10 }),
      }),
      container('default-backend', 'k8s.gcr.io/defaultbackend:1.4', { resources: { limits: { cpu: '10m', memory: '20Mi' } } }),
    ], { serviceAccount: 'nginx-ingress-serviceaccount' }));
  }
  const namespaces = [...new Set(pods.map((p) => p.metadata?.namespace ?? 'default'))].filter((n) => !['default', 'kube-system', 'kube-public'].includes(n));
  const containers = pods.reduce((n, p) => n + (p.spec?.containers.length ?? 0), 0);
  return { namespaces, pods, containers };
}

export interface WorkloadProgress {
  (line: string): void;
}

/**
 * Creates the plan's namespaces and pods. The selector pod's label is put on its node first
 * (the node must carry it at creation, as in a real cluster) and removed by removeSelectorLabel().
 */
export async function createWorkloads(kube: KubeClient, plan: WorkloadPlan): Promise<void> {
  for (const ns of plan.namespaces) await kube.createNamespace(ns);
  const selectorPod = plan.pods.find((p) => p.metadata?.name === SELECTOR_POD.name);
  const selectorNode = selectorPod?.spec?.nodeName;
  if (selectorNode) await kube.patchNode(selectorNode, { metadata: { labels: { [SELECTOR_LABEL.key]: SELECTOR_LABEL.value } } }, 'merge');
  for (const p of plan.pods) await kube.createPod(p.metadata?.namespace ?? 'default', p);
}

/** Removes the selector pod's label from its node: the pod keeps running until its kubelet restarts. */
export async function removeSelectorLabel(kube: KubeClient, plan: WorkloadPlan): Promise<string | undefined> {
  const node = plan.pods.find((p) => p.metadata?.name === SELECTOR_POD.name)?.spec?.nodeName;
  if (node) await kube.patchNode(node, { metadata: { labels: { [SELECTOR_LABEL.key]: null } } }, 'merge');
  return node;
}

export interface WorkloadCount {
  readonly pods: number;
  readonly runningPods: number;
  readonly containers: number;
  readonly runningContainers: number;
}

/** Counts pods/containers the kubelets report running (pod status written by the lab kubelet). */
export async function countRunning(kube: KubeClient): Promise<WorkloadCount> {
  const { items } = await kube.listPods();
  let runningPods = 0;
  let containers = 0;
  let runningContainers = 0;
  for (const p of items) {
    const want = p.spec?.containers.length ?? 0;
    containers += want;
    const running = (p.status?.containerStatuses ?? []).filter((s) => s.state?.running !== undefined).length;
    runningContainers += running;
    if (p.status?.phase === 'Running' && running === want) runningPods++;
  }
  return { pods: items.length, runningPods, containers, runningContainers };
}

export class WorkloadTimeoutError extends KipError {
  constructor(count: WorkloadCount, timeoutMs: number) {
    super('LAB_WORKLOADS_TIMEOUT', `workloads not running after ${Math.round(timeoutMs / 1000)} s: ${count.runningPods}/${count.pods} pods, ${count.runningContainers}/${count.containers} containers`, { ...count, timeoutMs });
  }
}

/** Polls until every pod of the plan runs all its containers. */
export async function waitForWorkloads(kube: KubeClient, plan: WorkloadPlan, options: { timeoutMs: number; clock: Clock; progress?: WorkloadProgress; extraPods?: number }): Promise<WorkloadCount> {
  const { clock } = options;
  const deadline = clock.now() + options.timeoutMs;
  // Static pods show up as mirror pods (one container each in the lab's plans).
  const extra = options.extraPods ?? 0;
  const wantContainers = plan.containers + extra;
  let last: WorkloadCount = { pods: 0, runningPods: 0, containers: 0, runningContainers: 0 };
  let reported = -1;
  for (;;) {
    try {
      last = await countRunning(kube);
    } catch (err) {
      if (clock.now() > deadline) throw err;
    }
    if (last.pods >= plan.pods.length + extra && last.runningPods === last.pods && last.runningContainers >= wantContainers) return last;
    if (options.progress && last.runningContainers !== reported) {
      reported = last.runningContainers;
      options.progress(`  ${last.runningContainers}/${wantContainers} containers running`);
    }
    if (clock.now() > deadline) throw new WorkloadTimeoutError(last, options.timeoutMs);
    await clock.sleep(1_000);
  }
}
