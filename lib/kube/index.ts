export { KubeClient, KubeApiError, toKubeError } from './client.ts';
export type { KubePatchType, ServerVersionInfo, ListOptions, PodListOptions, PodList, PodWatchEvent, WatchEventType, WatchHandle } from './client.ts';
