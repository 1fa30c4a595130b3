import { describe, expect, it } from 'vitest';
import { DockerError, parseDockerTime, parseDockershimName, splitDockershimLabels } from '../../agent/runtime/docker.ts';

describe('parseDockerTime', () => {
  it('keeps nanoseconds exactly', () => {
    expect(parseDockerTime('2026-11-27T02:50:43.258010679Z')).toBe(BigInt(Date.parse('2026-11-27T02:50:43Z')) * 1_000_000n + 258_010_679n);
  });
  it('pads short fractions and honours offsets', () => {
    expect(parseDockerTime('2020-01-01T01:00:00.5+01:00')).toBe(BigInt(Date.parse('2020-01-01T00:00:00Z')) * 1_000_000n + 500_000_000n);
  });
  it("maps Docker's zero time to 0n and refuses garbage", () => {
    expect(parseDockerTime('0001-01-01T00:00:00Z')).toBe(0n);
    expect(() => parseDockerTime('yesterday')).toThrow(DockerError);
  });
});

describe('dockershim conventions', () => {
  it('parses container and sandbox names', () => {
    expect(parseDockershimName('/k8s_app_web_default_uid-1_3')).toEqual({ container: 'app', pod: 'web', namespace: 'default', uid: 'uid-1', attempt: 3 });
    expect(parseDockershimName('k8s_POD_web_default_uid-1_0')?.container).toBe('POD');
    expect(parseDockershimName('k8s_app_web_default_uid-1_x')).toBeUndefined();
    expect(parseDockershimName('nginx')).toBeUndefined();
    // dockershim tolerates the random 7th field of docker 1.11-era names
    expect(parseDockershimName('k8s_app_web_default_uid-1_2_a1b2c3d4')).toMatchObject({ container: 'app', attempt: 2 });
    expect(parseDockershimName('k8s_app_web_default_uid-1_2_a_b')).toBeUndefined();
  });
  it('splits Docker labels into CRI labels and annotations', () => {
    expect(
      splitDockershimLabels({
        'io.kubernetes.container.name': 'app',
        'annotation.io.kubernetes.container.hash': '1a2b',
        'io.kubernetes.docker.type': 'container',
        'io.kubernetes.sandbox.id': 'sb',
      }),
    ).toEqual({ labels: { 'io.kubernetes.container.name': 'app' }, annotations: { 'io.kubernetes.container.hash': '1a2b' } });
  });
});
