/**
 * Wiring of the node's eyes (issue 11) for agent/main.ts: the runtime the kubelet uses, the node
 * watcher feeding the Watch stream, and the Inventory / HashReport sources. Composition only.
 */
import { join } from 'node:path';
import { systemClock } from '../lib/clock.ts';
import { execaExec } from '../lib/exec.ts';
import type { Logger } from '../lib/logger.ts';
import type { JsonNode } from '../lib/knowledge/hash/index.ts';
import type { AgentConfig } from './config.ts';
import { autoRuntime, runtimeFromConfig, type AutoRuntime } from './runtime/select.ts';
import { createWatchHandlers, type WatchHandlers } from './server-watch.ts';
import { createJournal, createSystemd } from './systemd/index.ts';
import { procfs } from './upgrade/adapters.ts';
import type { UpgradeAgent } from './upgrade/agent.ts';
import { nodeFileSystem } from './upgrade/fs.ts';
import { systemdPort } from './upgrade/wiring.ts';
import { EventLog } from './watch/event-log.ts';
import { hashReport, inventory } from './watch/inventory.ts';
import { JournalWatcher } from './watch/journal-watcher.ts';
import { NodeWatcher } from './watch/node-watcher.ts';

/** The runtime reader the agent uses everywhere: config criEndpoint, or detected from the kubelet. */
export function nodeRuntime(config: AgentConfig, logger: Logger): AutoRuntime {
  const systemd = systemdPort(createSystemd(execaExec));
  const proc = procfs();
  const hostPath = (p: string) => (config.rootPrefix ? join(config.rootPrefix, p) : p);
  const fixed = runtimeFromConfig(config.criEndpoint);
  return autoRuntime({
    ...(fixed ? { fixed } : {}),
    kubeletArgv: async () => {
      const unit = await systemd.unitInfo(config.kubeletUnit);
      return unit.mainPid > 0 ? (await proc.process(unit.mainPid))?.argv : undefined;
    },
    readText: (p) => nodeFileSystem.readText(hostPath(p)),
    logger: logger.child({ component: 'runtime' }),
  });
}

export interface EyesWorkload {
  readonly listNodePods: () => Promise<JsonNode>;
  readonly nodeExists: () => Promise<boolean>;
}

export function startEyes(input: { config: AgentConfig; agent: UpgradeAgent; runtime: AutoRuntime; workload?: EyesWorkload; logger: Logger }): { handlers: WatchHandlers; stop: () => Promise<void> } {
  const { config, agent, runtime, workload, logger } = input;
  const systemd = systemdPort(createSystemd(execaExec));
  const events = new EventLog(config.watchBufferEvents);
  const watcher = new NodeWatcher({
    reader: runtime,
    skipFile: async () => {
      const s = await agent.skipFileInfo();
      return s.present ? s.raw : undefined;
    },
    kubelet: async () => {
      const u = await systemd.unitInfo(config.kubeletUnit);
      return { active: u.activeState === 'active', mainPid: u.mainPid };
    },
    log: events,
    clock: systemClock,
    intervalMs: config.watchPollMs,
    logger,
  });
  watcher.start();
  const journal = new JournalWatcher({ journal: createJournal(execaExec), unit: config.kubeletUnit, log: events, clock: systemClock, logger });
  journal.start();
  const handlers = createWatchHandlers({
    events,
    ...(workload
      ? {
          inventory: async () => {
            const [pods, containers, node, rt] = await Promise.all([workload.listNodePods(), runtime.listContainers(), agent.nodeInfo(), runtime.current()]);
            return { kubeletVersion: node.kubeletVersion, runtime: `${rt.kind} ${rt.endpoint}`, containers: inventory(pods, containers) };
          },
          hashReport: async (targetVersion: string | undefined) => {
            const [nodeFound, podList, containers, node] = await Promise.all([workload.nodeExists(), workload.listNodePods(), runtime.listContainers(), agent.nodeInfo()]);
            const skip = node.skipFile;
            return hashReport({
              nodeFound, nodeName: config.nodeName, podList, containers, kubeletVersion: node.kubeletVersion,
              ...(skip.present && skip.valid ? { skipFileVersion: skip.version } : {}),
              ...(targetVersion ? { targetVersion } : {}),
            });
          },
        }
      : {}),
    logger,
  });
  return { handlers, stop: async () => void (await Promise.all([watcher.stop(), journal.stop()])) };
}
