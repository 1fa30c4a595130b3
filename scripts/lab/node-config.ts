/**
 * The files the lab writes into its nodes (pure: text in, text out). A worker looks like a
 * kubeadm-provisioned v1.10 node: /usr/bin/kubelet, /lib/systemd/system/kubelet.service, the
 * 10-kubeadm.conf drop-in with the flags of that era (--allow-privileged=true, --cadvisor-port=0,
 * both removed later with a safe migration, see agent/kubelet/knowledge.ts), /etc/default/kubelet
 * with KUBELET_EXTRA_ARGS, and kip-agent as a unit. The control-plane node runs etcd, the lab
 * apiserver (and scheduler / controller-manager when present) as units with versioned launchers.
 */
import { programCommand, sourceOf } from './programs.ts';
import { KipError } from '../../lib/errors.ts';
import { PAUSE_IMAGE } from '../containerd/oci-image.ts';
import { NODE_DOCKER_ENDPOINT, type NodeRuntime } from './docker-workers.ts';

/** The skip file the patched kubelet reads (the operator's patch; agent config default). */
export const SKIP_FILE = '/tmp/cache.version.save';
export const KUBELET_HEALTHZ_PORT = 10248;
export const APISERVER_PORT = 6443;
export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;
export const AGENT_PORT = 7443;
/** Where the node's containerd socket is bind-mounted (the host's private containerd). */
export const NODE_CONTAINERD_SOCKET = '/run/containerd/containerd.sock';

export const KUBELET_PATHS = {
  binary: '/usr/bin/kubelet',
  unit: '/lib/systemd/system/kubelet.service',
  dropIn: '/etc/systemd/system/kubelet.service.d/10-kubeadm.conf',
  defaults: '/etc/default/kubelet',
  kubeconfig: '/etc/kubernetes/kubelet.conf',
  ca: '/etc/kubernetes/pki/ca.crt',
  clientCert: '/var/lib/kubelet/pki/kubelet-client.crt',
  clientKey: '/var/lib/kubelet/pki/kubelet-client.key',
  manifests: '/etc/kubernetes/manifests',
} as const;

export const AGENT_PATHS = {
  unit: '/etc/systemd/system/kip-agent.service',
  config: '/etc/kip/agent.yaml',
  ca: '/etc/kip/pki/ca.crt',
  cert: '/etc/kip/pki/agent.crt',
  key: '/etc/kip/pki/agent.key',
} as const;

export const CONTROL_PLANE_PATHS = {
  etcdUnit: '/etc/systemd/system/etcd.service',
  etcdData: '/var/lib/etcd',
  apiserverBinary: '/usr/bin/kube-apiserver',
  apiserverUnit: '/etc/systemd/system/kube-apiserver.service',
  apiserverConfig: '/etc/kubernetes/apiserver.json',
  ca: '/etc/kubernetes/pki/ca.crt',
  serverCert: '/etc/kubernetes/pki/apiserver.crt',
  serverKey: '/etc/kubernetes/pki/apiserver.key',
  schedulerBinary: '/usr/bin/kube-scheduler',
  schedulerUnit: '/etc/systemd/system/kube-scheduler.service',
  schedulerKubeconfig: '/etc/kubernetes/scheduler.conf',
  controllerManagerBinary: '/usr/bin/kube-controller-manager',
  controllerManagerUnit: '/etc/systemd/system/kube-controller-manager.service',
  controllerManagerKubeconfig: '/etc/kubernetes/controller-manager.conf',
  clientCert: '/etc/kubernetes/pki/control-plane-client.crt',
  clientKey: '/etc/kubernetes/pki/control-plane-client.key',
} as const;

/** Every unit runs node on a lab program's bundle (or its source through tsx) with the repo and node binary bind-mounted at their host paths. */
export interface Runtime {
  readonly nodeBinary: string;
  readonly repoDir: string;
  /** The lab's program bundles (scripts/lab/programs.ts); undefined: the sources through tsx. */
  readonly programsDir?: string | undefined;
}

/** kip-agent's command: its bundle when the lab has bundles, else bin/kip-agent.mjs (tsx). */
function agentCommand(rt: Runtime): string {
  return rt.programsDir ? programCommand(rt.nodeBinary, rt.repoDir, sourceOf('kip-agent'), rt.programsDir) : `${quoteForShell(rt.nodeBinary)} ${quoteForShell(rt.repoDir)}/bin/kip-agent.mjs`;
}

function quoteForShell(s: string): string {
  if (!/^[A-Za-z0-9_./:=,@+-]+$/.test(s)) throw new KipError('LAB_BAD_ARGUMENT', `lab refuses to put ${JSON.stringify(s)} into a unit or launcher`, { value: s });
  return s;
}

