/**
 * The `--control-plane static-pods` variant (pure: text in, text out): kubeadm's layout, where the
 * control-plane node's kubelet runs kube-apiserver, kube-scheduler and kube-controller-manager
 * from /etc/kubernetes/manifests, each a static pod whose image tag is its version (kubeadm 1.10
 * wrote `k8s.gcr.io/kube-apiserver-amd64:v1.10.13`, `command: [kube-apiserver, --flag, ...]`,
 * hostNetwork, the config and PKI as hostPath volumes). The lab kubelet runs the lab program of
 * the image tag (kubelet/run-images.ts). etcd stays a systemd unit on that node.
 */
import { stringify } from 'yaml';
import {
  AGENT_PATHS, AGENT_PORT, APISERVER_PORT, CONTROL_PLANE_PATHS, CONTROLLER_MANAGER_HEALTHZ_PORT, ETCD_CLIENT_PORT, KUBELET_HEALTHZ_PORT, KUBELET_PATHS,
  NODE_CONTAINERD_SOCKET, SCHEDULER_HEALTHZ_PORT, renderAgentConfig, type AgentFields,
} from './node-config.ts';

export type ControlPlaneMode = 'systemd' | 'static-pods';
export const CONTROL_PLANE_MODES: readonly ControlPlaneMode[] = ['systemd', 'static-pods'];

const STATIC = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;
export type StaticComponent = (typeof STATIC)[number];

/** kubeadm's image names: `-amd64` suffixed through 1.11, plain from 1.12 (multi-arch manifests). */
export function controlPlaneImage(component: StaticComponent, version: string): string {
  const minor = Number(/^v1\.(\d+)/.exec(version)?.[1] ?? 0);
  return `k8s.gcr.io/${component}${minor <= 11 ? '-amd64' : ''}:${version}`;
}

function command(component: StaticComponent, address: string): string[] {
  switch (component) {
    case 'kube-apiserver':
      return ['kube-apiserver', '--config', CONTROL_PLANE_PATHS.apiserverConfig];
    case 'kube-scheduler':
      return ['kube-scheduler', `--kubeconfig=${CONTROL_PLANE_PATHS.schedulerKubeconfig}`, '--leader-elect=false', `--address=${address}`, `--port=${SCHEDULER_HEALTHZ_PORT}`, '--v=2'];
    case 'kube-controller-manager':
      return ['kube-controller-manager', `--kubeconfig=${CONTROL_PLANE_PATHS.controllerManagerKubeconfig}`, '--leader-elect=false', `--address=${address}`, `--port=${CONTROLLER_MANAGER_HEALTHZ_PORT}`,
        '--controllers=*,bootstrapsigner,tokencleaner', '--node-monitor-grace-period=40s', '--pod-eviction-timeout=5m0s', '--v=2'];
  }
}

/**
 * The images the control-plane node's containerd carries: every static component at every lab
 * version, under both kubeadm spellings (kip's swap rewrites only the tag, so a manifest written
 * `-amd64` by 1.10 keeps that name past 1.11). Busybox images, a config each (so each is its own
 * image and CRI reports its name); the lab kubelet creates the container with the manifest's image
 * and runs the lab program of its tag in it (kubelet/run-images.ts).
 */
export function controlPlaneImages(versions: readonly string[]): { name: string; cmd: string[]; labels: Record<string, string> }[] {
  return versions.flatMap((version) =>
    STATIC.flatMap((component) => {
      const names = [`k8s.gcr.io/${component}-amd64:${version}`, `k8s.gcr.io/${component}:${version}`];
      // The name in the labels too: the two spellings must be two images, not one with two tags.
      return names.map((name) => ({ name, cmd: ['/bin/sh'], labels: { 'io.kip.lab.image': name, 'io.kip.lab.program': component, 'io.kip.lab.version': version } }));
    }),
  );
}

export function staticManifestPath(component: StaticComponent): string {
  return `${KUBELET_PATHS.manifests}/${component}.yaml`;
}

