// Expectations from the Kubernetes source tree itself.
import { describe, expect, it } from 'vitest';
import { containerHash } from '../../lib/knowledge/hash/index.ts';

// pkg/kubelet/container/helpers_test.go TestHashContainer (kubernetes v1.16.0 - v1.30.x: 0x3c42280f;
// v1.31.0 on, after PR #124220: 0x8e45cbd0). The spew era has no upstream value; the shared vectors
// (container "upstream-test") give 0x291cfd1e for 1.10-1.15.
const testContainer = {
  name: 'test_container',
  image: 'foo/image:v1',
  args: ['/bin/sh', '-c', 'echo abc'],
  ports: [{ containerPort: 8001 }],
};

// pkg/kubelet/container/container_hash_test.go TestConsistentHashContainer (v1.16.0 - v1.30.x): 0x311670a.
const sampleContainer = `
{
  "name": "test_container",
  "image": "foo/image:v1",
  "command": ["/bin/testcmd"],
  "args": ["/bin/sh", "-c", "echo abc"],
  "ports": [{"containerPort": 8001}],
  "env": [
    {"name": "ENV_FOO", "value": "bar"},
    {"name": "ENV_BAR", "valueFrom": {"secretKeyRef": {"name": "foo", "key": "bar", "optional": true}}}
  ],
  "resources": {"limits": {"foo": "1G"}, "requests": {"foo": "500M"}}
}`;

const minors = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => `1.${from + i}`);

describe('upstream TestHashContainer', () => {
  it.each(minors(10, 15))('%s (spew of the struct) gives 0x291cfd1e', (v) => {
    expect(containerHash(testContainer, v).hash).toBe(0x291cfd1e);
  });
  it.each(minors(16, 30))('%s (spew of the JSON) gives 0x3c42280f', (v) => {
    expect(containerHash(testContainer, v).hash).toBe(0x3c42280f);
  });
  it.each(minors(31, 36))('%s (name and image only) gives 0x8e45cbd0', (v) => {
    expect(containerHash(testContainer, v).hash).toBe(0x8e45cbd0);
  });
});

describe('upstream TestConsistentHashContainer', () => {
  it.each(minors(16, 30))('%s gives 0x311670a', (v) => {
    expect(containerHash(sampleContainer, v).hash).toBe(0x311670a);
  });
});

describe('label text', () => {
  it('is lowercase hex without padding, as strconv.FormatUint(hash, 16)', () => {
    expect(containerHash(sampleContainer, '1.17').label).toBe('311670a');
  });
});
