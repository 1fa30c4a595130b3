// containerd's events service (agent/runtime/containerd-events.ts): envelopes hand-encoded on the
// wire with containerd 1.6.20's field numbers (api/services/events/v1/events.proto Envelope;
// api/events/task.proto, container.proto), decoded by kip's own proto subset; the filters sent.
import { describe, expect, it } from 'vitest';
import { decodeEnvelope, deserializeEnvelope, subscribeFilters } from '../../agent/runtime/containerd-events.ts';

const varint = (n: number | bigint): number[] => {
  let v = BigInt(n);
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
};
const tag = (field: number, wire: number) => varint((field << 3) | wire);
const vField = (field: number, n: number | bigint) => [...tag(field, 0), ...varint(n)];
const bField = (field: number, bytes: number[] | Buffer) => [...tag(field, 2), ...varint(bytes.length), ...bytes];
const sField = (field: number, s: string) => bField(field, Buffer.from(s, 'utf8'));

function envelope(o: { seconds?: number; nanos?: number; namespace: string; topic: string; typeUrl?: string; payload?: number[] }): Buffer {
  const ts = o.seconds === undefined ? [] : bField(1, [...vField(1, o.seconds), ...vField(2, o.nanos ?? 0)]);
  const any = o.typeUrl === undefined ? [] : bField(4, [...sField(1, o.typeUrl), ...bField(2, o.payload ?? [])]);
  return Buffer.from([...ts, ...sField(2, o.namespace), ...sField(3, o.topic), ...any]);
}

// TaskExit: container_id 1, id 2, pid 3, exit_status 4, exited_at 5 (a Timestamp kip does not declare: skipped).
const taskExit = [...sField(1, 'c0ffee'), ...sField(2, 'c0ffee'), ...vField(3, 4242), ...vField(4, 137), ...bField(5, [...vField(1, 1_700_000_001)])];

describe('containerd events: decoding', () => {
  it('decodes a /tasks/exit envelope: namespace, topic, container, exit status and time', () => {
    const env = deserializeEnvelope(envelope({ seconds: 1_700_000_000, nanos: 123_456_789, namespace: 'k8s.io', topic: '/tasks/exit', typeUrl: 'containerd.events.TaskExit', payload: taskExit }));
    expect(env).toMatchObject({ namespace: 'k8s.io', topic: '/tasks/exit' });
    expect(decodeEnvelope(env)).toEqual({ topic: '/tasks/exit', namespace: 'k8s.io', containerId: 'c0ffee', exitStatus: 137, timeNs: 1_700_000_000_123_456_789n });
  });

  it('decodes container create/delete (id) and task start (container_id), without an exit status', () => {
    const create = deserializeEnvelope(envelope({ seconds: 1, namespace: 'k8s.io', topic: '/containers/create', typeUrl: 'containerd.events.ContainerCreate', payload: [...sField(1, 'abc'), ...sField(2, 'docker.io/library/busybox:latest'), ...bField(3, sField(1, 'io.containerd.runc.v2').concat())] }));
    expect(decodeEnvelope(create)).toEqual({ topic: '/containers/create', namespace: 'k8s.io', containerId: 'abc', timeNs: 1_000_000_000n });
    const del = deserializeEnvelope(envelope({ namespace: 'k8s.io', topic: '/containers/delete', typeUrl: 'containerd.events.ContainerDelete', payload: sField(1, 'abc') }));
    expect(decodeEnvelope(del)).toEqual({ topic: '/containers/delete', namespace: 'k8s.io', containerId: 'abc', timeNs: 0n });
    const start = deserializeEnvelope(envelope({ namespace: 'k8s.io', topic: '/tasks/start', typeUrl: 'containerd.events.TaskStart', payload: [...sField(1, 'abc'), ...vField(2, 99)] }));
    expect(decodeEnvelope(start)).toMatchObject({ topic: '/tasks/start', containerId: 'abc' });
    expect(decodeEnvelope(start)).not.toHaveProperty('exitStatus');
    // TaskDelete: container_id 1, pid 2, exit_status 3, id 5.
    const tdel = deserializeEnvelope(envelope({ namespace: 'k8s.io', topic: '/tasks/delete', typeUrl: 'containerd.events.TaskDelete', payload: [...sField(1, 'abc'), ...vField(2, 7), ...vField(3, 1), ...sField(5, '')] }));
    expect(decodeEnvelope(tdel)).toMatchObject({ containerId: 'abc', exitStatus: 1 });
  });

  it('accepts a type_url with a host prefix', () => {
    const env = deserializeEnvelope(envelope({ namespace: 'k8s.io', topic: '/tasks/exit', typeUrl: 'type.googleapis.com/containerd.events.TaskExit', payload: taskExit }));
    expect(decodeEnvelope(env)?.containerId).toBe('c0ffee');
  });

  it('drops other namespaces and topics', () => {
    expect(decodeEnvelope(deserializeEnvelope(envelope({ namespace: 'moby', topic: '/tasks/exit', typeUrl: 'containerd.events.TaskExit', payload: taskExit })))).toBeUndefined();
    expect(decodeEnvelope(deserializeEnvelope(envelope({ namespace: 'k8s.io', topic: '/images/update', typeUrl: 'containerd.events.ImageUpdate' })))).toBeUndefined();
    expect(decodeEnvelope(deserializeEnvelope(envelope({ namespace: 'k8s.io', topic: '/tasks/oom', typeUrl: 'containerd.events.TaskOOM' })))).toBeUndefined();
  });

  it('still wakes on a payload it cannot read (wrong type, malformed bytes, none)', () => {
    const wrongType = deserializeEnvelope(envelope({ namespace: 'k8s.io', topic: '/tasks/exit', typeUrl: 'containerd.events.TaskStart', payload: taskExit }));
    expect(decodeEnvelope(wrongType)).toEqual({ topic: '/tasks/exit', namespace: 'k8s.io', containerId: '', timeNs: 0n });
    const truncated = deserializeEnvelope(envelope({ namespace: 'k8s.io', topic: '/tasks/exit', typeUrl: 'containerd.events.TaskExit', payload: [0x0f, 0x01] })); // wire type 7 does not exist
    expect(decodeEnvelope(truncated)?.containerId).toBe('');
    const none = deserializeEnvelope(envelope({ namespace: 'k8s.io', topic: '/tasks/exit' }));
    expect(decodeEnvelope(none)?.containerId).toBe('');
  });

  it('subscribes per topic, each ANDed with the k8s.io namespace, and to its own probe', () => {
    expect(subscribeFilters()).toEqual([
      'namespace==k8s.io,topic=="/tasks/start"',
      'namespace==k8s.io,topic=="/tasks/exit"',
      'namespace==k8s.io,topic=="/tasks/delete"',
      'namespace==k8s.io,topic=="/containers/create"',
      'namespace==k8s.io,topic=="/containers/delete"',
      'namespace==kip-agent-probe,topic=="/kip/probe"',
    ]);
  });
});
