/**
 * Static pods: the kubelet reads pod manifests from --pod-manifest-path, runs them itself and
 * shows each in the API as a mirror pod (pkg/kubelet/config/common.go applyDefaults, 1.10-1.17):
 * the pod is named <name>-<node name>, namespace "default" when empty, its UID a hash of the
 * node, the file and the pod (the lab's: md5 of "host:<node>file:<path>" and the file's bytes,
 * not Go's DeepHashObject, so the value differs from a real kubelet's but is just as stable),
 * and annotations kubernetes.io/config.hash = that UID, config.source = file, config.seen. The
 * containers carry the static pod's UID in io.kubernetes.pod.uid; the mirror pod gets its own
 * UID from the apiserver and kubernetes.io/config.mirror = the hash (pkg/kubelet/pod/mirror_client.go).
 * Manifests are decoded and then defaulted like API pods (tryDecodeSinglePod converts through
 * the scheme, which applies the v1 defaults), and a literal [] in a manifest stays a non-nil list.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseJson } from '../../../lib/knowledge/hash/index.ts';
import { defaultPodSpec } from '../apiserver/admission.ts';
import type { JsonObject } from '../apiserver/json.ts';
import type { SyncPod } from './pod-sync.ts';

export const ConfigAnnotation = {
  hash: 'kubernetes.io/config.hash',
  mirror: 'kubernetes.io/config.mirror',
  source: 'kubernetes.io/config.source',
  seen: 'kubernetes.io/config.seen',
} as const;

export interface StaticPod extends SyncPod {
  /** The mirror pod to create in the API. */
  readonly mirror: Record<string, unknown>;
}

export async function readStaticPods(dir: string, nodeName: string, seenIso: string): Promise<StaticPod[]> {
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => /\.(ya?ml|json)$/.test(f) && !f.startsWith('.')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: StaticPod[] = [];
  for (const f of files) {
    const path = join(dir, f);
    const text = await readFile(path, 'utf8');
    const pod = parseYaml(text) as JsonObject;
    const meta = (pod.metadata ?? {}) as JsonObject;
    const spec = (pod.spec ?? {}) as JsonObject;
    defaultPodSpec(spec);
    const name = `${String(meta.name ?? '')}-${nodeName}`;
    const namespace = typeof meta.namespace === 'string' && meta.namespace !== '' ? meta.namespace : 'default';
    const uid = createHash('md5').update(`host:${nodeName}file:${path}`).update(text).digest('hex');
    spec.nodeName = nodeName;
    const annotations = { ...((meta.annotations ?? {}) as Record<string, string>), [ConfigAnnotation.hash]: uid, [ConfigAnnotation.source]: 'file', [ConfigAnnotation.seen]: seenIso };
    const full = { apiVersion: 'v1', kind: 'Pod', metadata: { ...meta, name, namespace, uid, annotations }, spec };
    out.push({
      name, namespace, uid, source: 'file', hostNetwork: spec.hostNetwork === true,
      node: parseJson(JSON.stringify(full), path),
      mirror: { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace, labels: meta.labels ?? {}, annotations: { ...annotations, [ConfigAnnotation.mirror]: uid } }, spec },
    });
  }
  return out;
}
