/**
 * `kip status --live`: what the agents see now, beside the run journal. Per node: the kubelet, the
 * skip file, its apiserver connections; then the fleet's connections per endpoint (warned when
 * they multiplied since the counts the engine recorded right before the node's first step of the
 * run; for a node without that record, since the --live look before its step, or else the previous
 * --live look; looks are kept in <state-dir>/connections.json), nodes
 * stuck on broken apiserver connections (with `kip heal`), hash drift, and the containers that
 * still carry an old hash grouped by owner (what to roll so the skip file can go).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { V1Node } from '@kubernetes/client-node';
import { brokenConnectionFindings, type BrokenConnectionFinding } from '../eyes/findings.ts';
import { baselineSnapshot, HISTORY_LIMIT, multipliedConnections, sumPerEndpoint, type ConnectionSnapshot, type ConnectionWarning } from '../eyes/connections.ts';
import { groupOldHashByOwner, type OwnerGroup } from '../eyes/owners.ts';
import { preStepBaseline, withRecordedBaseline } from '../eyes/step-connections.ts';
import type { ConnectionRecord } from '../store/store.ts';
import type { AgentPort, InventoryReport, NodeInfo } from '../fleet/port.ts';
import { formatTable } from './common.ts';

export interface LiveNode {
  readonly node: string;
  readonly ready: boolean | undefined;
  readonly kubelet: string;
  readonly unit: string;
  readonly skipFile: string;
  readonly connections: Readonly<Record<string, number>>;
  readonly closedConnectionErrors: number;
  readonly error: string;
}

export interface DriftRow {
  readonly node: string;
  readonly container: string;
  readonly fields: readonly string[];
  readonly detail: string;
}

export interface LiveStatus {
  readonly nodes: readonly LiveNode[];
  readonly connectionsPerEndpoint: Readonly<Record<string, number>>;
  readonly connectionWarnings: readonly ConnectionWarning[];
  readonly brokenConnections: readonly BrokenConnectionFinding[];
  readonly drift: readonly DriftRow[];
  readonly oldHashByOwner: readonly OwnerGroup[];
}

export const readyOf = (n: V1Node | undefined): boolean | undefined => {
  const c = n?.status?.conditions?.find((x) => x.type === 'Ready');
  return c?.status === 'True' ? true : c?.status === 'False' ? false : undefined;
};

const snapshotFile = (stateDir: string): string => join(stateDir, 'connections.json');

/** The looks taken so far (oldest first); an unreadable file is no history (it is rewritten). */
async function readHistory(stateDir: string): Promise<ConnectionSnapshot[]> {
  try {
    const v = JSON.parse(await readFile(snapshotFile(stateDir), 'utf8')) as { history?: ConnectionSnapshot[] };
    return Array.isArray(v.history) ? v.history.filter((h) => typeof h.at === 'number' && typeof h.nodes === 'object' && h.nodes !== null) : [];
  } catch {
    return [];
  }
}

async function writeHistory(stateDir: string, history: readonly ConnectionSnapshot[]): Promise<void> {
  const file = snapshotFile(stateDir);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(`${file}.tmp`, `${JSON.stringify({ history: history.slice(-HISTORY_LIMIT) })}\n`);
  await rename(`${file}.tmp`, file);
}

