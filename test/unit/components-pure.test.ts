import { describe, expect, it } from 'vitest';
import {
  ManifestInvalidError,
  defaultHealthProbe,
  imageVersion,
  parseStaticPodManifest,
  parseVersionOutput,
  rewriteStaticPodManifest,
  withImageTag,
} from '../../agent/components/index.ts';

export const APISERVER_MANIFEST = `# kubeadm wrote this
apiVersion: v1
kind: Pod
metadata:
  annotations:
    scheduler.alpha.kubernetes.io/critical-pod: ""
  creationTimestamp: null
  labels:
    component: kube-apiserver
    tier: control-plane
  name: kube-apiserver
  namespace: kube-system
spec:
  containers:
  - command:
    - kube-apiserver
    - --advertise-address=10.0.0.1
    - --etcd-servers=https://127.0.0.1:2379
    - --etcd-quorum-read=true
    - --secure-port=6443
    image: k8s.gcr.io/kube-apiserver:v1.12.10 # pinned by kubeadm
    name: kube-apiserver
    livenessProbe:
      httpGet:
        host: 10.0.0.1
        path: /healthz
        port: 6443
        scheme: HTTPS
  hostNetwork: true
  priorityClassName: system-cluster-critical
status: {}
`;

describe('versions', () => {
  it('reads --version output and image tags', () => {
    expect(parseVersionOutput('Kubernetes v1.13.12\n')).toBe('v1.13.12');
    expect(parseVersionOutput('kube-proxy version: nothing')).toBeUndefined();
    expect(imageVersion('k8s.gcr.io/kube-apiserver:v1.12.10')).toBe('v1.12.10');
    expect(imageVersion('registry:5000/kube-proxy:v1.16.15@sha256:abcd')).toBe('v1.16.15');
    expect(imageVersion('registry:5000/kube-proxy')).toBeUndefined();
    expect(imageVersion('kube-proxy:latest')).toBeUndefined();
    expect(withImageTag('registry:5000/kube-apiserver:v1.12.10@sha256:ab', 'v1.13.12')).toBe('registry:5000/kube-apiserver:v1.13.12');
    expect(withImageTag('kube-apiserver', 'v1.13.12')).toBe('kube-apiserver:v1.13.12');
  });
});

describe('default health probes', () => {
  const base = { args: [] as string[], kubeletHealthzUrl: 'http://127.0.0.1:10248/healthz' };
  it('kube-apiserver: /healthz before 1.16, /readyz from 1.16, on --secure-port', () => {
    expect(defaultHealthProbe({ ...base, name: 'kube-apiserver', version: 'v1.15.12' }).url).toBe('https://127.0.0.1:6443/healthz');
    expect(defaultHealthProbe({ ...base, name: 'kube-apiserver', version: 'v1.16.0' }).url).toBe('https://127.0.0.1:6443/readyz');
    expect(defaultHealthProbe({ ...base, name: 'kube-apiserver', version: 'v1.16.0', args: ['--secure-port', '8443'] }).url).toBe('https://127.0.0.1:8443/readyz');
    expect(defaultHealthProbe({ ...base, name: 'kube-apiserver', version: '1.11', args: ['--secure-port=0', '--insecure-port=18080'] }).url).toBe('http://127.0.0.1:18080/healthz');
  });
  it('controller-manager and scheduler: insecure port while on, the secure port of their version when --port=0', () => {
    expect(defaultHealthProbe({ ...base, name: 'kube-controller-manager', version: 'v1.10.13' }).url).toBe('http://127.0.0.1:10252/healthz');
    expect(defaultHealthProbe({ ...base, name: 'kube-controller-manager', version: 'v1.12.0', args: ['--port=0'] }).url).toBe('https://127.0.0.1:10257/healthz');
    expect(defaultHealthProbe({ ...base, name: 'kube-scheduler', version: 'v1.12.0', args: ['--port=0'] }).url).toBe('');
    expect(defaultHealthProbe({ ...base, name: 'kube-scheduler', version: 'v1.13.0', args: ['--port=0'] }).url).toBe('https://127.0.0.1:10259/healthz');
    expect(defaultHealthProbe({ ...base, name: 'kube-scheduler', version: 'v1.17.0' }).url).toBe('http://127.0.0.1:10251/healthz');
  });
  it('kube-proxy :10256 (or its --healthz-bind-address); kubelet from the agent config', () => {
    expect(defaultHealthProbe({ ...base, name: 'kube-proxy', version: 'v1.10.13' }).url).toBe('http://127.0.0.1:10256/healthz');
    expect(defaultHealthProbe({ ...base, name: 'kube-proxy', version: 'v1.10.13', args: ['--healthz-bind-address=127.0.0.11:20256'] }).url).toBe('http://127.0.0.11:20256/healthz');
    expect(defaultHealthProbe({ ...base, name: 'kubelet', version: 'v1.10.13' }).url).toBe(base.kubeletHealthzUrl);
  });
});

