/**
 * Verification of a started component: its unit active, its main process running the binary,
 * healthz answering `ok`, all stable on one PID and NRestarts for `stableMs`, and the binary
 * printing the expected version. Time comes from the Clock port only.
 */
import { toKipError } from './kip-error.ts';
import { StepFailedError } from './errors.ts';
import type { StepContext } from './steps/context.ts';

export interface Verified {
  /** What the `onUp` check said about the process that stayed healthy. */
  readonly note: string;
  readonly stableForMs: number;
  readonly mainPid: number;
  readonly firstHealthyAtUnixMs: number;
}

/** True when the process runs `binary` (directly, or as the script its interpreter runs). */
function runsBinary(p: { exe: string; argv: string[] }, binary: string): boolean {
  if (p.exe === binary) return true;
  return p.argv[1] === binary || p.argv[2] === binary;
}

type Probe = { ok: true; pid: number; restarts: number } | { ok: false; why: string };

async function probe(ctx: StepContext): Promise<Probe> {
  const c = ctx.component;
  const u = await ctx.deps.systemd.unitInfo(c.unit);
  if (u.activeState !== 'active') return { ok: false, why: `${c.unit} is ${u.activeState}/${u.subState}` };
  if (u.mainPid <= 0) return { ok: false, why: `${c.unit} has no main process` };
  const p = await ctx.deps.proc.process(u.mainPid);
  if (!p) return { ok: false, why: `main process ${u.mainPid} is gone` };
  if (!runsBinary(p, c.binary)) return { ok: false, why: `main process ${u.mainPid} runs ${p.exe}, not ${c.binary}` };
  const h = await ctx.deps.health.healthz(c.healthzUrl, Math.max(500, Math.min(2_000, ctx.pollMs * 4)), c.insecureSkipVerify);
  if (!h.ok) return { ok: false, why: `${c.healthzUrl}: ${h.detail}` };
  return { ok: true, pid: u.mainPid, restarts: u.nRestarts };
}

/**
 * Resolves when the component is verified, or throws StepFailedError(code) at the deadline.
 * `onUp` runs once for each main PID that answers healthy; it throws to fail at once, and
 * returns undefined when the process went away meanwhile.
 */
export async function verifyComponent(ctx: StepContext, expect: string, timeoutMs: number, code: string, onUp?: (pid: number) => Promise<string | undefined>): Promise<Verified> {
  const c = ctx.component;
  // The version check runs beside the first probes: `--version` of a real kubelet takes a while.
  const versionCheck = ctx.deps.kubelet.version(ctx.host(c.binary)).then(
    (printed) => (printed === expect ? undefined : new StepFailedError(code, `${c.binary} reports ${printed}, expected ${expect}`)),
    (err: unknown) => toKipError(err),
  );
  const clock = ctx.deps.clock;
  const deadline = clock.now() + timeoutMs;
  let since: number | undefined;
  let pid = 0;
  let restarts = 0;
  let why = 'not probed';
  let firstHealthyAt = 0;
  let checkedPid = 0;
  let note = '';
  for (;;) {
    let r = await probe(ctx);
    if (r.ok && onUp && r.pid !== checkedPid) {
      const said = await onUp(r.pid);
      if (said === undefined) r = { ok: false, why: `main process ${r.pid} is gone` };
      else {
        checkedPid = r.pid;
        note = said;
      }
    }
    const now = clock.now();
    if (r.ok) {
      if (firstHealthyAt === 0) firstHealthyAt = now;
      if (since === undefined || r.pid !== pid || r.restarts !== restarts) {
        since = now;
        pid = r.pid;
        restarts = r.restarts;
      }
      if (now - since >= ctx.stableMs) {
        const versionProblem = await versionCheck;
        if (versionProblem) throw versionProblem;
        return { note, stableForMs: now - since, mainPid: pid, firstHealthyAtUnixMs: firstHealthyAt };
      }
      why = `healthy for only ${now - since} ms`;
    } else {
      since = undefined;
      why = r.why;
    }
    if (now >= deadline) {
      const versionProblem = await versionCheck;
      if (versionProblem) throw versionProblem;
      throw new StepFailedError(code, `the ${expect} ${c.name} did not become stable and healthy within ${timeoutMs} ms: ${why}`, { lastProblem: why });
    }
    await clock.sleep(ctx.pollMs);
  }
}