export function simpleUnit(description: string, execStart: string, after: readonly string[] = []): string {
  const afterLine = after.length > 0 ? `After=${after.join(' ')}\nWants=${after.join(' ')}\n` : '';
  return `[Unit]\nDescription=${description}\n${afterLine}\n[Service]\nExecStart=${execStart}\nRestart=always\nRestartSec=2\n\n[Install]\nWantedBy=multi-user.target\n`;
}

export function etcdUnit(address: string, name = 'kip-lab'): string {
  const client = `http://${address}:${ETCD_CLIENT_PORT}`;
  const peer = `http://${address}:${ETCD_PEER_PORT}`;
  const args = [
    '--name', name, '--data-dir', CONTROL_PLANE_PATHS.etcdData,
    '--listen-client-urls', client, '--advertise-client-urls', client,
    '--listen-peer-urls', peer, '--initial-advertise-peer-urls', peer,
    '--initial-cluster', `${name}=${peer}`, '--initial-cluster-state', 'new',
    '--logger', 'zap', '--log-level', 'warn', '--log-outputs', 'stderr',
  ].map(quoteForShell);
  return simpleUnit('etcd (kip lab)', `/usr/bin/etcd ${args.join(' ')}`);
}

export interface ApiServerSettings {
  readonly address: string;
  readonly gitVersion: string;
  readonly defaultTolerationSeconds: boolean;
}

/** The JSON config scripts/lab/apiserver/main.ts reads. */
export function apiserverConfig(s: ApiServerSettings): string {
  return `${JSON.stringify({
    gitVersion: s.gitVersion,
    etcd: `http://${s.address}:${ETCD_CLIENT_PORT}`,
    cert: CONTROL_PLANE_PATHS.serverCert,
    key: CONTROL_PLANE_PATHS.serverKey,
    clientCa: CONTROL_PLANE_PATHS.ca,
    host: s.address,
    port: APISERVER_PORT,
    defaultTolerationSeconds: s.defaultTolerationSeconds,
  }, null, 2)}\n`;
}

/** The unit names its config file (kip-agent backs up what --config names, with the binary). */
export function apiserverUnit(): string {
  return simpleUnit('kube-apiserver (kip lab)', `${CONTROL_PLANE_PATHS.apiserverBinary} --config ${CONTROL_PLANE_PATHS.apiserverConfig}`, ['etcd.service']);
}

export interface KubeletSettings {
  readonly nodeName: string;
  readonly address: string;
  readonly nodeLabels: Readonly<Record<string, string>>;
  readonly syncIntervalMs: number;
  /** Where the lab kubelet takes container hashes from (lab flag --lab-hashes). */
  readonly hashes?: 'engine' | 'vectors';
  /** The node's containerd has the lab's CNI network (scripts/lab/cni.ts): pods get their own network namespace. */
  readonly podNetwork?: boolean;
}

/** kubeadm's v1.10 unit: ExecStart=/usr/bin/kubelet; the drop-in carries the flags. No PrivateTmp. */
export const KUBELET_UNIT = `[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/home/

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=2

[Install]
WantedBy=multi-user.target
`;

/** The kubeadm 1.10 drop-in shape (kubeadm's 10-kubeadm.conf of that release), with the lab's paths. */
/**
 * kubeadm's drop-in as a cluster of `version` has it: --allow-privileged until the kubelet dropped
 * it (1.15, #77820), --cadvisor-port=0 until 1.12 (#65707), so a lab brought up at a later version
 * starts, and one at v1.10 carries flags kip's migration must remove on the way up.
 */
export function kubeletDropIn(version = 'v1.10.13', runtime: NodeRuntime = 'containerd'): string {
  const minor = Number(/^v?1\.(\d+)/.exec(version)?.[1] ?? 10);
  const systemPods = `--pod-manifest-path=${KUBELET_PATHS.manifests}${minor < 15 ? ' --allow-privileged=true' : ''}`;
  const cadvisor = minor < 12 ? 'Environment="KUBELET_CADVISOR_ARGS=--cadvisor-port=0"\n' : '';
  return `# Note: this drop-in only works with kubeadm and kubelet v1.10+
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--kubeconfig=${KUBELET_PATHS.kubeconfig}"
Environment="KUBELET_SYSTEM_PODS_ARGS=${systemPods}"
${cadvisor}Environment="KUBELET_CRI_ARGS=${kubeletRuntimeArgs(runtime)}"
# the user's overrides; KUBELET_EXTRA_ARGS should be sourced from this file instead.
EnvironmentFile=-${KUBELET_PATHS.defaults}
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_SYSTEM_PODS_ARGS ${minor < 12 ? '$KUBELET_CADVISOR_ARGS ' : ''}$KUBELET_CRI_ARGS $KUBELET_EXTRA_ARGS
`;
}

/**
 * The runtime flags of the drop-in. Docker: dockershim's, as a kubeadm 1.10 node had them
 * (--container-runtime=docker is the kubelet's default; the endpoint and the infra image are
 * spelled out so kip-agent's detection reads them from the command line), with the lab's local
 * pause image (no registry). containerd: CRI over the bind-mounted socket.
 */
export function kubeletRuntimeArgs(runtime: NodeRuntime): string {
  return runtime === 'docker'
    ? `--container-runtime=docker --docker-endpoint=${NODE_DOCKER_ENDPOINT} --pod-infra-container-image=${PAUSE_IMAGE}`
    : `--container-runtime=remote --container-runtime-endpoint=unix://${NODE_CONTAINERD_SOCKET}`;
}

