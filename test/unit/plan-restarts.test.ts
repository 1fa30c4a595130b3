/**
 * What kip predicts an unpatched kubelet restarts counts what the kubelet compares: the regular
 * containers of pods that run (computePodActions compares pod.Spec.Containers' hashes of running
 * containers only). Before the fix init containers and finished pods were counted: the lab's 46
 * running containers were predicted as 48.
 */
import { describe, expect, it } from 'vitest';
import { parseJson } from '../../lib/knowledge/hash/index.ts';
import { predictHopRestarts } from '../../coordinator/plan/restarts.ts';
import { predictStep } from '../../coordinator/commands/upgrade.ts';

const container = (name: string, image: string) => ({ name, image, terminationMessagePath: '/dev/termination-log', terminationMessagePolicy: 'File', imagePullPolicy: 'IfNotPresent' });
const pod = (name: string, node: string, phase: string, spec: Record<string, unknown>) => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'ns', uid: `uid-${name}` }, spec: { nodeName: node, ...spec }, status: { phase },
});
const list = parseJson(JSON.stringify({
  kind: 'PodList', apiVersion: 'v1', items: [
    pod('db', 'n1', 'Running', { initContainers: [container('init-perms', 'busybox:1.35')], containers: [container('postgres', 'postgres:10')] }),
    pod('job', 'n1', 'Succeeded', { containers: [container('report', 'busybox:1.35')] }),
    pod('broken', 'n2', 'Failed', { containers: [container('crash', 'busybox:1.35')] }),
    pod('web', 'n2', 'Running', { containers: [container('nginx', 'nginx:1.15'), container('sidecar', 'busybox:1.35')] }),
  ],
}), 'podlist');

describe('restarts an unpatched kubelet would do', () => {
  it('counts only the regular containers of running pods, in the total and in the restarts, per node', () => {
    // 1.15 -> 1.16 changes every container's hash (the algorithm changed), init containers included
    const [h] = predictHopRestarts(list, [{ from: 'v1.15.12', to: 'v1.16.15', nodes: ['n1', 'n2'], minors: 1 }]);
    expect(h).toMatchObject({ containers: 3, wouldRestart: 3 });
    expect(h!.names).toEqual(['ns/db/postgres', 'ns/web/nginx', 'ns/web/sidecar']);
    expect(h!.byNode).toEqual({ n1: { containers: 1, wouldRestart: 1 }, n2: { containers: 2, wouldRestart: 2 } });
  });

  it('a node of the hop that runs nothing is there with zeros; a node outside the hop is not counted', () => {
    const [h] = predictHopRestarts(list, [{ from: 'v1.15.12', to: 'v1.16.15', nodes: ['n2', 'n3'], minors: 1 }]);
    expect(h!.byNode).toEqual({ n2: { containers: 2, wouldRestart: 2 }, n3: { containers: 0, wouldRestart: 0 } });
    expect(h).toMatchObject({ containers: 2, wouldRestart: 2 });
  });

  it('a step whose nodes come from different versions is predicted per version (the run stores it per node)', () => {
    const p = predictStep(list, { index: 4, to: 'v1.16.15', nodes: [{ name: 'n1', from: 'v1.15.12', zone: '' }, { name: 'n2', from: 'v1.16.15', zone: '' }] });
    // n2 already runs 1.16: nothing of its changes hash
    expect(p).toEqual({ step: 4, containers: 3, wouldRestart: 1, nodes: { n1: { containers: 1, wouldRestart: 1 }, n2: { containers: 2, wouldRestart: 0 } } });
  });
});
