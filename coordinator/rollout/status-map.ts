/**
 * A persistent map over a fixed key list (a step's nodes): `set` returns a new map and leaves the
 * old one as it was, copying one 32-entry chunk and the chunk index instead of every entry. The
 * scheduler changes one node's status per event and a step may hold thousands of nodes: a full
 * Map copy per change was most of the engine's CPU in the scheduling bench (1000 nodes). It also
 * keeps a count per value, so "how many succeeded" costs nothing.
 */
const CHUNK = 32;

export class StatusMap<V extends string> implements ReadonlyMap<string, V> {
  private constructor(
    private readonly names: readonly string[],
    private readonly index: ReadonlyMap<string, number>,
    private readonly chunks: readonly (readonly V[])[],
    private readonly counts: Readonly<Partial<Record<V, number>>>,
  ) {}

  /** Every key (unique) with the same initial value. */
  static of<V extends string>(names: readonly string[], initial: V): StatusMap<V> {
    // Packed arrays (built by push, never with holes), so slice() copies them on V8's fast path.
    const chunks: V[][] = [];
    for (let i = 0; i < names.length; i += CHUNK) {
      const chunk: V[] = [];
      for (let j = i; j < Math.min(i + CHUNK, names.length); j++) chunk.push(initial);
      chunks.push(chunk);
    }
    return new StatusMap(names, new Map(names.map((n, i) => [n, i])), chunks, { [initial]: names.length } as Partial<Record<V, number>>);
  }

  get size(): number {
    return this.names.length;
  }

  /** The value of the i-th key (key order as given to `of`). */
  at(i: number): V | undefined {
    return this.chunks[Math.floor(i / CHUNK)]?.[i % CHUNK];
  }

  indexOf(name: string): number | undefined {
    return this.index.get(name);
  }

  get(name: string): V | undefined {
    const i = this.index.get(name);
    return i === undefined ? undefined : this.at(i);
  }

  has(name: string): boolean {
    return this.index.has(name);
  }

  /** How many keys hold `value` now. */
  count(value: V): number {
    return this.counts[value] ?? 0;
  }

  /** A new map with `name` set to `value`; a key outside the list is a RangeError (the caller's bug). */
  set(name: string, value: V): StatusMap<V> {
    const i = this.index.get(name);
    if (i === undefined) throw new RangeError(`${name} is not one of this map's keys`);
    const prev = this.at(i)!;
    if (prev === value) return this;
    const c = Math.floor(i / CHUNK);
    const chunk = this.chunks[c]!.slice();
    chunk[i % CHUNK] = value;
    const chunks = this.chunks.slice();
    chunks[c] = chunk;
    const counts: Partial<Record<V, number>> = { ...this.counts };
    counts[prev] = (counts[prev] ?? 0) - 1;
    counts[value] = (counts[value] ?? 0) + 1;
    return new StatusMap(this.names, this.index, chunks, counts);
  }

  *entries(): MapIterator<[string, V]> {
    for (let i = 0; i < this.names.length; i++) yield [this.names[i]!, this.at(i)!];
  }

  *keys(): MapIterator<string> {
    yield* this.names;
  }

  *values(): MapIterator<V> {
    for (let i = 0; i < this.names.length; i++) yield this.at(i)!;
  }

  [Symbol.iterator](): MapIterator<[string, V]> {
    return this.entries();
  }

  forEach(fn: (value: V, key: string, map: ReadonlyMap<string, V>) => void): void {
    for (const [k, v] of this.entries()) fn(v, k, this);
  }
}