describe('static pod manifests', () => {
  it('reads the component container, its image version and flags', () => {
    const m = parseStaticPodManifest(APISERVER_MANIFEST, '/etc/kubernetes/manifests/kube-apiserver.yaml', 'kube-apiserver');
    expect(m).toMatchObject({ podName: 'kube-apiserver', namespace: 'kube-system', container: 'kube-apiserver', image: 'k8s.gcr.io/kube-apiserver:v1.12.10', version: 'v1.12.10', argsIn: 'command' });
    expect(m.args).toEqual(['--advertise-address=10.0.0.1', '--etcd-servers=https://127.0.0.1:2379', '--etcd-quorum-read=true', '--secure-port=6443']);
  });

  it('rewrites image and flags, keeping comments and every other field', () => {
    const out = rewriteStaticPodManifest(APISERVER_MANIFEST, 'm.yaml', 'kube-apiserver', { image: 'k8s.gcr.io/kube-apiserver:v1.13.12', args: ['--advertise-address=10.0.0.1', '--secure-port=6443'] });
    const m = parseStaticPodManifest(out, 'm.yaml', 'kube-apiserver');
    expect(m.image).toBe('k8s.gcr.io/kube-apiserver:v1.13.12');
    expect(m.args).toEqual(['--advertise-address=10.0.0.1', '--secure-port=6443']);
    expect(out).toContain('# kubeadm wrote this');
    expect(out).toContain('priorityClassName: system-cluster-critical');
    expect(out).toContain('path: /healthz');
    expect(out).toMatch(/- kube-apiserver\n/);
  });

  it('writes flags back to args when the manifest keeps them there', () => {
    const text = 'apiVersion: v1\nkind: Pod\nmetadata: {name: kube-proxy}\nspec:\n  containers:\n  - name: kube-proxy\n    image: kube-proxy:v1.15.12\n    command: [/usr/local/bin/kube-proxy]\n    args: ["--v=2", "--resource-container="]\n';
    const out = rewriteStaticPodManifest(text, 'p.yaml', 'kube-proxy', { args: ['--v=2'] });
    const m = parseStaticPodManifest(out, 'p.yaml', 'kube-proxy');
    expect(m.argsIn).toBe('args');
    expect(m.args).toEqual(['--v=2']);
    expect(out).toContain('/usr/local/bin/kube-proxy');
  });

  it('refuses what is not a static pod manifest, naming the problem', () => {
    const bad: [string, RegExp][] = [
      ['apiVersion: v1\nkind: Pod\nspec: [\n', /not valid YAML/],
      ['apiVersion: apps/v1\nkind: Deployment\nspec: {}\n', /expected apiVersion v1, kind Pod/],
      ['apiVersion: v1\nkind: Pod\nspec:\n  containers: []\n', /spec.containers is empty/],
      ['apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: a\n    image: x:v1.1.1\n  - name: b\n    image: y:v1.1.1\n', /none named kube-scheduler/],
      ['apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: kube-scheduler\n', /has no image/],
      ['apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: kube-scheduler\n    image: s:v1.1.1\n    command: {a: 1}\n', /command is not a list/],
      ['apiVersion: v1\nkind: Pod\nkind: Pod\n', /not valid YAML/],
    ];
    for (const [text, re] of bad) {
      expect(() => parseStaticPodManifest(text, 's.yaml', 'kube-scheduler')).toThrow(ManifestInvalidError);
      expect(() => parseStaticPodManifest(text, 's.yaml', 'kube-scheduler')).toThrow(re);
    }
  });
});

describe('planManifestStep', () => {
  it('moves the image to the target and migrates the flags the target removed', async () => {
    const { planManifestStep } = await import('../../agent/components/index.ts');
    const s = planManifestStep({ text: APISERVER_MANIFEST, path: 'm.yaml', component: 'kube-apiserver', to: 'v1.13.12' });
    expect(s.from).toBe('v1.12.10');
    const m = parseStaticPodManifest(s.text, 'm.yaml', 'kube-apiserver');
    expect(m.image).toBe('k8s.gcr.io/kube-apiserver:v1.13.12');
    expect(m.args).not.toContain('--etcd-quorum-read=true');
    expect(s.flags.changes.map((c) => c.flag)).toEqual(['--etcd-quorum-read']);
    expect(s.text).toContain('# kubeadm wrote this');
  });

  it('refuses a skipped minor and an image without a version tag', async () => {
    const { planManifestStep } = await import('../../agent/components/index.ts');
    expect(() => planManifestStep({ text: APISERVER_MANIFEST, path: 'm.yaml', component: 'kube-apiserver', to: 'v1.14.10' })).toThrow(/one minor version at a time/);
    expect(() => planManifestStep({ text: APISERVER_MANIFEST.replace(':v1.12.10', ':latest'), path: 'm.yaml', component: 'kube-apiserver', to: 'v1.13.12' })).toThrow(/no version tag/);
  });
});
