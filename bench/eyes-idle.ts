/** Part 2 of the eyes bench: filled in below. */
import type { TestPki } from '../scripts/nspawn/test-pki.ts';

export async function runEyesIdle(_tmp: string, _pki: TestPki): Promise<void> {
  process.stdout.write('idle: not measured yet\n');
}
