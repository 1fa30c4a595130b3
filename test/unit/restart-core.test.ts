import { describe, expect, it } from 'vitest';
import { diffSnapshots, identityOf } from '../../agent/watch/restart-core.ts';
import type { ContainerInfo, ContainerState } from '../../agent/runtime/types.ts';

function c(id: string, opts: { uid?: string; name?: string; attempt?: number; state?: ContainerState; created?: bigint; sandbox?: string; labelName?: boolean } = {}): ContainerInfo {
  const name = opts.name ?? 'app';
  const labels: Record<string, string> = {};
  if (opts.uid !== undefined) {
    labels['io.kubernetes.pod.uid'] = opts.uid;
    labels['io.kubernetes.pod.name'] = `pod-${opts.uid}`;
    labels['io.kubernetes.pod.namespace'] = 'default';
  }
  if (opts.labelName ?? true) labels['io.kubernetes.container.name'] = name;
  return {
    id,
    podSandboxId: opts.sandbox ?? 'sb1',
    name,
    attempt: opts.attempt ?? 0,
    state: opts.state ?? 'running',
    createdAtNs: opts.created ?? 1_000n,
    labels,
    annotations: {},
    image: 'busybox',
    imageRef: 'sha256:x',
  };
}

describe('identityOf', () => {
  it('uses the kubelet labels', () => {
    expect(identityOf(c('a', { uid: 'u1', name: 'web' }))).toEqual({ podUid: 'u1', podName: 'pod-u1', podNamespace: 'default', containerName: 'web' });
  });
  it('falls back to the sandbox id and the CRI name for unlabelled containers', () => {
    expect(identityOf(c('a', { name: 'x', sandbox: 'sbZ', labelName: false }))).toEqual({ podUid: 'sandbox:sbZ', podName: '', podNamespace: '', containerName: 'x' });
  });
});

describe('diffSnapshots', () => {
  it('reports nothing for identical snapshots', () => {
    const s = [c('a', { uid: 'u1' }), c('b', { uid: 'u2' })];
    expect(diffSnapshots(s, s, 5)).toEqual([]);
  });

  it('reports a new container id for the same pod uid and name as exactly one restart', () => {
    const prev = [c('a', { uid: 'u1', attempt: 0, created: 10n })];
    const next = [c('a', { uid: 'u1', attempt: 0, state: 'exited', created: 10n }), c('b', { uid: 'u1', attempt: 1, created: 20n })];
    const events = diffSnapshots(prev, next, 42);
    expect(events.map((e) => e.kind)).toEqual(['exited', 'restarted']);
    const r = events[1];
    if (r?.kind !== 'restarted') throw new Error('expected a restart');
    expect(r.previous.id).toBe('a');
    expect(r.current.id).toBe('b');
    expect(r.current.createdAtNs).toBe(20n);
    expect(r.restarts).toBe(1);
    expect(r.observedAtMs).toBe(42);
    expect(r.podUid).toBe('u1');
    expect(r.containerName).toBe('app');
  });

  it('counts several restarts between two polls from the attempt numbers', () => {
    const events = diffSnapshots([c('a', { uid: 'u1', attempt: 2, created: 1n })], [c('d', { uid: 'u1', attempt: 5, created: 9n })], 0);
    expect(events).toHaveLength(1);
    const r = events[0];
    expect(r?.kind).toBe('restarted');
    if (r?.kind === 'restarted') expect(r.restarts).toBe(3);
  });

  it('treats a recreated sandbox (attempt back to 0, new id) as a restart', () => {
    const events = diffSnapshots([c('a', { uid: 'u1', attempt: 3, created: 1n, sandbox: 's1' })], [c('z', { uid: 'u1', attempt: 0, created: 2n, sandbox: 's2' })], 0);
    expect(events.map((e) => e.kind)).toEqual(['restarted']);
    if (events[0]?.kind === 'restarted') expect(events[0].restarts).toBe(1);
  });

  it('does not confuse containers of the same name in different pods', () => {
    const prev = [c('a', { uid: 'u1', name: 'app' }), c('b', { uid: 'u2', name: 'app' })];
    const next = [c('a', { uid: 'u1', name: 'app' }), c('b', { uid: 'u2', name: 'app' }), c('x', { uid: 'u3', name: 'app' })];
    const events = diffSnapshots(prev, next, 0);
    expect(events.map((e) => [e.kind, e.podUid])).toEqual([['added', 'u3']]);
  });

  it('reports an exit without a restart, and only once', () => {
    const running = [c('a', { uid: 'u1' })];
    const exited = [c('a', { uid: 'u1', state: 'exited' })];
    expect(diffSnapshots(running, exited, 0).map((e) => e.kind)).toEqual(['exited']);
    expect(diffSnapshots(exited, exited, 0)).toEqual([]);
  });

  it('reports a container that appeared already exited as a restart and an exit', () => {
    const events = diffSnapshots([c('a', { uid: 'u1', created: 1n })], [c('a', { uid: 'u1', created: 1n, state: 'exited' }), c('b', { uid: 'u1', attempt: 1, created: 2n, state: 'exited' })], 0);
    expect(events.map((e) => `${e.kind}:${e.kind === 'restarted' ? e.current.id : e.container.id}`)).toEqual(['exited:a', 'exited:b', 'restarted:b']);
  });

  it('ignores garbage collection of older attempts', () => {
    const prev = [c('a', { uid: 'u1', attempt: 0, state: 'exited', created: 1n }), c('b', { uid: 'u1', attempt: 1, created: 2n })];
    const next = [c('b', { uid: 'u1', attempt: 1, created: 2n })];
    expect(diffSnapshots(prev, next, 0)).toEqual([]);
  });

  it('reports a pod whose containers are all gone as removed, not restarted', () => {
    const events = diffSnapshots([c('a', { uid: 'u1' }), c('b', { uid: 'u2' })], [c('b', { uid: 'u2' })], 0);
    expect(events.map((e) => [e.kind, e.podUid])).toEqual([['removed', 'u1']]);
  });

  it('picks the newest container of a name by creation time, not list order', () => {
    const prev = [c('b', { uid: 'u1', attempt: 1, created: 2n }), c('a', { uid: 'u1', attempt: 0, created: 1n, state: 'exited' })];
    const next = [c('a', { uid: 'u1', attempt: 0, created: 1n, state: 'exited' }), c('b', { uid: 'u1', attempt: 1, created: 2n })];
    expect(diffSnapshots(prev, next, 0)).toEqual([]);
  });

  it('sorts events by pod, container, then kind', () => {
    const prev = [c('a', { uid: 'u2', name: 'x' }), c('b', { uid: 'u1', name: 'y' })];
    const next = [c('a2', { uid: 'u2', name: 'x', attempt: 1, created: 5n }), c('n', { uid: 'u1', name: 'a' })];
    expect(diffSnapshots(prev, next, 0).map((e) => `${e.podUid}/${e.containerName}:${e.kind}`)).toEqual(['u1/a:added', 'u1/y:removed', 'u2/x:restarted']);
  });
});
