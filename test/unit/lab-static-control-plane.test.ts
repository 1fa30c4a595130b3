import { describe, expect, it } from 'vitest';
import { parseJson } from '../../lib/knowledge/hash/index.ts';
import { parseStaticPodManifest } from '../../agent/components/manifest.ts';
import { controlPlaneImage, controlPlaneImages, controlPlaneManifest } from '../../scripts/lab/static-control-plane.ts';
import { imageRun, parseLabImage } from '../../scripts/lab/kubelet/run-images.ts';
import { parse as parseYaml } from 'yaml';

describe('static-pods control plane', () => {
  it('kubeadm image names: -amd64 through 1.11, plain from 1.12', () => {
    expect(controlPlaneImage('kube-apiserver', 'v1.10.13')).toBe('k8s.gcr.io/kube-apiserver-amd64:v1.10.13');
    expect(controlPlaneImage('kube-scheduler', 'v1.12.10')).toBe('k8s.gcr.io/kube-scheduler:v1.12.10');
  });
  it('the lab imports every static component at every version under both kubeadm spellings, each its own image', () => {
    const images = controlPlaneImages(['v1.10.13', 'v1.12.10']);
    expect(images).toHaveLength(2 * 3 * 2);
    const names = images.map((i) => i.name);
    // A manifest kip upgraded from 1.10 keeps the -amd64 name; one written by 1.12 has none.
    expect(names).toContain('k8s.gcr.io/kube-apiserver-amd64:v1.12.10');
    expect(names).toContain(controlPlaneImage('kube-controller-manager', 'v1.12.10'));
    expect(names).toContain(controlPlaneImage('kube-scheduler', 'v1.10.13'));
    expect(new Set(names).size).toBe(names.length);
    // Distinct labels, so distinct configs: CRI reports an image by its first tag, which must be the one name.
    expect(new Set(images.map((i) => JSON.stringify(i.labels))).size).toBe(images.length);
  });
  it('the agent reads each manifest as its component at its version, flags from command', () => {
    const text = controlPlaneManifest('kube-controller-manager', 'v1.10.13', '127.0.0.10');
    const m = parseStaticPodManifest(text, '/etc/kubernetes/manifests/kube-controller-manager.yaml', 'kube-controller-manager');
    expect(m.version).toBe('v1.10.13');
    expect(m.argsIn).toBe('command');
    expect(m.args).toContain('--address=127.0.0.10');
    expect(m.args).toContain('--port=10252');
  });
  it('a lab program image runs its release launcher with the hostPath volumes translated to the node root', () => {
    expect(parseLabImage('k8s.gcr.io/kube-apiserver-amd64:v1.10.13')).toEqual({ program: 'kube-apiserver', version: 'v1.10.13' });
    expect(parseLabImage('k8s.gcr.io/etcd-amd64:3.1.12')).toBeUndefined();
    expect(parseLabImage('busybox:1.35')).toBeUndefined();
    const pod = parseYaml(controlPlaneManifest('kube-apiserver', 'v1.11.10', '127.0.0.10')) as { spec: { containers: unknown[] } };
    const podNode = parseJson(JSON.stringify(pod), 'pod');
    const cNode = parseJson(JSON.stringify(pod.spec.containers[0]), 'c');
    const run = imageRun(cNode, podNode, { releasesDir: '/state/releases', hostRoot: '/state/nodes/cp/root', samePath: ['/usr/bin/node', '/repo'] });
    expect(run?.command).toEqual(['/kip-lab/bin/kube-apiserver', '--config', '/etc/kubernetes/apiserver.json']);
    expect(run?.mounts).toEqual([
      { hostPath: '/state/releases/v1.11.10/kube-apiserver', containerPath: '/kip-lab/bin/kube-apiserver', readonly: true },
      { hostPath: '/usr/bin/node', containerPath: '/usr/bin/node', readonly: true },
      { hostPath: '/repo', containerPath: '/repo', readonly: true },
      { hostPath: '/lib', containerPath: '/lib', readonly: true },
      { hostPath: '/lib64', containerPath: '/lib64', readonly: true },
      { hostPath: '/state/nodes/cp/root/etc/kubernetes', containerPath: '/etc/kubernetes', readonly: true },
    ]);
    const other = parseJson(JSON.stringify({ name: 'x', image: 'kip.local/busybox:1.35' }), 'c');
    expect(imageRun(other, podNode, { releasesDir: '/r', hostRoot: '/h', samePath: [] })).toBeUndefined();
  });
});