export function kubeletDefaults(s: KubeletSettings): string {
  const labels = Object.entries(s.nodeLabels).map(([k, v]) => `${k}=${v}`).join(',');
  const args = [
    `--hostname-override=${s.nodeName}`,
    `--healthz-bind-address=${s.address}`,
    `--healthz-port=${KUBELET_HEALTHZ_PORT}`,
    // The Node's InternalIP: kip finds each agent at it (coordinator/fleet/inventory.ts), as on a real cluster.
    `--node-ip=${s.address}`,
    ...(labels ? [`--node-labels=${labels}`] : []),
    `--lab-sync-interval=${s.syncIntervalMs}`,
    ...(s.hashes === 'vectors' ? ['--lab-hashes=vectors'] : []),
    ...(s.podNetwork ? ['--lab-pod-network=true'] : []),
    '--v=2',
  ].map(quoteForShell);
  return `# Extra flags for the kubelet (kip lab)\nKUBELET_EXTRA_ARGS="${args.join(' ')}"\n`;
}

export interface AgentSettings {
  readonly nodeName: string;
  readonly address: string;
  /** docker: the agent detects the runtime from the kubelet's flags (criEndpoint auto). */
  readonly runtime?: NodeRuntime;
}

/**
 * An agent.yaml as fields (what `kip-agent --help` lists), so the lab can write it itself or hand
 * it to the Ansible role (`kip-lab up --agents role`, scripts/lab/agents-role.ts) unchanged. The
 * TLS paths are the role's too (/etc/kip/pki/...).
 */
export type AgentFields = Readonly<Record<string, string | number | readonly string[]>>;

/** agent.yaml text from fields, in their order; lists as YAML sequences. */
export function renderAgentConfig(fields: AgentFields): string {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (typeof value === 'string' || typeof value === 'number') lines.push(`${key}: ${value}`);
    else lines.push(`${key}:`, ...value.map((v) => `  - ${v}`));
  }
  return `${lines.join('\n')}\n`;
}

export function agentConfigFields(s: AgentSettings): AgentFields {
  return {
    listen: `${s.address}:${AGENT_PORT}`,
    nodeName: s.nodeName,
    healthzUrl: `http://${s.address}:${KUBELET_HEALTHZ_PORT}/healthz`,
    skipFile: SKIP_FILE,
    kubeletBinary: KUBELET_PATHS.binary,
    kubeletUnit: 'kubelet.service',
    tlsCa: AGENT_PATHS.ca,
    tlsCert: AGENT_PATHS.cert,
    tlsKey: AGENT_PATHS.key,
    // The kubelet's own kubeconfig and the node's CRI socket: hash self-check, restart prediction,
    // and removal of the skip file once every container carries the running kubelet's hash.
    kubeconfig: KUBELET_PATHS.kubeconfig,
    // Docker nodes: auto, detected from the kubelet's --container-runtime/--docker-endpoint, as on a real dockershim node.
    criEndpoint: s.runtime === 'docker' ? 'auto' : `unix://${NODE_CONTAINERD_SOCKET}`,
    consistencyIntervalMs: 10000,
    // The lab kubelet is up in about two seconds; a shorter stability window keeps the demo brisk.
    stableMs: 3000,
  };
}

export function agentConfig(s: AgentSettings): string {
  return renderAgentConfig(agentConfigFields(s));
}

export function agentUnit(rt: Runtime): string {
  return simpleUnit('kip-agent (kip lab)', `${agentCommand(rt)} --config ${AGENT_PATHS.config}`, ['kubelet.service']);
}

