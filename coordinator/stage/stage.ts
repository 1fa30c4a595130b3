/**
 * Streams a component binary from a release folder to an agent: sha256 and size computed here,
 * checked by the agent end to end (StageBinary refuses a mismatch and leaves nothing behind); a
 * binary the agent already has is skipped (by its staged list, then by the agent's own answer).
 */
import { createReadStream } from 'node:fs';
import { CHUNK_BYTES } from '../fleet/chunk.ts';
import type { AgentPort } from '../fleet/port.ts';
import { releaseComponent, sha256File, type Component, type ReleaseFolder } from './releases.ts';

export interface StageResult {
  readonly node: string;
  readonly version: string;
  readonly bytes: number;
  readonly skipped: boolean;
}

const sums = new Map<string, Promise<string>>();

export function stageKubelet(node: string, agent: AgentPort, releases: readonly ReleaseFolder[], releasesDir: string, version: string, onBytes: (n: number) => void = () => undefined): Promise<StageResult> {
  return stageComponent(node, agent, releases, releasesDir, version, 'kubelet', onBytes);
}

/** Any component: staged per component and version on the agent (StageBinaryMetadata.component, empty = kubelet). */
export async function stageComponent(node: string, agent: AgentPort, releases: readonly ReleaseFolder[], releasesDir: string, version: string, component: Component, onBytes: (n: number) => void = () => undefined): Promise<StageResult> {
  const bin = releaseComponent(releases, version, component, releasesDir);
  let sum = sums.get(bin.path);
  if (!sum) {
    sum = sha256File(bin.path);
    sums.set(bin.path, sum);
  }
  const sha256 = await sum;
  const info = await agent.getNode();
  const wanted = component === 'kubelet' ? '' : component;
  if (info.staged.some((s) => s.version === version && s.sha256 === sha256 && (s.component || '') === wanted)) return { node, version, bytes: 0, skipped: true };
  async function* counted(): AsyncGenerator<Buffer> {
    // Read in the stream's message size: a 64 KiB default read was one gRPC message each (16x the
    // per-message work: framing, the agent's idle check, a callback per write).
    for await (const chunk of createReadStream(bin.path, { highWaterMark: CHUNK_BYTES })) {
      onBytes((chunk as Buffer).length);
      yield chunk as Buffer;
    }
  }
  const r = await agent.stageBinary({ version, sha256, size: bin.size, ...(wanted ? { component: wanted } : {}) }, counted());
  return { node, version, bytes: r.alreadyStaged ? 0 : bin.size, skipped: r.alreadyStaged };
}
