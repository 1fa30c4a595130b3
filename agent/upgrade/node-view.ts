/** The node as GetNode reports it: installed binary, unit, skip file, disks, staged binaries, last run. */
import path from 'node:path';
import type { ComponentSpec } from './component.ts';
import type { UpgradeAgentConfig, UpgradeAgentDeps } from './config.ts';
import type { RunLog } from './run-log.ts';
import { parseSkipFile } from './skipfile.ts';
import type { NodeInfo, SkipFileInfo } from './types.ts';

interface BinaryFacts {
  readonly version: string;
  readonly sha256: string;
  readonly patched: boolean;
}

export class NodeView {
  private factsCache: { key: string; facts: BinaryFacts } | undefined;

  constructor(
    private readonly config: Pick<UpgradeAgentConfig, 'nodeName' | 'agentVersion' | 'stateDir'>,
    private readonly component: ComponentSpec,
    private readonly deps: UpgradeAgentDeps,
    private readonly log: RunLog,
    private readonly host: (nodePath: string) => string,
  ) {}

  /** The skip file as the patched kubelet would read it (absent when the component has none). */
  async skipFileInfo(): Promise<SkipFileInfo> {
    const file = this.component.skipFile ?? '';
    return parseSkipFile(file, file ? await this.deps.fs.readText(this.host(file)) : undefined);
  }

  /**
   * Version, sha256 and patch of the installed binary, cached by (size, mtime, inode): a real
   * kubelet is ~100 MB and GetNode is polled.
   */
  private async installedBinaryFacts(bin: string): Promise<BinaryFacts | undefined> {
    const st = await this.deps.fs.stat(bin);
    if (!st) return undefined;
    const key = `${st.size}:${st.mtimeMs}:${st.ino}`;
    if (this.factsCache?.key === key) return this.factsCache.facts;
    let version = '';
    try {
      version = await this.deps.kubelet.version(bin);
    } catch (err) {
      this.deps.logger.warn({ err, component: this.component.name }, '--version failed; GetNode reports no version');
    }
    const patched = this.component.skipFile !== undefined && (await this.deps.kubelet.isPatched(bin, this.component.skipFile));
    const facts = { version, sha256: (await this.deps.fs.sha256(bin)) ?? '', patched };
    if (version) this.factsCache = { key, facts };
    return facts;
  }

  async nodeInfo(): Promise<NodeInfo> {
    const c = this.component;
    const bin = this.host(c.binary);
    const facts = await this.installedBinaryFacts(bin);
    const unit = await this.deps.systemd.unitInfo(c.unit);
    const disks: { path: string; freeBytes: number; totalBytes: number }[] = [];
    for (const p of [this.config.stateDir, path.dirname(bin)]) {
      const s = await this.deps.fs.statfs(p);
      if (s) disks.push({ path: p, ...s });
    }
    const lastId = await this.log.store.currentId();
    const last = lastId ? await this.log.find(lastId) : undefined;
    return {
      nodeName: this.config.nodeName,
      agentVersion: this.config.agentVersion,
      kubeletBinary: c.binary,
      kubeletVersion: facts?.version ?? '',
      kubeletSha256: facts?.sha256 ?? '',
      kubeletPatched: facts?.patched ?? false,
      unit: {
        name: c.unit,
        activeState: unit.activeState,
        subState: unit.subState,
        mainPid: unit.mainPid,
        startedAtUnixMs: Math.floor(unit.execMainStartUsec / 1000),
        privateTmp: unit.privateTmp,
      },
      skipFile: await this.skipFileInfo(),
      disks,
      staged: await this.deps.stage.list(),
      lastRunId: last?.runId ?? '',
      lastRunPhase: last?.phase ?? '',
    };
  }
}
