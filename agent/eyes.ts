/**
 * Wiring of the node's eyes (issue 11) for agent/main.ts: the runtime the kubelet uses, the node
 * watcher feeding the Watch stream, and the Inventory / HashReport sources. Composition only.
 */
import { lookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { systemClock } from '../lib/clock.ts';
import { kubeconfigServer } from '../lib/kube/kubeconfig.ts';
import { execaExec } from '../lib/exec.ts';
import type { Logger } from '../lib/logger.ts';
import type { JsonNode } from '../lib/knowledge/hash/index.ts';
import type { AgentConfig } from './config.ts';
import { autoRuntime, runtimeFromConfig, type AutoRuntime } from './runtime/select.ts';
import { createWatchHandlers, eyesNodeFields, type InventoryView, type WatchHandlers } from './server-watch.ts';
import { createJournal, createSystemd } from './systemd/index.ts';
import { httpHealth, procfs } from './upgrade/adapters.ts';
import type { UpgradeAgent } from './upgrade/agent.ts';
import { nodeFileSystem } from './upgrade/fs.ts';
import { systemdPort } from './upgrade/wiring.ts';
import { EventLog } from './watch/event-log.ts';
import { dockerEvents } from './runtime/docker-events.ts';
import { containerdEvents } from './runtime/containerd-events.ts';
import { HashMemo } from './watch/hash-memo.ts';
import { acceptedVersions, hashReport, inventory } from './watch/inventory.ts';
import { driftEvents } from './watch/drift.ts';
import { HealService } from './heal/heal.ts';
import { readHealFacts } from './heal/facts.ts';
import type { NodeInfo as PbNodeInfo } from '../proto/kip/generated/kip/v1/NodeInfo.ts';
import { connectionsTo, type Endpoint } from './watch/connections.ts';
import { JournalWatcher } from './watch/journal-watcher.ts';
import { NodeWatcher } from './watch/node-watcher.ts';
import { KubeletProbe } from './watch/kubelet-probe.ts';

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

export interface Eyes {
  readonly handlers: WatchHandlers;
  /** GetNode's fields from the watchers: apiserver connections and closed-connection errors. */
  readonly nodeFields: () => Partial<PbNodeInfo>;
  readonly heal: HealService;
  readonly stop: () => Promise<void>;
}

export function startEyes(input: { config: AgentConfig; agent: UpgradeAgent; runtime: AutoRuntime; workload?: EyesWorkload; logger: Logger }): Eyes {
  const { config, agent, runtime, workload, logger } = input;
  const systemd = systemdPort(createSystemd(execaExec));
  const events = new EventLog(config.watchBufferEvents);
  const endpoints = config.kubeconfig ? apiserverEndpoints(config.kubeconfig) : undefined;
  const kubelet = new KubeletProbe({
    unit: async () => {
      const u = await systemd.unitInfo(config.kubeletUnit);
      return { active: u.activeState === 'active', mainPid: u.mainPid };
    },
    procStat: (pid) => readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined),
    clock: systemClock,
    confirmEveryMs: config.kubeletConfirmMs,
  });
  const watcher = new NodeWatcher({
    reader: runtime,
    skipFile: async () => {
      const s = await agent.skipFileInfo();
      return s.present ? s.raw : undefined;
    },
    kubelet: () => kubelet.read(),
    ...(endpoints ? { connections: async (pid: number) => connectionsTo(pid, await endpoints()) } : {}),
    log: events,
    clock: systemClock,
    intervalMs: config.watchPollMs,
    // The runtime's own event stream wakes the watcher (restart detection without waiting for the
    // next poll): dockerd's /events on Docker nodes; on containerd (whose 1.6 CRI has no
    // GetContainerEvents) its events service on the same socket. Another CRI runtime has neither:
    // polling alone, the stream looked for again after the retry delay.
    wake: async function* (signal: AbortSignal) {
      const rt = await runtime.current();
      if (rt.kind === 'docker') yield* dockerEvents(rt.endpoint, signal);
      else if ((await runtime.version()).runtimeName === 'containerd') yield* containerdEvents(rt.endpoint, signal);
    },
    wakeRetryMs: 1_000,
    wakeRetryMaxMs: 30_000,
    // containerd's stream, once its probe came back, covers every change CRI lists: idle ticks skip
    // the list (about 85 % of a poll's CPU with 500 containers, bench/eyes-poll-profile.ts), and a
    // full list still runs every 10 s in case an event was missed.
    eventsCoverRuntime: { fullListMs: 10_000 },
    logger,
  });
  watcher.start();
  const journal = new JournalWatcher({ journal: createJournal(execaExec), unit: config.kubeletUnit, log: events, clock: systemClock, logger, onUnitMessage: () => kubelet.recheck() });
  journal.start();
  const hashMemo = new HashMemo();
  const inventoryView = workload
    ? async (): Promise<InventoryView> => {
        const [pods, containers, node, rt] = await Promise.all([workload.listNodePods(), runtime.listContainers(), agent.nodeInfo(), runtime.current()]);
        const skipFileVersion = node.skipFile.present && node.skipFile.valid ? node.skipFile.version : '';
        const context = node.kubeletVersion ? { kubeletVersion: node.kubeletVersion, ...(skipFileVersion ? { skipFileVersion } : {}) } : {};
        return {
          kubeletVersion: node.kubeletVersion,
          runtime: `${rt.kind} ${rt.endpoint}`,
          containers: inventory(pods, containers, undefined, context, hashMemo),
          skipFileVersion,
          acceptedVersions: node.kubeletVersion ? acceptedVersions(node.kubeletVersion, skipFileVersion || undefined) : [],
        };
      }
    : undefined;
  // Hash drift is looked for as often as the consistency loop runs (it needs the same API list).
  const driftAbort = new AbortController();
  const driftLoop = inventoryView && config.consistencyIntervalMs > 0 ? (async () => {
    const seen = new Map<string, string>();
    const log = logger.child({ component: 'drift' });
    while (!driftAbort.signal.aborted) {
      try {
        const view = await inventoryView();
        for (const e of driftEvents(view.skipFileVersion ? seen : new Map(), view.containers, systemClock.now())) {
          events.append(e);
          log.warn({ pod: `${e.podNamespace}/${e.podName}`, container: e.containerName, fields: e.reason }, 'hash drift: the spec changed while the skip file keeps the kubelet from applying it');
        }
      } catch (err) {
        log.debug({ err }, 'drift check skipped: the API or the runtime could not be read');
      }
      await systemClock.sleep(config.consistencyIntervalMs, driftAbort.signal);
    }
  })() : undefined;
  const heal = new HealService({
    fs: nodeFileSystem,
    systemd,
    health: httpHealth,
    clock: systemClock,
    logger,
    facts: () => readHealFacts({
      runInProgress: () => agent.runInProgress(),
      nodeInfo: () => agent.nodeInfo(),
      ...(workload ? { workload: { nodeExists: workload.nodeExists, listNodePods: workload.listNodePods } } : {}),
      containers: () => runtime.listContainers(),
    }),
    containers: () => runtime.listContainers(),
    config: { stateDir: config.stateDir, kubeletUnit: config.kubeletUnit, healthzUrl: config.healthzUrl, verifyTimeoutMs: config.verifyTimeoutMs, pollMs: config.pollMs },
    claim: agent.claim,
  });
  const nodeFields = (): Partial<PbNodeInfo> => eyesNodeFields(watcher.connectionCounts, journal.connectionErrors(systemClock.now()));
  const handlers = createWatchHandlers({
    events,
    ...(workload && inventoryView
      ? {
          inventory: inventoryView,
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
  return {
    handlers, nodeFields, heal,
    stop: async () => {
      driftAbort.abort();
      await Promise.all([watcher.stop(), journal.stop(), driftLoop]);
    },
  };
}

/**
 * The apiserver endpoints the kubelet dials: its kubeconfig's server, the host resolved to every
 * address (a load balancer name may have several). Resolved again at most once a minute.
 */
function apiserverEndpoints(kubeconfig: string): () => Promise<Endpoint[]> {
  let cached: { at: number; endpoints: Endpoint[] } | undefined;
  return async () => {
    if (cached && systemClock.now() - cached.at < 60_000) return cached.endpoints;
    // lib/kube/kubeconfig.ts, not client-node's KubeConfig: importing client-node costs the agent
    // +67 MiB of RSS (issue 12's 80 MB idle goal).
    const url = await kubeconfigServer(kubeconfig);
    if (!url) return [];
    const port = Number(url.port || (url.protocol === 'http:' ? 80 : 443));
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const addresses = await lookup(host, { all: true });
    const endpoints = addresses.map((a) => ({ address: a.address, port }));
    cached = { at: systemClock.now(), endpoints };
    return endpoints;
  };
}
