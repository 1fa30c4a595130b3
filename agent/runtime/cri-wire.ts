/**
 * ListContainersResponse and ListPodSandboxResponse decoded from the wire straight into the
 * agent's ContainerInfo / PodSandboxInfo, for the node watcher's poll (issue 11/12 idle goal).
 * proto-loader's deserializer builds a protobufjs message and then a second plain-object copy of
 * it (toObject), which decodeContainer then reads: on a 500-container node that is two object
 * graphs of the whole list a poll, all garbage by the next. Here the bytes become the final
 * objects in one pass, and fields the agent does not read (the image's annotations, a sandbox's
 * runtime_handler, anything a newer runtime adds) are skipped without being decoded.
 *
 * Field numbers are those of kip's CRI subset (proto/cri/runtime_v1.proto and
 * runtime_v1alpha2.proto, identical for these messages: both copied from the kubelet's
 * cri-api at v1.20, where runtime.v1 was introduced as a copy of v1alpha2). Semantics follow
 * proto3 as protobufjs + CRI_PROTO_LOADER_OPTIONS decode them: absent scalars are zero values, the
 * last occurrence of a scalar field wins, repeated submessages that occur twice are merged (not
 * done by any runtime; a later metadata/image replaces the earlier one here), a map entry missing
 * its key or value has '' for it, a repeated map key keeps its last value, an enum number kip does
 * not know is 'unknown' (containers) / 'notready' (sandboxes). Checked against proto-loader's
 * decoding by test/unit/runtime-cri-wire.test.ts on generated messages.
 */
import { CriError } from './cri-errors.ts';
import type { ContainerInfo, ContainerState, PodSandboxInfo, SandboxState } from './types.ts';

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

class WireReader {
  pos: number;
  constructor(readonly buf: Buffer, start: number, readonly end: number) {
    this.pos = start;
  }

  bad(what: string): CriError {
    return new CriError('CRI_BAD_RESPONSE', `unexpected CRI response: ${what} at byte ${this.pos}`, { value: 'bytes' });
  }

  /** A varint of up to 32 significant bits (tags, lengths, enums, uint32); higher bits are dropped, as protobufjs does. */
  uint32(): number {
    const { buf, end } = this;
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= end) throw this.bad('truncated varint');
      const b = buf[this.pos++] as number;
      if (shift < 32) result |= (b & 0x7f) << shift;
      if (b < 0x80) return result >>> 0;
      shift += 7;
    }
    throw this.bad('varint longer than 10 bytes');
  }

  /** An int64 varint (two's complement) as bigint. */
  int64(): bigint {
    const { buf, end } = this;
    let lo = 0;
    let hi = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= end) throw this.bad('truncated varint');
      const b = buf[this.pos++] as number;
      const bits = b & 0x7f;
      if (shift < 28) lo |= bits << shift;
      else if (shift === 28) {
        lo |= (bits & 0x0f) << 28;
        hi |= bits >>> 4;
      } else hi |= bits << (shift - 32);
      if (b < 0x80) {
        const u = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
        return BigInt.asIntN(64, u);
      }
      shift += 7;
    }
    throw this.bad('varint longer than 10 bytes');
  }

  /** The end offset of a length-delimited field starting here. */
  lenEnd(): number {
    const len = this.uint32();
    const e = this.pos + len;
    if (e > this.end) throw this.bad('length beyond the message');
    return e;
  }

  string(): string {
    const e = this.lenEnd();
    const s = this.buf.toString('utf8', this.pos, e);
    this.pos = e;
    return s;
  }

  skip(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        this.uint32();
        return;
      case WIRE_I64:
        this.pos += 8;
        break;
      case WIRE_LEN:
        this.pos = this.lenEnd();
        return;
      case WIRE_I32:
        this.pos += 4;
        break;
      default:
        // Groups (3, 4) are proto2 only and absent from CRI; anything else is not protobuf.
        throw this.bad(`wire type ${wire}`);
    }
    if (this.pos > this.end) throw this.bad('field beyond the message');
  }
}

/** One map<string,string> entry (key = 1, value = 2) into `into`. */
function mapEntry(r: WireReader, into: Record<string, string>): void {
  const end = r.lenEnd();
  const sub = new WireReader(r.buf, r.pos, end);
  let key = '';
  let value = '';
  while (sub.pos < end) {
    const tag = sub.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === WIRE_LEN) key = sub.string();
    else if (field === 2 && wire === WIRE_LEN) value = sub.string();
    else sub.skip(wire);
  }
  // A runtime's label named __proto__ is data, not the object's prototype.
  if (key === '__proto__') Object.defineProperty(into, key, { value, enumerable: true, writable: true, configurable: true });
  else into[key] = value;
  r.pos = end;
}

