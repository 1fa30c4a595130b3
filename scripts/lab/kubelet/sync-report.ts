/** Reads a lab kubelet's /lab/syncs (kubelet.ts SyncReport): undefined while it does not answer. */
import type { SyncReport } from './kubelet.ts';

export async function readSyncReport(address: string, port: number, timeoutMs = 2_000): Promise<SyncReport | undefined> {
  try {
    const res = await fetch(`http://${address}:${port}/lab/syncs`, { signal: AbortSignal.timeout(timeoutMs) });
    return res.ok ? ((await res.json()) as SyncReport) : undefined;
  } catch {
    return undefined;
  }
}
