/**
 * V8's optimizing compiler (TurboFan) only while hot, pure work runs (issues 11 and 12: the idle
 * agent under 80 MB RSS). An idle agent's code (the 1 s poll, gRPC, HTTP/2) runs often enough for
 * TurboFan to compile much of it over the first minutes; its zones, its code and the pages of
 * node's own TurboFan code then stay resident: `--no-opt` measured 76.5 -> 67.3 MiB RSS on the
 * idle agent with 500 containers (anonymous 32.7 -> 27.2 MiB, file-backed 43.8 -> 40.1 MiB), at
 * the same CPU. But the hash engine without TurboFan is 3-4x slower (a first inventory pass of
 * 500 containers for every version: about 2.0 s of CPU with it, 6.2 s without). So the agent runs
 * with TurboFan off and turns it on for the duration of each synchronous hashing or parsing pass,
 * which then runs at full speed (1.7-2.0 s, measured the same way).
 *
 * `--turbofan` (alias `--opt`) is read by V8 at each tiering decision (Isolate::use_optimizer),
 * so setting it with v8.setFlagsFromString after start takes effect at the next decision; Node
 * leaves V8's flags writable after start (it relies on setFlagsFromString). Code already optimized
 * stays valid when the flag goes off. NODE_OPTIONS cannot carry `--no-opt` ("not allowed in
 * NODE_OPTIONS"), hence the call at start.
 */
import { setFlagsFromString } from 'node:v8';

let lean = false;
let depth = 0;

/** From now on TurboFan runs only inside hot(). For the agent's composition root; idempotent. */
export function optimizeOnlyHotWork(): void {
  if (lean) return;
  setFlagsFromString('--no-opt');
  lean = true;
}

/**
 * Runs the synchronous `fn` with TurboFan allowed (a no-op wrapper unless optimizeOnlyHotWork()
 * was called). Nested calls keep it on until the outermost returns or throws.
 */
export function hot<T>(fn: () => T): T {
  if (!lean) return fn();
  if (depth++ === 0) setFlagsFromString('--opt');
  try {
    return fn();
  } finally {
    if (--depth === 0) setFlagsFromString('--no-opt');
  }
}