export async function liveStatus(input: {
  agents: ReadonlyMap<string, AgentPort>; nodes: readonly V1Node[]; stateDir: string; runId: string; now: number;
  /** When each node's step of the run started (run store node records): the baseline is the look before it. */
  stepStartedAt?: Readonly<Record<string, number>>;
  /** The counts the engine recorded around each node's steps of the run (store.connections). */
  recorded?: readonly ConnectionRecord[];
}): Promise<LiveStatus> {
  const byName = new Map(input.nodes.map((n) => [n.metadata?.name ?? '', n]));
  const names = [...new Set([...input.agents.keys(), ...byName.keys()])].filter((n) => n !== '').sort();
  const looked = await Promise.all(names.map(async (node) => {
    const agent = input.agents.get(node);
    if (!agent) return { node, error: 'no agent endpoint (no InternalIP, not in --inventory)' };
    const [info, inv] = await Promise.allSettled([agent.getNode(), agent.inventory ? agent.inventory() : Promise.reject(new Error('no Inventory'))]);
    return {
      node,
      ...(info.status === 'fulfilled' ? { info: info.value } : { error: info.reason instanceof Error ? info.reason.message : String(info.reason) }),
      ...(inv.status === 'fulfilled' ? { inv: inv.value } : {}),
    } as { node: string; info?: NodeInfo; inv?: InventoryReport; error?: string };
  }));
  const nodes: LiveNode[] = looked.map((l) => {
    const counts = Object.fromEntries((l.info?.apiserverConnections ?? []).map((c) => [c.endpoint, c.established]));
    const skip = l.info?.skipFile;
    return {
      node: l.node,
      ready: readyOf(byName.get(l.node)),
      kubelet: l.info?.kubeletVersion ?? '',
      unit: l.info?.unit ? `${l.info.unit.activeState} pid ${l.info.unit.mainPid}` : '',
      skipFile: !skip ? '' : !skip.present ? 'absent' : skip.valid ? skip.version : `invalid (${skip.problem})`,
      connections: counts,
      closedConnectionErrors: l.info?.connectionErrors?.count ?? 0,
      error: l.error ?? '',
    };
  });
  const current = Object.fromEntries(looked.filter((l) => (l.info?.apiserverConnections.length ?? 0) > 0).map((l) => [l.node, Object.fromEntries(l.info!.apiserverConnections.map((c) => [c.endpoint, c.established]))]));
  const history = await readHistory(input.stateDir);
  const baseline = withRecordedBaseline(preStepBaseline(input.recorded ?? []), baselineSnapshot(history, input.stepStartedAt ?? {}));
  const connectionWarnings = baseline ? multipliedConnections(baseline, current) : [];
  if (Object.keys(current).length > 0) await writeHistory(input.stateDir, [...history, { at: input.now, runId: input.runId, nodes: current }]);
  const brokenConnections = brokenConnectionFindings(looked.filter((l) => l.info).map((l) => ({
    node: l.node,
    ready: readyOf(byName.get(l.node)),
    errors: l.info!.connectionErrors ?? { windowMinutes: 0, count: 0, minutesWithErrors: 0, lastAtUnixMs: 0 },
    skipFilePresent: l.info!.skipFile?.present ?? false,
  })));
  const drift = looked.flatMap((l) => (l.inv?.containers ?? []).filter((c) => c.drift).map((c) => ({ node: l.node, container: `${c.pod}/${c.containerName}`, fields: c.driftFields, detail: c.driftDetail })));
  const oldHashByOwner = groupOldHashByOwner(looked.filter((l) => l.inv).map((l) => ({ node: l.node, containers: l.inv!.containers })));
  return { nodes, connectionsPerEndpoint: sumPerEndpoint(current), connectionWarnings, brokenConnections, drift, oldHashByOwner };
}

export function liveTable(s: LiveStatus): string {
  const lines: string[] = [];
  const conn = (m: Readonly<Record<string, number>>) => Object.entries(m).map(([e, n]) => `${e}=${n}`).join(' ') || '-';
  lines.push(formatTable(['NODE', 'READY', 'KUBELET', 'UNIT', 'SKIP FILE', 'APISERVER CONNS', 'CLOSED-CONN ERRORS', 'ERROR'],
    s.nodes.map((n) => [n.node, n.ready === undefined ? 'Unknown' : n.ready ? 'Ready' : 'NotReady', n.kubelet || '-', n.unit || '-', n.skipFile || '-', conn(n.connections), String(n.closedConnectionErrors), n.error])).trimEnd());
  lines.push(`apiserver connections per endpoint: ${conn(s.connectionsPerEndpoint)}`);
  for (const w of s.connectionWarnings) lines.push(`WARNING ${w.object}: ${w.message}`);
  for (const f of s.brokenConnections) lines.push(`BROKEN CONNECTIONS ${f.node}: ${f.why}; fix: ${f.fix}`);
  for (const d of s.drift) lines.push(`DRIFT ${d.node} ${d.container}: ${d.fields.length ? `${d.fields.join(', ')} differ` : 'field unknown'} (${d.detail})`);
  if (s.oldHashByOwner.length > 0) {
    lines.push('containers with an old hash (roll them so the skip file can go):');
    lines.push(formatTable(['NODE', 'KIND', 'OWNER', 'CONTAINERS', 'ROLL'], s.oldHashByOwner.map((g) => [g.node, g.kind, g.owner, g.containers.join(' '), g.roll])).trimEnd());
  }
  return `${lines.join('\n')}\n`;
}

/** Exit status of --live: failed when something needs the operator. */
export const liveNeedsAttention = (s: LiveStatus): boolean => s.connectionWarnings.length > 0 || s.brokenConnections.length > 0 || s.drift.length > 0 || s.nodes.some((n) => n.error !== '');
