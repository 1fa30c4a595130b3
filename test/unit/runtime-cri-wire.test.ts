/**
 * cri-wire.ts decodes ListContainers / ListPodSandbox from the bytes straight into the agent's
 * objects; proto-loader's deserializer (CRI_PROTO_LOADER_OPTIONS) followed by decodeContainer /
 * decodePodSandbox is the reference it must agree with, on both API packages, for any message the
 * protobufjs encoder of the same .proto files makes, and on bytes no kip encoder makes (unknown
 * fields of every wire type, fields out of order, a repeated scalar, a map entry without value).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { criServices } from '../../agent/runtime/cri-proto.ts';
import { CriError, decodeContainer, decodePodSandbox } from '../../agent/runtime/cri.ts';
import { decodeListContainersResponse, decodeListPodSandboxResponse } from '../../agent/runtime/cri-wire.ts';

type Codec = { responseSerialize: (v: unknown) => Buffer; responseDeserialize: (b: Buffer) => unknown };
const method = (api: 'v1' | 'v1alpha2', name: string): Codec => criServices()[api].runtime[name] as unknown as Codec;

const str = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('', 'io.kubernetes.pod.uid', '__proto__', 'constructor', 'ünïcødé 🚀'));
const map = fc.dictionary(str, str, { maxKeys: 6 });
// int64 as the decimal string the loader options use, over the whole range (nanosecond stamps are above 2^53).
const int64 = fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.constantFrom(0n, 1n, -1n, 1795747632619851401n, 2n ** 53n + 1n)).map(String);
const uint32 = fc.oneof(fc.nat({ max: 2 ** 32 - 1 }), fc.constantFrom(0, 1, 127, 128));

const containerMsg = fc.record({
  id: str, podSandboxId: str,
  metadata: fc.option(fc.record({ name: str, attempt: uint32 }), { nil: undefined }),
  image: fc.option(fc.record({ image: str, annotations: map }), { nil: undefined }),
  imageRef: str,
  state: fc.constantFrom('CONTAINER_CREATED', 'CONTAINER_RUNNING', 'CONTAINER_EXITED', 'CONTAINER_UNKNOWN'),
  createdAt: int64, labels: map, annotations: map,
}, { requiredKeys: ['id'] });

const sandboxMsg = fc.record({
  id: str,
  metadata: fc.option(fc.record({ name: str, uid: str, namespace: str, attempt: uint32 }), { nil: undefined }),
  state: fc.constantFrom('SANDBOX_READY', 'SANDBOX_NOTREADY'),
  createdAt: int64, labels: map, annotations: map, runtimeHandler: str,
}, { requiredKeys: ['id'] });

/** The reference: what the client decoded before cri-wire.ts. */
const viaLoader = {
  containers: (api: 'v1' | 'v1alpha2', b: Buffer) => ((method(api, 'ListContainers').responseDeserialize(b) as { containers: unknown[] }).containers ?? []).map(decodeContainer),
  sandboxes: (api: 'v1' | 'v1alpha2', b: Buffer) => ((method(api, 'ListPodSandbox').responseDeserialize(b) as { items: unknown[] }).items ?? []).map(decodePodSandbox),
};

/** Plain data to compare (own enumerable keys, so a '__proto__' label compares as a label). */
const plain = (x: unknown): unknown => JSON.parse(JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)));

// protobuf wire helpers for hand-made bytes
const varint = (n: bigint): number[] => {
  let u = BigInt.asUintN(64, n);
  const out: number[] = [];
  do {
    let b = Number(u & 0x7fn);
    u >>= 7n;
    if (u > 0n) b |= 0x80;
    out.push(b);
  } while (u > 0n);
  return out;
};
const tag = (field: number, wire: number) => varint(BigInt((field << 3) | wire));
const len = (field: number, bytes: number[] | Buffer) => [...tag(field, 2), ...varint(BigInt(bytes.length)), ...bytes];
const s = (field: number, text: string) => len(field, Buffer.from(text, 'utf8'));
const unknownOfEveryType = [...tag(99, 0), ...varint(300n), ...tag(98, 1), 1, 2, 3, 4, 5, 6, 7, 8, ...s(97, 'x'), ...tag(96, 5), 1, 2, 3, 4];

