/**
 * One look at an expensive fact, shared: concurrent callers wait for the same load, and for
 * `ttlMs` after it every caller gets its result. 500 concurrent GetNode calls used to run 500
 * `kubelet --version` and `systemctl show` (issue 8, defect 14); now they run one.
 */
import type { Clock } from '../lib/clock.ts';

export class SingleFlight<T> {
  private cached: { at: number; value: T } | undefined;
  private inflight: Promise<T> | undefined;
  private generation = 0;

  constructor(
    private readonly load: () => Promise<T>,
    private readonly ttlMs: number,
    private readonly clock: Clock,
  ) {}

  get(): Promise<T> {
    if (this.cached && this.clock.now() - this.cached.at < this.ttlMs) return Promise.resolve(this.cached.value);
    if (this.inflight) return this.inflight;
    const generation = this.generation;
    const p = this.load().then((value) => {
      if (generation === this.generation && this.ttlMs > 0) this.cached = { at: this.clock.now(), value };
      return value;
    });
    this.inflight = p;
    const clear = () => {
      if (this.inflight === p) this.inflight = undefined;
    };
    p.then(clear, clear);
    return p;
  }

  /** After a change: the next get() looks again (a load already running is not reused). */
  invalidate(): void {
    this.generation += 1;
    this.cached = undefined;
    this.inflight = undefined;
  }
}
