/**
 * One kip-lab of an e2e test file: its state dir, `kip-lab <args> --state-dir DIR` run from the
 * checkout, and the lab record once `up` has run (shared by lab-docker-upgrade and lab-role-agents).
 */
import path from 'node:path';
import { execaExec, type ExecResult } from '../../lib/exec.ts';
import type { LabState } from '../../scripts/lab/lab.ts';

const REPO = path.resolve(import.meta.dirname, '..', '..');

export class LabSession {
  stateDir = '';
  /** What `kip-lab up` returned (printed when the lab did not come up). */
  upResult: ExecResult | undefined;
  state: LabState | undefined;

  kipLab(args: readonly string[], timeoutMs: number): Promise<ExecResult> {
    return execaExec(process.execPath, [path.join(REPO, 'bin/kip-lab.mjs'), ...args, '--state-dir', this.stateDir], { timeoutMs, cwd: REPO });
  }

  /** The lab's record; throws with kip-lab up's output when it is not up. */
  lab(): LabState {
    if (!this.state || this.state.status !== 'up') throw new Error(`the lab did not come up:\n${this.upResult?.stdout ?? ''}\n${this.upResult?.stderr ?? ''}`);
    return this.state;
  }
}
