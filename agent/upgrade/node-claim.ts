/**
 * The node's one mutating claim: an upgrade run, a rollback, recovery of an interrupted run, a
 * heal, a Hold, a Release and a staged-binary removal each take it for as long as they act, and
 * while one holds it every other is refused with RUN_IN_PROGRESS naming the holder.
 *
 * The check and the take are one synchronous step (`take` has no await before it sets the holder),
 * so two calls racing through the event loop can never both pass: before, Upgrade looked at the
 * heal's busy flag and the heal at the agent's run, each through awaits, and both could start.
 *
 * Journaled like the runs: `<stateDir>/node-claim.json` is written (atomically) before the holder
 * acts (`journaled` settles; a failed write releases the claim and fails the call, so nothing
 * acts unjournaled) and removed when it ends. Writes go through one queue in claim order, so a
 * release's removal never lands after the next holder's write. At start-up `recover()` reports a
 * claim a killed agent left; what it was doing is finished by that kind's own journal (runs:
 * recovery.ts, heals: heal.ts recover, holds: HoldStore.reconcile), which takes the claim anew.
 */
import path from 'node:path';
import type { Clock } from '../../lib/clock.ts';
import type { Logger } from '../../lib/logger.ts';
import { Codes, PreconditionError } from './errors.ts';
import type { FileSystem } from './fs.ts';

export type ClaimKind = 'upgrade' | 'rollback' | 'recovery' | 'heal' | 'hold' | 'release' | 'remove-staged';

/** Kinds that are a run of the upgrade machine (a run id is their id). */
export const RUN_KINDS: ReadonlySet<ClaimKind> = new Set(['upgrade', 'rollback', 'recovery']);

export interface ClaimHolder {
  readonly kind: ClaimKind;
  /** Run id, heal id, component name, or component@version. */
  readonly id: string;
  readonly sinceMs: number;
}

export interface Claim {
  readonly holder: ClaimHolder;
  /** Settles once the claim is journaled; rejects (and the claim is released) when it could not be. */
  readonly journaled: Promise<void>;
  /** Same claim, now for another run (recovery goes through several interrupted runs). */
  retitle(kind: ClaimKind, id: string): void;
  /** Frees the claim at once; the promise settles (never rejects) once its journal is removed. Idempotent. */
  release(): Promise<void>;
}

export interface NodeClaimPorts {
  readonly fs: Pick<FileSystem, 'writeAtomic' | 'remove' | 'readText' | 'mkdirp'>;
  readonly stateDir: string;
  readonly clock: Clock;
  readonly logger: Logger;
}

export const CLAIM_FILE = 'node-claim.json';

const describe = (h: ClaimHolder): string => {
  switch (h.kind) {
    case 'upgrade':
    case 'recovery':
      return `run ${h.id}`;
    case 'rollback':
      return `rollback of run ${h.id}`;
    case 'heal':
      return `heal ${h.id}`;
    case 'hold':
      return `Hold of ${h.id}`;
    case 'release':
      return `Release of ${h.id}`;
    case 'remove-staged':
      return `removal of staged ${h.id}`;
  }
};

/** RUN_IN_PROGRESS naming the holder (details.runId when it is a run, as before, and details.holder always). */
export function claimedError(h: ClaimHolder): PreconditionError {
  const details = { holder: h.kind, holderId: h.id, ...(RUN_KINDS.has(h.kind) ? { runId: h.id } : {}) };
  return new PreconditionError(Codes.RUN_IN_PROGRESS, `${describe(h)} is in progress on this node`, details);
}

export class NodeClaim {
  readonly #p: NodeClaimPorts;
  readonly #log: Logger;
  #holder: ClaimHolder | undefined;
  #journal: Promise<void> = Promise.resolve();

  constructor(ports: NodeClaimPorts) {
    this.#p = ports;
    this.#log = ports.logger.child({ component: 'node-claim' });
  }

  get holder(): ClaimHolder | undefined {
    return this.#holder;
  }

  #file(): string {
    return path.join(this.#p.stateDir, CLAIM_FILE);
  }

  #enqueue(write: () => Promise<void>): Promise<void> {
    const p = this.#journal.then(write);
    this.#journal = p.catch(() => undefined);
    return p;
  }

  #write(h: ClaimHolder): Promise<void> {
    return this.#enqueue(async () => {
      await this.#p.fs.mkdirp(this.#p.stateDir);
      await this.#p.fs.writeAtomic(this.#file(), `${JSON.stringify({ schema: 1, ...h })}\n`);
    });
  }

  /** Takes the claim, or throws RUN_IN_PROGRESS naming the holder. Nothing is awaited before the take. */
  take(kind: ClaimKind, id: string): Claim {
    const current = this.#holder;
    if (current) throw claimedError(current);
    let holder: ClaimHolder = { kind, id, sinceMs: this.#p.clock.now() };
    this.#holder = holder;
    let released: Promise<void> | undefined;
    const release = (): Promise<void> => {
      if (released) return released;
      if (this.#holder === holder) this.#holder = undefined;
      released = this.#enqueue(() => this.#p.fs.remove(this.#file())).catch((err: unknown) => this.#log.warn({ err }, 'the node claim journal was not removed (the next claim overwrites it)'));
      return released;
    };
    const journaled = this.#write(holder).catch(async (err: unknown) => {
      await release();
      throw err;
    });
    // A caller that never awaits `journaled` must not see an unhandled rejection.
    journaled.catch(() => undefined);
    return {
      get holder() {
        return holder;
      },
      journaled,
      retitle: (k, i) => {
        if (released) return;
        holder = { kind: k, id: i, sinceMs: holder.sinceMs };
        this.#holder = holder;
        void this.#write(holder).catch((err: unknown) => this.#log.warn({ err }, 'the node claim journal was not updated'));
      },
      release,
    };
  }

  /** Throws RUN_IN_PROGRESS while anything holds the claim (a read-only call that must not overlap). */
  assertFree(): void {
    if (this.#holder) throw claimedError(this.#holder);
  }

  /** Takes the claim, waits for its journal, runs fn, releases. */
  async with<T>(kind: ClaimKind, id: string, fn: () => Promise<T>): Promise<T> {
    const claim = this.take(kind, id);
    try {
      await claim.journaled;
      return await fn();
    } finally {
      await claim.release();
    }
  }

  /** Start-up: a claim journal left by a killed agent is reported and removed; returns it. */
  async recover(): Promise<ClaimHolder | undefined> {
    let left: ClaimHolder | undefined;
    try {
      const text = await this.#p.fs.readText(this.#file());
      if (text === undefined) return undefined;
      left = JSON.parse(text) as ClaimHolder;
    } catch (err) {
      this.#log.warn({ err }, 'the node claim journal is unreadable: removing it');
    }
    if (left) this.#log.warn({ holder: left.kind, id: left.id, sinceMs: left.sinceMs }, `the agent stopped while ${describe(left)} held the node; its own journal finishes it`);
    if (!this.#holder) await this.#enqueue(() => this.#p.fs.remove(this.#file())).catch(() => undefined);
    return left;
  }
}
