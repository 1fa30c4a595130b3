/**
 * For benches that serve the agent's gRPC API in-process for one part only (staging, Watch):
 * an UpgradeAgent whose nodeInfo answers from the StageStore and whose every other method throws,
 * so a bench never silently measures an upgrade path it did not set up.
 */
import type { UpgradeAgent } from '../agent/upgrade/agent.ts';
import type { StageStore } from '../agent/upgrade/stage.ts';
import type { NodeInfo } from '../agent/upgrade/types.ts';

export function handlersOnlyAgent(name: string, kubeletVersion: string, stage: StageStore): UpgradeAgent {
  const nodeInfo = async (): Promise<NodeInfo> => ({
    nodeName: name, agentVersion: 'bench', kubeletBinary: '/usr/bin/kubelet', kubeletVersion, kubeletSha256: '', kubeletPatched: true,
    unit: { name: 'kubelet.service', activeState: 'active', subState: 'running', mainPid: 0, startedAtUnixMs: 0, privateTmp: false },
    skipFile: { path: '', present: false, valid: false, version: '', unixSeconds: 0, raw: '', problem: '' },
    disks: [], staged: await stage.list(), lastRunId: '', lastRunPhase: '',
  });
  return new Proxy({ nodeInfo } as unknown as UpgradeAgent, {
    get: (t, p) => (p in t ? (t as unknown as Record<string | symbol, unknown>)[p] : () => { throw new Error(`bench agent: ${String(p)} is not part of this bench`); }),
  });
}
