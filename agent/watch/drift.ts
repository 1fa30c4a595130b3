/**
 * Hash drift (issue 11 item 5). While the skip file is present the patched kubelet does not compare
 * hashes, so a change to a running old container's spec (an image patched in place on a bare pod:
 * the image is one of the few mutable pod spec fields, kubernetes pkg/apis/core/validation
 * ValidatePodUpdate) is silently not applied. Such a container's hash label is then the hash of
 * no version from the skip file's to the running kubelet's: that is drift. Once the skip file goes
 * and the kubelet restarts, the kubelet restarts it to apply the change.
 *
 * Which field differs cannot be read off a hash; it is found where it can be: the runtime knows
 * the image the container runs, so the spec with that image is hashed again; and a field added
 * to the spec since (a non-zero value) is found by hashing the spec with that field at its zero
 * value. A match names the field. Pure.
 */
import { hashEngine, hashLabel, decodeAt, type ContainerRef } from '../../lib/knowledge/hash/index.ts';
import { zeroValue } from '../../lib/knowledge/hash/decode.ts';
import type { GoValue } from '../../lib/knowledge/hash/types.ts';
import type { NodeEvent } from './event-log.ts';

export interface DriftExplanation {
  /** Spec fields (Go names lower-cased as in JSON: image, env, ...) whose change explains the label. */
  readonly fields: readonly string[];
  readonly detail: string;
}

const isDigestOrId = (image: string): boolean => /^sha256:[0-9a-f]{64}$/.test(image) || /^[0-9a-f]{64}$/.test(image);

/**
 * Why `label` is not the hash of `ref` for any of `versions`: the fields whose runtime value or
 * zero value gives back the label at one of them. `runtimeImage`: the image the runtime reports for
 * the container (ignored when it is a digest or id, which the spec never names the same way).
 */
export function explainDrift(ref: ContainerRef, label: string, runtimeImage: string, versions: readonly string[]): DriftExplanation {
  const specImage = ref.node.kind === 'object' ? ref.node.entries.find(([k]) => k === 'image')?.[1] : undefined;
  const specImageText = specImage?.kind === 'string' ? specImage.value : '';
  for (const v of versions) {
    const engine = hashEngine(v);
    let decoded: GoValue[];
    try {
      decoded = decodeAt(engine, ref);
    } catch {
      continue;
    }
    const fields = engine.root.fields;
    const imageIndex = fields.findIndex((f) => f.name === 'Image');
    if (imageIndex >= 0 && runtimeImage !== '' && !isDigestOrId(runtimeImage) && runtimeImage !== specImageText) {
      const withImage = [...decoded];
      withImage[imageIndex] = runtimeImage;
      if (hashLabel(engine.hashDecoded(withImage)) === label) {
        return { fields: ['image'], detail: `the spec names image ${specImageText}, the container runs ${runtimeImage} (label ${label} is v${engine.kubeVersion}'s hash with that image)` };
      }
    }
    const found: string[] = [];
    fields.forEach((f, i) => {
      if (f.name === 'Name') return;
      const zeroed = [...decoded];
      zeroed[i] = zeroValue(f.type);
      if (JSON.stringify(zeroed[i], replacer) === JSON.stringify(decoded[i], replacer)) return;
      if (hashLabel(engine.hashDecoded(zeroed)) === label) found.push(f.json || f.name);
    });
    if (found.length > 0) return { fields: found, detail: `label ${label} is v${engine.kubeVersion}'s hash of the spec without ${found.join(', ')}: set since the container started` };
  }
  return { fields: [], detail: `label ${label} is the hash of no version from ${versions[0] ?? '?'} to ${versions[versions.length - 1] ?? '?'}; the changed field could not be found (compare the pod spec with what it was when the container started)` };
}

function replacer(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Map) return [...v.entries()];
  return v;
}

/**
 * HASH_DRIFT events for drifting containers not reported before (by container id and label);
 * `seen` is updated and forgets containers no longer drifting, so a drift that comes back is
 * reported again.
 */
export function driftEvents(
  seen: Map<string, string>,
  items: readonly { readonly containerId: string; readonly pod: string; readonly podUid: string; readonly containerName: string; readonly hashLabel: string; readonly drift: boolean; readonly driftFields: readonly string[]; readonly driftDetail: string }[],
  at: number,
): NodeEvent[] {
  const out: NodeEvent[] = [];
  const now = new Set<string>();
  for (const c of items) {
    if (!c.drift) continue;
    now.add(c.containerId);
    if (seen.get(c.containerId) === c.hashLabel) continue;
    seen.set(c.containerId, c.hashLabel);
    const [ns, name] = c.pod.includes('/') ? [c.pod.slice(0, c.pod.indexOf('/')), c.pod.slice(c.pod.indexOf('/') + 1)] : ['', c.pod];
    out.push({ kind: 'HASH_DRIFT', observedAtMs: at, podUid: c.podUid, podNamespace: ns, podName: name, containerName: c.containerName, afterId: c.containerId, reason: c.driftFields.join(','), detail: c.driftDetail });
  }
  for (const id of [...seen.keys()]) if (!now.has(id)) seen.delete(id);
  return out;
}
