/**
 * A node component as data: its name, how it runs on this node (a systemd unit and binary, or a
 * static pod manifest the kubelet runs), its health probe and its version.
 */

export const COMPONENT_NAMES = ['kubelet', 'kube-proxy', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;
export type ComponentName = (typeof COMPONENT_NAMES)[number];

export function isComponentName(name: string): name is ComponentName {
  return (COMPONENT_NAMES as readonly string[]).includes(name);
}

/** The binary install and kubespray layout: a unit, its binary, and the files its command line comes from. */
export interface SystemdRuntime {
  readonly kind: 'systemd';
  readonly unit: string;
  readonly binary: string;
  /** The unit file (FragmentPath). */
  readonly unitFile: string;
  readonly dropIns: readonly string[];
  readonly envFiles: readonly string[];
  /** Files named by --config / --kubeconfig-like flags, backed up with the component. */
  readonly configFiles: readonly string[];
}

/** The kubeadm layout: /etc/kubernetes/manifests/<name>.yaml, run by the kubelet. */
export interface StaticPodRuntime {
  readonly kind: 'static-pod';
  readonly manifest: string;
  /** The container in the manifest that runs the component. */
  readonly container: string;
  readonly image: string;
}

export type ComponentRuntime = SystemdRuntime | StaticPodRuntime;

export interface HealthProbe {
  /** '' when the component serves no healthz in its configuration. */
  readonly url: string;
  /** https: skip certificate verification (a loopback probe of a self-signed serving cert). */
  readonly insecureSkipVerify: boolean;
  /** Where the default came from (version, flag, citation), or "config". */
  readonly source: string;
}

export interface Component {
  readonly name: ComponentName;
  readonly runtime: ComponentRuntime;
  /** e.g. v1.13.12; empty when unknown (binary missing, image without a version tag). */
  readonly version: string;
  readonly health: HealthProbe;
  /** The effective arguments after the program name (from the manifest, or the unit's ExecStart). */
  readonly args: readonly string[];
  /** "discovered" or "config". */
  readonly origin: 'discovered' | 'config';
}

/** What the agent config may say about one component, overriding discovery. */
export interface ComponentConfig {
  readonly name: ComponentName;
  /** Exactly one of unit (with binary) or manifest. */
  readonly unit?: string;
  readonly binary?: string;
  readonly manifest?: string;
  readonly healthUrl?: string;
  readonly insecureSkipVerify?: boolean;
  readonly configFiles?: readonly string[];
}