/** One kubeadm-style manifest. */
export function controlPlaneManifest(component: StaticComponent, version: string, address: string): string {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: component, namespace: 'kube-system', labels: { component, tier: 'control-plane' }, annotations: { 'scheduler.alpha.kubernetes.io/critical-pod': '' } },
    spec: {
      hostNetwork: true,
      containers: [{
        name: component,
        image: controlPlaneImage(component, version),
        command: command(component, address),
        volumeMounts: [{ name: 'k8s', mountPath: '/etc/kubernetes', readOnly: true }],
      }],
      volumes: [{ name: 'k8s', hostPath: { path: '/etc/kubernetes', type: 'DirectoryOrCreate' } }],
    },
  };
  return `# kubeadm-style static pod (kip lab, --control-plane static-pods)\n${stringify(pod)}`;
}

export function controlPlaneManifests(version: string, address: string): { path: string; text: string }[] {
  return STATIC.map((c) => ({ path: staticManifestPath(c), text: controlPlaneManifest(c, version, address) }));
}

/**
 * The control-plane node's kubelet flags (KUBELET_EXTRA_ARGS): upstream behaviour (no skip file:
 * a rewritten manifest must run a new container), kip's hash engine (the control-plane pods are
 * not golden vectors), and the lab programs run from the releases folder.
 */
export function controlPlaneKubeletDefaults(s: { nodeName: string; address: string; syncIntervalMs: number; releasesDir: string; hostRoot: string }): string {
  const args = [
    `--hostname-override=${s.nodeName}`,
    `--healthz-bind-address=${s.address}`,
    `--healthz-port=${KUBELET_HEALTHZ_PORT}`,
    '--node-labels=lab.kip.io/pool=control-plane',
    `--lab-sync-interval=${s.syncIntervalMs}`,
    '--lab-hashes=engine',
    `--lab-run-images=${s.releasesDir}`,
    `--lab-host-root=${s.hostRoot}`,
    '--v=2',
  ];
  for (const a of args) if (!/^[A-Za-z0-9_./:=,@+-]+$/.test(a)) throw new Error(`lab refuses to put ${JSON.stringify(a)} into /etc/default/kubelet`);
  return `# Extra flags for the control-plane kubelet (kip lab, static pods)\nKUBELET_EXTRA_ARGS="${args.join(' ')}"\n`;
}

/** kip-agent on a static-pod control plane: the manifests named, health URLs on this node's address, the kubelet's own healthz. */
export function staticControlPlaneAgentConfigFields(s: { nodeName: string; address: string }): AgentFields {
  const a = s.address;
  return {
    listen: `${a}:${AGENT_PORT}`,
    nodeName: s.nodeName,
    healthzUrl: `http://${a}:${KUBELET_HEALTHZ_PORT}/healthz`,
    kubeletBinary: KUBELET_PATHS.binary,
    kubeletUnit: 'kubelet.service',
    tlsCa: AGENT_PATHS.ca,
    tlsCert: AGENT_PATHS.cert,
    tlsKey: AGENT_PATHS.key,
    manifestsDir: KUBELET_PATHS.manifests,
    criEndpoint: `unix://${NODE_CONTAINERD_SOCKET}`,
    stableMs: 3000,
    components: [
      `kube-apiserver=manifest:${staticManifestPath('kube-apiserver')}@https://${a}:${APISERVER_PORT}/healthz`,
      `kube-controller-manager=manifest:${staticManifestPath('kube-controller-manager')}@http://${a}:${CONTROLLER_MANAGER_HEALTHZ_PORT}/healthz`,
      `kube-scheduler=manifest:${staticManifestPath('kube-scheduler')}@http://${a}:${SCHEDULER_HEALTHZ_PORT}/healthz`,
    ],
    etcdEndpoints: [`http://${a}:${ETCD_CLIENT_PORT}`],
  };
}

export function staticControlPlaneAgentConfig(s: { nodeName: string; address: string }): string {
  return renderAgentConfig(staticControlPlaneAgentConfigFields(s));
}
