/**
 * Which component a binary is (pure). Every Kubernetes binary prints the same `Kubernetes vX.Y.Z`
 * for --version, so a kube-proxy binary staged as kube-apiserver would pass a version check; the
 * usage line of --help names the program (cobra: `Usage:\n  kube-apiserver [flags]`).
 */
import { COMPONENT_NAMES, type ComponentName } from './types.ts';

export function componentFromHelp(helpText: string): ComponentName | undefined {
  const m = /^Usage:\s*\n\s+(\S+)/m.exec(helpText);
  const prog = m?.[1]?.split('/').pop();
  return COMPONENT_NAMES.find((n) => n === prog);
}
