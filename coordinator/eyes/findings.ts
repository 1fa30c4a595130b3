/**
 * A node whose kubelet keeps logging "use of closed network connection" while its Node is
 * NotReady: the kubelet's pooled HTTP/2 connection to the apiserver broke and is never redialled
 * (golang/go#34978, kubernetes#87615; fixed by kubernetes PR #100376, which closes idle
 * connections on failed health checks). The fix is to restart the kubelet, which kip does through
 * the agent (kip heal --node N): safe while the skip file is present. Pure.
 */

export interface BrokenConnectionInput {
  readonly node: string;
  /** The Node's Ready condition: true, false, or undefined (Unknown / no Node). */
  readonly ready: boolean | undefined;
  readonly errors: { readonly windowMinutes: number; readonly count: number; readonly minutesWithErrors: number; readonly lastAtUnixMs: number };
  readonly skipFilePresent: boolean;
}

export interface BrokenConnectionFinding {
  readonly node: string;
  readonly count: number;
  readonly windowMinutes: number;
  readonly why: string;
  readonly fix: string;
}

/** "Repeatedly": at least this many lines in the window. */
export const REPEATED_ERRORS = 3;

export function brokenConnectionFindings(nodes: readonly BrokenConnectionInput[]): BrokenConnectionFinding[] {
  return nodes
    .filter((n) => n.ready !== true && n.errors.count >= REPEATED_ERRORS)
    .map((n) => ({
      node: n.node,
      count: n.errors.count,
      windowMinutes: n.errors.windowMinutes,
      why: `the Node is ${n.ready === false ? 'NotReady' : 'not Ready (Unknown)'} and its kubelet logged "use of closed network connection" ${n.errors.count} times in ${n.errors.windowMinutes} min: its pooled HTTP/2 connection to the apiserver is broken (golang/go#34978, kubernetes#87615; fixed by kubernetes PR #100376)`,
      fix: n.skipFilePresent
        ? `kip heal --node ${n.node} (restarts the kubelet; safe: the skip file is present)`
        : `kip heal --node ${n.node} (restarts the kubelet; the agent refuses if a container still carries an old hash)`,
    }));
}