describe('cri-wire: ListContainers / ListPodSandbox straight from the bytes', () => {
  for (const api of ['v1', 'v1alpha2'] as const) {
    it(`decodes what protobufjs encodes exactly as proto-loader + decodeContainer does (${api})`, () => {
      fc.assert(fc.property(fc.array(containerMsg, { maxLength: 8 }), (containers) => {
        const bytes = method(api, 'ListContainers').responseSerialize({ containers });
        expect(plain(decodeListContainersResponse(bytes))).toEqual(plain(viaLoader.containers(api, bytes)));
      }), { numRuns: 300 });
    });
    it(`decodes what protobufjs encodes exactly as proto-loader + decodePodSandbox does (${api})`, () => {
      fc.assert(fc.property(fc.array(sandboxMsg, { maxLength: 8 }), (items) => {
        const bytes = method(api, 'ListPodSandbox').responseSerialize({ items });
        expect(plain(decodeListPodSandboxResponse(bytes))).toEqual(plain(viaLoader.sandboxes(api, bytes)));
      }), { numRuns: 300 });
    });
  }

  it('agrees with the reference on bytes no encoder of ours makes: unknown fields, order, repeats, an entry without value, an unknown enum', () => {
    const meta = [...s(1, 'app'), ...unknownOfEveryType, ...tag(2, 0), ...varint(4n)];
    const container = [
      ...unknownOfEveryType,
      ...tag(7, 0), ...varint(-5n), // negative int64: ten bytes
      ...s(2, 'sandbox'), ...s(1, 'first-id'), ...s(1, 'id'), // last occurrence of a scalar wins
      ...len(3, meta),
      ...len(8, [...s(1, 'k'), ...s(2, 'v1')]), ...len(8, [...s(1, 'k'), ...s(2, 'v2')]), // repeated key: last wins
      ...len(8, s(1, 'no-value')), ...len(9, s(2, 'no-key')),
      ...tag(6, 0), ...varint(7n), // an enum number kip does not know
      ...len(4, [...s(1, 'busybox'), ...len(2, [...s(1, 'a'), ...s(2, 'b')])]),
    ];
    const bytes = Buffer.from([...len(1, container), ...unknownOfEveryType, ...len(1, s(1, 'second'))]);
    const got = decodeListContainersResponse(bytes);
    expect(plain(got)).toEqual(plain(viaLoader.containers('v1', bytes)));
    expect(got[0]).toMatchObject({ id: 'id', podSandboxId: 'sandbox', name: 'app', attempt: 4, state: 'unknown', createdAtNs: -5n, image: 'busybox', labels: { k: 'v2', 'no-value': '' }, annotations: { '': 'no-key' } });
    expect(got[1]?.id).toBe('second');

    const sandbox = [...s(1, 'sb'), ...unknownOfEveryType, ...len(2, [...s(3, 'ns'), ...s(1, 'name'), ...s(2, 'uid'), ...tag(4, 0), ...varint(2n)]), ...tag(3, 0), ...varint(1n), ...tag(4, 0), ...varint(1795747632619851401n)];
    const sbBytes = Buffer.from(len(1, sandbox));
    expect(plain(decodeListPodSandboxResponse(sbBytes))).toEqual(plain(viaLoader.sandboxes('v1', sbBytes)));
    expect(decodeListPodSandboxResponse(sbBytes)[0]).toMatchObject({ id: 'sb', name: 'name', uid: 'uid', namespace: 'ns', attempt: 2, state: 'notready', createdAtNs: 1795747632619851401n });
  });

  it('a __proto__ label is a label, not the object\'s prototype', () => {
    const bytes = Buffer.from(len(1, [...s(1, 'c'), ...len(8, [...s(1, '__proto__'), ...s(2, 'x')])]));
    const [c] = decodeListContainersResponse(bytes);
    expect(Object.getPrototypeOf(c?.labels)).toBe(Object.prototype);
    expect(Object.entries(c?.labels ?? {})).toEqual([['__proto__', 'x']]);
  });

  it('refuses truncated or malformed bytes with CRI_BAD_RESPONSE', () => {
    const good = Buffer.from(len(1, [...s(1, 'abc'), ...tag(7, 0), ...varint(1795747632619851401n)]));
    for (let cut = 1; cut < good.length; cut++) {
      expect(() => decodeListContainersResponse(good.subarray(0, cut)), `cut at ${cut}`).toThrow(CriError);
    }
    expect(() => decodeListContainersResponse(Buffer.from([...tag(1, 3)]))).toThrow(expect.objectContaining({ code: 'CRI_BAD_RESPONSE' }));
    expect(() => decodeListPodSandboxResponse(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]))).toThrow(expect.objectContaining({ code: 'CRI_BAD_RESPONSE' }));
  });
});
