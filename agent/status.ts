/** The one-line summary systemd shows for kip-agent (STATUS=, `systemctl status kip-agent`). */
import type { NodeInfo } from './upgrade/types.ts';

export function nodeStatusLine(n: NodeInfo, listen: string): string {
  const kubelet = n.kubeletVersion ? `kubelet ${n.kubeletVersion} ${n.unit.activeState}` : `kubelet missing (${n.kubeletBinary})`;
  const skip = n.skipFile.present ? `skip file ${n.skipFile.valid ? n.skipFile.version : 'INVALID'}` : 'no skip file';
  const run = n.lastRunId ? `, last run ${n.lastRunId} ${n.lastRunPhase.replace(/^RUN_/, '').toLowerCase()}` : '';
  return `serving ${listen}: ${kubelet}, ${skip}, ${n.staged.length} staged${run}`;
}
