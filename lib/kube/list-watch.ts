/** The ListWatch sources of lib/kube/informer.ts over the typed client: all Nodes, all Pods. */
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { KubeClient } from './client.ts';
import type { ListWatch } from './informer.ts';

export function nodesListWatch(kube: KubeClient): ListWatch<V1Node> {
  return {
    list: () => kube.listNodesAt(),
    watch: (resourceVersion, onEvent) => kube.watchNodes({ resourceVersion }, onEvent),
  };
}

export function podsListWatch(kube: KubeClient): ListWatch<V1Pod> {
  return {
    list: () => kube.listPods(),
    watch: (resourceVersion, onEvent) => kube.watchPods({ resourceVersion }, (e) => onEvent(e.type, e.object)),
  };
}
