import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CRI_PROTO_FILES, criServices } from '../../agent/runtime/cri-proto.ts';

describe('proto/cri', () => {
  it('v1 and v1alpha2 differ only in their package (and the comments that name it)', () => {
    const strip = (text: string, pkg: string) =>
      text
        .split('\n')
        .filter((l) => !l.startsWith('//'))
        .join('\n')
        .replace(`package runtime.${pkg};`, 'package X;');
    expect(strip(readFileSync(CRI_PROTO_FILES.v1alpha2, 'utf8'), 'v1alpha2')).toBe(strip(readFileSync(CRI_PROTO_FILES.v1, 'utf8'), 'v1'));
  });

  it('loads every method kip calls, under the right package path', () => {
    const s = criServices();
    for (const v of ['v1', 'v1alpha2'] as const) {
      const rt = Object.keys(s[v].runtime).sort();
      expect(rt).toEqual(
        ['ContainerStatus', 'CreateContainer', 'ListContainers', 'ListPodSandbox', 'PodSandboxStatus', 'RemoveContainer', 'RemovePodSandbox', 'RunPodSandbox', 'StartContainer', 'StopContainer', 'StopPodSandbox', 'Version'].sort(),
      );
      expect(Object.keys(s[v].image).sort()).toEqual(['ImageStatus', 'ListImages', 'PullImage']);
      expect(s[v].runtime.ListContainers?.path).toBe(`/runtime.${v}.RuntimeService/ListContainers`);
    }
  });

  it('encodes field numbers as upstream CRI does (ContainerStatus.started_at = 5, labels = 12)', () => {
    const def = criServices().v1.runtime.ContainerStatus;
    if (def === undefined) throw new Error('missing');
    // Build a response the way a runtime would and check the tags on the wire.
    const bytes = def.responseSerialize({ status: { startedAt: '7', labels: { k: 'v' } } });
    // ContainerStatusResponse.status = 1 (length-delimited: tag 0x0a); inside: started_at = 5 varint (0x28), labels = 12 (0x62)
    expect(bytes[0]).toBe(0x0a);
    const inner = bytes.subarray(2);
    expect(inner[0]).toBe(0x28);
    expect(inner[1]).toBe(7);
    expect(inner[2]).toBe(0x62);
  });
});
