/**
 * Node components as data (kubelet, kube-proxy, kube-apiserver, kube-controller-manager,
 * kube-scheduler): how each runs here (systemd unit or static pod), its health probe and version;
 * discovery; static pod swap primitives; Hold/Release; verified etcd snapshots.
 */
export * from './types.ts';
export * from './errors.ts';
export { defaultHealthProbe, flagValue, type HealthInput } from './health.ts';
export { imageVersion, parseVersionOutput, withImageTag } from './version.ts';
export { parseStaticPodManifest, rewriteStaticPodManifest, type ManifestEdit, type ParsedManifest } from './manifest.ts';
export { backupManifest, editManifest, restoreManifest, waitForStaticPodContainer, type ManifestBackup, type WaitContainerOptions } from './static-pod.ts';
export { binaryVersion, configFilesOf, discoverComponents, type DiscoveryDeps } from './discover.ts';
export { HOLD_DROP_IN, HOLD_DROP_IN_CONTENT, HoldStore, type HoldDeps, type HoldPhase, type HoldRecord, type HoldResult, type ReleaseResult } from './hold.ts';
export { EtcdSnapshots, type EtcdSnapshotDeps, type EtcdSnapshotInfo, type EtcdTarget } from './etcd-snapshot.ts';
export { parseComponentSpec } from './config-spec.ts';
export { probeHealth, type HealthResult } from './health-probe.ts';
export { componentFromHelp } from './identity.ts';
export { planManifestStep, type ManifestStep, type ManifestStepInput } from './manifest-migrate.ts';