/** Node addresses: control plane PREFIX.10, workers PREFIX.11, .12, ... (all on loopback). */
export function nodeAddresses(prefix: string, workers: number): { controlPlane: string; workers: string[] } {
  if (!/^127\.\d{1,3}\.\d{1,3}$/.test(prefix)) throw new KipError('LAB_BAD_ARGUMENT', `address prefix must look like 127.X.Y, got ${prefix}`, { prefix });
  if (!Number.isInteger(workers) || workers < 1 || workers > 40) throw new KipError('LAB_BAD_ARGUMENT', `workers must be 1..40, got ${workers}`, { workers });
  return { controlPlane: `${prefix}.10`, workers: Array.from({ length: workers }, (_, i) => `${prefix}.${11 + i}`) };
}

/** Insecure healthz ports of 1.10-1.17 (pkg/master/ports: InsecureSchedulerPort, InsecureKubeControllerManagerPort). */
export const SCHEDULER_HEALTHZ_PORT = 10251;
export const CONTROLLER_MANAGER_HEALTHZ_PORT = 10252;
/** kube-proxy's --healthz-bind-address port (ports.ProxyHealthzPort). */
export const KUBE_PROXY_HEALTHZ_PORT = 10256;

/** kube-scheduler / kube-controller-manager units: kubeadm-like flags on the versioned launcher; --address keeps each lab's healthz on its own node address. */
export function schedulerUnit(address: string): string {
  return simpleUnit('kube-scheduler (kip lab)', `${CONTROL_PLANE_PATHS.schedulerBinary} --kubeconfig=${CONTROL_PLANE_PATHS.schedulerKubeconfig} --leader-elect=false --address=${quoteForShell(address)} --port=${SCHEDULER_HEALTHZ_PORT} --v=2`, ['kube-apiserver.service']);
}

export function controllerManagerUnit(address: string): string {
  return simpleUnit(
    'kube-controller-manager (kip lab)',
    `${CONTROL_PLANE_PATHS.controllerManagerBinary} --kubeconfig=${CONTROL_PLANE_PATHS.controllerManagerKubeconfig} --leader-elect=false --address=${quoteForShell(address)} --port=${CONTROLLER_MANAGER_HEALTHZ_PORT} --controllers=*,bootstrapsigner,tokencleaner --node-monitor-grace-period=40s --pod-eviction-timeout=5m0s --v=2`,
    ['kube-apiserver.service'],
  );
}

export const KUBE_PROXY_PATHS = {
  binary: '/usr/bin/kube-proxy',
  unit: '/lib/systemd/system/kube-proxy.service',
} as const;

/** kube-proxy as a unit on a worker (binary installs, kubespray); the lab one serves healthz on the node's address. */
export function kubeProxyUnit(s: { nodeName: string; address: string }): string {
  return simpleUnit(
    'kube-proxy (kip lab)',
    `${KUBE_PROXY_PATHS.binary} --kubeconfig=${KUBELET_PATHS.kubeconfig} --hostname-override=${quoteForShell(s.nodeName)} --healthz-bind-address=${quoteForShell(s.address)}:${KUBE_PROXY_HEALTHZ_PORT} --v=2`,
  );
}

/**
 * kip-agent on the control-plane node: no kubelet here (systemd layout), the three control-plane
 * units named explicitly with health URLs on this node's address (the agent's defaults probe
 * 127.0.0.1, where another lab may listen), and lab etcd for EtcdSnapshot (plain http: the lab's
 * etcd has no TLS, so no client certificates).
 */
export function controlPlaneAgentConfigFields(s: AgentSettings): AgentFields {
  const a = quoteForShell(s.address);
  return {
    listen: `${a}:${AGENT_PORT}`,
    nodeName: s.nodeName,
    tlsCa: AGENT_PATHS.ca,
    tlsCert: AGENT_PATHS.cert,
    tlsKey: AGENT_PATHS.key,
    stableMs: 3000,
    components: [
      `kube-apiserver=unit:kube-apiserver.service:${CONTROL_PLANE_PATHS.apiserverBinary}@https://${a}:${APISERVER_PORT}/healthz`,
      `kube-controller-manager=unit:kube-controller-manager.service:${CONTROL_PLANE_PATHS.controllerManagerBinary}@http://${a}:${CONTROLLER_MANAGER_HEALTHZ_PORT}/healthz`,
      `kube-scheduler=unit:kube-scheduler.service:${CONTROL_PLANE_PATHS.schedulerBinary}@http://${a}:${SCHEDULER_HEALTHZ_PORT}/healthz`,
    ],
    etcdEndpoints: [`http://${a}:${ETCD_CLIENT_PORT}`],
  };
}

export function controlPlaneAgentConfig(s: AgentSettings): string {
  return renderAgentConfig(controlPlaneAgentConfigFields(s));
}

export function controlPlaneAgentUnit(rt: Runtime): string {
  return simpleUnit('kip-agent (kip lab)', `${agentCommand(rt)} --config ${AGENT_PATHS.config}`, ['kube-apiserver.service']);
}
