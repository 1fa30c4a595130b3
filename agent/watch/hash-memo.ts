/**
 * The container hashes of the last inventory pass, reused by the next one. The drift loop builds
 * an inventory every consistency interval (60 s by default), and hashing every container for every
 * supported version is most of its CPU: about 0.4 s a pass with 500 containers (s4-idle's
 * measurement), which alone would put an idle agent near 1 % of a core. A container's hash is a
 * pure function of its spec's bytes as the apiserver served them and the version's engine
 * (lib/knowledge/hash: decode reads only the container object), so the same bytes give the same
 * hashes. The key is a digest of those bytes, not the bytes: a JsonNode's raw text is a slice of
 * the whole pod list, and keeping it would keep every list alive. Entries not seen in a pass are
 * dropped at its end, so the memo holds one pass's containers at most.
 */
import { createHash } from 'node:crypto';

export interface VersionHash {
  readonly kubeVersion: string;
  readonly hash: string;
}

export class HashMemo {
  private previous = new Map<string, readonly VersionHash[]>();
  private current = new Map<string, readonly VersionHash[]>();
  private hitCount = 0;
  private missCount = 0;

  /** The hashes of the container whose spec text is `raw` at `versions`, computed only when not seen in the last pass. */
  hashes(raw: string, versions: readonly string[], compute: () => readonly VersionHash[]): readonly VersionHash[] {
    const key = `${versions.join(',')}\0${createHash('sha256').update(raw).digest('base64')}`;
    const known = this.current.get(key) ?? this.previous.get(key);
    if (known) {
      this.hitCount++;
      this.current.set(key, known);
      return known;
    }
    this.missCount++;
    // A spec the engine cannot decode throws here and is not remembered: its error is reported each pass.
    const computed = compute();
    this.current.set(key, computed);
    return computed;
  }

  /** Ends a pass: what it did not use is forgotten. */
  endPass(): void {
    this.previous = this.current;
    this.current = new Map();
  }

  get size(): number {
    return this.previous.size + this.current.size;
  }

  stats(): { readonly hits: number; readonly misses: number } {
    return { hits: this.hitCount, misses: this.missCount };
  }
}