/** ContainerMetadata / PodSandboxMetadata: the string fields by number, attempt by its own. */
function metadata(r: WireReader, strings: readonly number[], attemptField: number): { strings: string[]; attempt: number } {
  const end = r.lenEnd();
  const sub = new WireReader(r.buf, r.pos, end);
  const out = strings.map(() => '');
  let attempt = 0;
  while (sub.pos < end) {
    const tag = sub.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    const i = strings.indexOf(field);
    if (i >= 0 && wire === WIRE_LEN) out[i] = sub.string();
    else if (field === attemptField && wire === WIRE_VARINT) attempt = sub.uint32();
    else sub.skip(wire);
  }
  r.pos = end;
  return { strings: out, attempt };
}

const CONTAINER_STATES: readonly ContainerState[] = ['created', 'running', 'exited', 'unknown'];

/** runtime.v1 / v1alpha2 Container. */
function container(r: WireReader): ContainerInfo {
  const end = r.lenEnd();
  const m = new WireReader(r.buf, r.pos, end);
  let id = '';
  let podSandboxId = '';
  let name = '';
  let attempt = 0;
  let image = '';
  let imageRef = '';
  let state: ContainerState = 'created';
  let createdAtNs = 0n;
  const labels: Record<string, string> = {};
  const annotations: Record<string, string> = {};
  while (m.pos < end) {
    const tag = m.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1: if (wire === WIRE_LEN) { id = m.string(); continue; } break;
      case 2: if (wire === WIRE_LEN) { podSandboxId = m.string(); continue; } break;
      case 3: if (wire === WIRE_LEN) { const md = metadata(m, [1], 2); name = md.strings[0] ?? ''; attempt = md.attempt; continue; } break;
      case 4: if (wire === WIRE_LEN) { image = metadata(m, [1], 0).strings[0] ?? ''; continue; } break;
      case 5: if (wire === WIRE_LEN) { imageRef = m.string(); continue; } break;
      case 6: if (wire === WIRE_VARINT) { state = CONTAINER_STATES[m.uint32()] ?? 'unknown'; continue; } break;
      case 7: if (wire === WIRE_VARINT) { createdAtNs = m.int64(); continue; } break;
      case 8: if (wire === WIRE_LEN) { mapEntry(m, labels); continue; } break;
      case 9: if (wire === WIRE_LEN) { mapEntry(m, annotations); continue; } break;
    }
    m.skip(wire);
  }
  r.pos = end;
  return { id, podSandboxId, name, attempt, state, createdAtNs, labels, annotations, image, imageRef };
}

/** runtime.v1 / v1alpha2 PodSandbox. */
function podSandbox(r: WireReader): PodSandboxInfo {
  const end = r.lenEnd();
  const m = new WireReader(r.buf, r.pos, end);
  let id = '';
  let name = '';
  let uid = '';
  let namespace = '';
  let attempt = 0;
  let state: SandboxState = 'ready';
  let createdAtNs = 0n;
  const labels: Record<string, string> = {};
  const annotations: Record<string, string> = {};
  while (m.pos < end) {
    const tag = m.uint32();
    const wire = tag & 7;
    switch (tag >>> 3) {
      case 1: if (wire === WIRE_LEN) { id = m.string(); continue; } break;
      case 2: if (wire === WIRE_LEN) { const md = metadata(m, [1, 2, 3], 4); [name = '', uid = '', namespace = ''] = md.strings; attempt = md.attempt; continue; } break;
      case 3: if (wire === WIRE_VARINT) { state = m.uint32() === 0 ? 'ready' : 'notready'; continue; } break;
      case 4: if (wire === WIRE_VARINT) { createdAtNs = m.int64(); continue; } break;
      case 5: if (wire === WIRE_LEN) { mapEntry(m, labels); continue; } break;
      case 6: if (wire === WIRE_LEN) { mapEntry(m, annotations); continue; } break;
    }
    m.skip(wire);
  }
  r.pos = end;
  return { id, name, uid, namespace, attempt, state, createdAtNs, labels, annotations };
}

function repeated<T>(buf: Buffer, field: number, one: (r: WireReader) => T): T[] {
  const r = new WireReader(buf, 0, buf.length);
  const out: T[] = [];
  while (r.pos < r.end) {
    const tag = r.uint32();
    const wire = tag & 7;
    if (tag >>> 3 === field && wire === WIRE_LEN) out.push(one(r));
    else r.skip(wire);
  }
  return out;
}

/** ListContainersResponse { repeated Container containers = 1; } */
export function decodeListContainersResponse(buf: Buffer): ContainerInfo[] {
  return repeated(buf, 1, container);
}

/** ListPodSandboxResponse { repeated PodSandbox items = 1; } */
export function decodeListPodSandboxResponse(buf: Buffer): PodSandboxInfo[] {
  return repeated(buf, 1, podSandbox);
}
