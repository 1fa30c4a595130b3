/**
 * The workload a pod belongs to, so `kip status` can group the containers that still carry an old
 * hash by what the operator rolls: the pod's controller owner reference (metadata.ownerReferences
 * with controller: true). A ReplicaSet made by a Deployment is named `<deployment>-<hash>` and its
 * pods carry that hash in the label pod-template-hash (kubernetes pkg/controller/deployment/sync.go
 * getNewReplicaSet: `d.Name + "-" + podTemplateSpecHash`, label key
 * DefaultDeploymentUniqueLabelKey "pod-template-hash", apps/v1 types.go; the same scheme since
 * v1.8), so the Deployment is read off the pod without listing ReplicaSets. A mirror pod (static
 * pod) belongs to its Node (the kubelet sets a Node owner reference from v1.17 and the
 * kubernetes.io/config.mirror annotation always, pod-view.ts).
 */
import { objectField, stringField, type JsonNode } from '../../lib/knowledge/hash/index.ts';
import { CONFIG_MIRROR_ANNOTATION } from './pod-view.ts';

export interface PodOwner {
  /** Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, ..., Node (static pod) or Pod (bare). */
  readonly kind: string;
  /** The owner's name; the pod's own name for a bare pod. */
  readonly name: string;
}

export const POD_TEMPLATE_HASH_LABEL = 'pod-template-hash';

export function podOwner(pod: JsonNode): PodOwner {
  const meta = objectField(pod, 'metadata');
  const name = stringField(meta, 'name') ?? '';
  const refs = objectField(meta, 'ownerReferences');
  const isController = (r: JsonNode): boolean => {
    const c = objectField(r, 'controller');
    return c?.kind === 'bool' && c.value;
  };
  const controller = refs?.kind === 'array' ? refs.items.find(isController) : undefined;
  if (stringField(objectField(meta, 'annotations'), CONFIG_MIRROR_ANNOTATION) !== undefined) {
    return { kind: 'Node', name: controller && stringField(controller, 'kind') === 'Node' ? (stringField(controller, 'name') ?? '') : stringField(objectField(pod, 'spec'), 'nodeName') ?? '' };
  }
  if (!controller) return { kind: 'Pod', name };
  const kind = stringField(controller, 'kind') ?? '';
  const owner = stringField(controller, 'name') ?? '';
  const hash = stringField(objectField(meta, 'labels'), POD_TEMPLATE_HASH_LABEL);
  if (kind === 'ReplicaSet' && hash && owner.endsWith(`-${hash}`) && owner.length > hash.length + 1) return { kind: 'Deployment', name: owner.slice(0, -hash.length - 1) };
  return { kind, name: owner };
}
