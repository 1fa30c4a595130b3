/**
 * What a run upgrades, as the steps see it: one ComponentSpec per run, persisted in the run's
 * journal (so recovery after kill -9 needs no discovery, which cannot see a held static pod).
 * The steps read the unit, binary, manifest, health probe and files from here, never from the
 * agent config, so every component goes through the same journaled steps (issue 9).
 *
 * Two kinds:
 * - `systemd`: a unit and its binary (the kubelet, and binary/kubespray installs of the control
 *   plane and kube-proxy). Swap = the binary swap the kubelet has always had.
 * - `static-pod`: a manifest the kubelet runs (kubeadm). Swap = an atomic rewrite of the
 *   manifest's image tag and flags; `unit` is the kubelet's unit (its journal explains a pod
 *   that does not come up); stop/start are the kubelet's business (it replaces the container
 *   when the manifest changes).
 */
import type { Component, ComponentName } from '../components/types.ts';

/** Which flag table migrates the component's flags. */
export type FlagTable = 'kubelet' | 'control';

interface SpecBase {
  /** "kubelet", "kube-apiserver", ... */
  readonly name: ComponentName;
  /** systemd: the component's unit; static pod: the kubelet's unit (for its journal). */
  readonly unit: string;
  /** Its health endpoint: 200 with body "ok" when healthy ('' when it has none). */
  readonly healthzUrl: string;
  /** https with a self-signed loopback serving certificate: skip verification. */
  readonly insecureSkipVerify: boolean;
  /** More files backed up and restored with it. */
  readonly backupPaths: readonly string[];
  /**
   * The skip file the patched kubelet reads (node path); undefined for a component that has
   * none. Only the kubelet decides container restarts by hash, so only it needs one.
   */
  readonly skipFile: string | undefined;
  /** Flag migration applies (with the table `flagTable`). */
  readonly migratesFlags: boolean;
  readonly flagTable: FlagTable;
}

export interface SystemdComponentSpec extends SpecBase {
  readonly kind: 'systemd';
  /** The binary the unit runs (node path). */
  readonly binary: string;
}

export interface StaticPodComponentSpec extends SpecBase {
  readonly kind: 'static-pod';
  /** Always '' (the image is the "binary"); kept so code reading `binary` needs no cast. */
  readonly binary: '';
  /** Where the manifest lives when the component is not held (node path). */
  readonly manifest: string;
  /** Where Hold moved it (node path): the run edits the manifest wherever it is now. */
  readonly heldManifest: string;
  /** The container in the manifest that runs the component. */
  readonly container: string;
  /** metadata.name of the static pod; the kubelet names the pod `<podName>-<nodeName>`. */
  readonly podName: string;
  /** The kubelet's node name. */
  readonly nodeName: string;
}

export type ComponentSpec = SystemdComponentSpec | StaticPodComponentSpec;

/** The kubelet's fields of the agent config (a structural type: config.ts depends on this module's types). */
export interface KubeletComponentConfig {
  readonly kubeletUnit: string;
  readonly kubeletBinary: string;
  readonly healthzUrl: string;
  readonly backupPaths: readonly string[];
  readonly skipFile: string | undefined;
}

export function kubeletComponent(config: KubeletComponentConfig): SystemdComponentSpec {
  return {
    kind: 'systemd',
    name: 'kubelet',
    unit: config.kubeletUnit,
    binary: config.kubeletBinary,
    healthzUrl: config.healthzUrl,
    insecureSkipVerify: false,
    backupPaths: config.backupPaths,
    skipFile: config.skipFile,
    migratesFlags: true,
    flagTable: 'kubelet',
  };
}

/** The drop-in a control component's migrated flags are written to (absent before the run, so rollback removes it). */
export const FLAGS_DROP_IN = '95-kip-flags.conf';

export function flagsDropIn(unit: string): string {
  return `/etc/systemd/system/${unit}.d/${FLAGS_DROP_IN}`;
}

/**
 * The spec of a discovered (or configured) component other than the kubelet. `heldManifest` is
 * where Hold keeps a held static pod's manifest (HoldStore's rule, passed in by the caller).
 */
export function componentSpecFrom(c: Component, opts: { kubeletUnit: string; nodeName: string; heldManifest: string; podName: string }): ComponentSpec {
  const base = {
    name: c.name,
    healthzUrl: c.health.url,
    insecureSkipVerify: c.health.insecureSkipVerify,
    skipFile: undefined,
    migratesFlags: true,
    flagTable: 'control' as const,
  };
  if (c.runtime.kind === 'systemd') {
    const rt = c.runtime;
    return { ...base, kind: 'systemd', unit: rt.unit, binary: rt.binary, backupPaths: [...rt.configFiles, flagsDropIn(rt.unit)] };
  }
  return {
    ...base,
    kind: 'static-pod',
    unit: opts.kubeletUnit,
    binary: '',
    backupPaths: [],
    manifest: c.runtime.manifest,
    heldManifest: opts.heldManifest,
    container: c.runtime.container,
    podName: opts.podName,
    nodeName: opts.nodeName,
  };
}

/** Checks a spec read back from a journal (a hand-edited or older file): the fields the steps need. */
export function isComponentSpec(v: unknown): v is ComponentSpec {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  if (typeof o.name !== 'string' || typeof o.unit !== 'string' || typeof o.healthzUrl !== 'string' || !Array.isArray(o.backupPaths)) return false;
  if (o.kind === 'systemd') return typeof o.binary === 'string';
  if (o.kind === 'static-pod') return typeof o.manifest === 'string' && typeof o.heldManifest === 'string' && typeof o.container === 'string' && typeof o.podName === 'string';
  return false;
}
