export { KubeClient, KubeApiError, toKubeError } from './client.ts';
export type { KubePatchType, ServerVersionInfo, ListOptions, PodListOptions, PodList, PodWatchEvent, WatchEventType, WatchHandle } from './client.ts';
export { writeKubeconfig, kubeconfigYaml, type KubeconfigSpec } from './kubeconfig.ts';
