/**
 * One lab kubelet process at a time for the lab-kubelet integration tests (containerd and
 * dockerd): started from a per-version launcher, healthy when /healthz answers, its sync report
 * from /lab/syncs, stopped with SIGTERM. Waits carry the kubelet's last log lines on failure.
 */
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { waitFor } from '../../lib/poll.ts';
import { writeLauncher } from '../../scripts/lab/kubelet/launcher.ts';
import { freePort } from '../../scripts/lab/etcd.ts';
import type { SyncReport } from '../../scripts/lab/kubelet/kubelet.ts';

export interface StartOptions {
  /** The skip-file path a patched kubelet reads. */
  readonly patched?: string;
  readonly nodeLabels?: string;
  readonly extraFlags?: readonly string[];
  /** Run the bundled lab programs from this folder instead of the checkout. */
  readonly programsDir?: string;
}

export class LabKubeletProcess {
  private running: { proc: ResultPromise; log: string[]; port: number } | undefined;

  /**
   * @param binDir where the launchers are written
   * @param flags the runtime's flags for a kubelet whose healthz listens on `port`
   * @param timeoutMs the default deadline of `until`
   */
  constructor(private readonly binDir: string, private readonly flags: (port: number) => string[], private readonly timeoutMs: number) {}

  /** The running kubelet's output lines (empty when none runs). */
  get log(): readonly string[] {
    return this.running?.log ?? [];
  }

  get pid(): number | undefined {
    return this.running?.proc.pid;
  }

  until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = this.timeoutMs): Promise<T> {
    return waitFor(what, fn, { timeoutMs, context: () => `kubelet log:\n${this.running?.log.slice(-15).join('\n') ?? '(none)'}` });
  }

  async start(version: string, opts: StartOptions = {}): Promise<void> {
    const bin = join(this.binDir, `kubelet-${version}${opts.patched ? '-patched' : ''}${opts.programsDir ? '-bundled' : ''}`);
    await writeLauncher(bin, { version, skipFilePath: opts.patched, programsDir: opts.programsDir });
    const port = await freePort();
    const log: string[] = [];
    const proc = execa(bin, [...this.flags(port), ...(opts.nodeLabels ? [`--node-labels=${opts.nodeLabels}`] : []), ...(opts.extraFlags ?? [])], { reject: false, all: true, buffer: false });
    proc.all?.on('data', (d: Buffer) => log.push(...d.toString().split('\n').filter(Boolean)));
    this.running = { proc, log, port };
    await this.until(`kubelet ${version} healthz`, async () => {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
      return r?.ok ? true : undefined;
    });
  }

  /** The running kubelet's sync report; resolves once it has completed `atLeast` passes over every pod. */
  async syncs(atLeast: number): Promise<SyncReport> {
    const port = this.running!.port;
    return this.until(`${atLeast} completed kubelet syncs`, async () => {
      const r = await fetch(`http://127.0.0.1:${port}/lab/syncs`).catch(() => undefined);
      const report = r?.ok ? ((await r.json()) as SyncReport) : undefined;
      return report && report.completedSyncs >= atLeast ? report : undefined;
    });
  }

  /** Waits for the running kubelet to exit by itself: its exit code and output. */
  async exited(): Promise<{ exitCode: number | undefined; log: readonly string[] }> {
    const { proc, log } = this.running!;
    const result = await proc;
    this.running = undefined;
    return { exitCode: result.exitCode, log };
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running.proc.kill('SIGTERM');
    await this.running.proc;
    this.running = undefined;
  }
}
