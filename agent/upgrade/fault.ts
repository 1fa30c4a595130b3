/**
 * Fault injection for crash tests. Off unless KIP_AGENT_FAULT is set, e.g.
 * `KIP_AGENT_FAULT=SWAP_BINARY:before,VERIFY:after`: at each named point the agent SIGKILLs
 * itself, once (a marker under `<stateDir>/faults-fired/` keeps a restarted agent from dying again
 * at the same point).
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../../lib/logger.ts';
import { InvalidInputError } from '../../lib/errors.ts';
import { noFaults, type FaultHook } from './ports.ts';
import { ALL_ACTING_STEPS } from './types.ts';

export const FAULT_ENV = 'KIP_AGENT_FAULT';

export function parseFaultSpec(spec: string): Set<string> {
  const out = new Set<string>();
  for (const part of spec.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const [step, point] = part.split(':');
    if (!step || !(ALL_ACTING_STEPS as readonly string[]).includes(step) || (point !== 'before' && point !== 'after')) {
      throw new InvalidInputError('FAULT_SPEC_INVALID', `${FAULT_ENV}: ${JSON.stringify(part)} is not STEP:before|after with STEP one of ${ALL_ACTING_STEPS.join(', ')}`);
    }
    out.add(`${step}:${point}`);
  }
  return out;
}

export function faultHookFromEnv(spec: string | undefined, stateDir: string, logger: Logger, kill: () => void = () => process.kill(process.pid, 'SIGKILL')): FaultHook {
  if (!spec) return noFaults;
  const points = parseFaultSpec(spec);
  const dir = path.join(stateDir, 'faults-fired');
  logger.warn({ points: [...points] }, 'FAULT INJECTION ENABLED: the agent will kill itself at these points');
  return {
    async at(step, point) {
      const key = `${step}:${point}`;
      if (!points.has(key)) return;
      const marker = path.join(dir, key.replace(':', '-'));
      if (existsSync(marker)) return;
      mkdirSync(dir, { recursive: true });
      const fd = openSync(marker, 'w');
      writeSync(fd, String(Date.now()));
      fsyncSync(fd);
      closeSync(fd);
      logger.warn({ step, point }, 'fault injection: SIGKILL now');
      kill();
      // SIGKILL does not return; a test's kill function may, and then the run waits forever.
      await new Promise<never>(() => {});
    },
  };
}
