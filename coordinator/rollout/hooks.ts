/**
 * `--hook pre=CMD` / `--hook post=CMD`: commands the operator runs around each control-plane step
 * (silence alerting, say). The command is a shell command line the operator wrote, so it runs as
 * `sh -c CMD` (the only place kip uses a shell), through lib/exec.ts with a timeout, with the
 * run's facts in the environment. A pre hook that fails pauses the run before anything is held.
 */
import { InvalidInputError } from '../../lib/errors.ts';
import type { Exec } from '../../lib/exec.ts';
import type { HookSpec } from './spec.ts';

export function parseHook(text: string): HookSpec {
  const m = /^(pre|post)=(.*)$/s.exec(text);
  if (!m || m[2]!.trim() === '') {
    throw new InvalidInputError('HOOK_INVALID', `--hook "${text}" does not parse: write --hook pre=COMMAND or --hook post=COMMAND (e.g. --hook 'pre=amtool silence add alertname=~.+ -d 2h')`, { hook: text });
  }
  return { when: m[1] as 'pre' | 'post', command: m[2]! };
}

export interface HookContext {
  readonly runId: string;
  readonly step: number;
  readonly from: string;
  readonly to: string;
}

export interface HookResult {
  readonly ok: boolean;
  readonly detail: string;
}

export async function runHook(exec: Exec, hook: HookSpec, ctx: HookContext, timeoutMs: number): Promise<HookResult> {
  const env: Record<string, string> = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
  const r = await exec('sh', ['-c', hook.command], {
    timeoutMs,
    env: { ...env, KIP_HOOK: hook.when, KIP_RUN_ID: ctx.runId, KIP_STEP: String(ctx.step), KIP_FROM: ctx.from, KIP_TO: ctx.to },
  });
  const tail = `${r.stderr}${r.stdout}`.trim().split('\n').slice(-3).join(' | ');
  if (r.timedOut) return { ok: false, detail: `timed out after ${Math.round(timeoutMs / 1000)} s${tail ? `: ${tail}` : ''}` };
  if (r.exitCode !== 0) return { ok: false, detail: `exited ${r.exitCode ?? r.signal ?? '?'}${tail ? `: ${tail}` : ''}` };
  return { ok: true, detail: tail };
}
