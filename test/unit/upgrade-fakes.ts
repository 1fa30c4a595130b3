/**
 * A fake node for the upgrade state machine: real files under a temp root (the machine's file
 * adapter is the real one), a simulated systemd that "runs" whatever binary sits at the kubelet
 * path, and fakes for /proc, healthz, the journal and flag migration.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InvalidInputError } from '../../lib/errors.ts';
import { silentLogger } from '../../lib/logger.ts';
import { UpgradeAgent, type UpgradeAgentConfig } from '../../agent/upgrade/agent.ts';
import { nodeFileSystem, type FileSystem } from '../../agent/upgrade/fs.ts';
import type { WorkloadPort, FaultHook, FlagMigrationPort, JournalPort, KubeletBinaryPort, ProcPort, SystemdPort, UnitInfo, HealthPort } from '../../agent/upgrade/ports.ts';
import { systemClock } from '../../lib/clock.ts';
import { StageStore } from '../../agent/upgrade/stage.ts';
import type { StepEvent } from '../../agent/upgrade/types.ts';

export const SKIP = '/tmp/cache.version.save';
export const BIN = '/usr/bin/kubelet';
export const UNIT_FILE = '/etc/systemd/system/kubelet.service';
export const ENV_FILE = '/etc/default/kubelet';

/** A fake kubelet "binary": a shell script printing its version; CRASH makes it crash-loop. */
export function fakeBinary(version: string, opts: { patched?: boolean; crash?: boolean; prints?: string } = {}): Buffer {
  const lines = ['#!/bin/sh', `echo Kubernetes ${opts.prints ?? version}`];
  // What a real patched build holds (agent/kubelet/inspect.ts DEFAULT_PATCH_MARKERS), and the path it reads.
  if (opts.patched ?? true) lines.push(`# reads ${SKIP}: cache.version.save from pkg/kubelet/cache_version`);
  if (opts.crash) lines.push('# CRASH');
  return Buffer.from(`${lines.join('\n')}\n`);
}

export function sha256(b: Buffer | string): string {
  return createHash('sha256').update(b).digest('hex');
}

export class FakeNode {
  active = false;
  pid = 0;
  nextPid = 1000;
  nRestarts = 0;
  startUsec = 0;
  privateTmp = false;
  /** Mount options of the kubelet unit as `systemctl show` reports them (defect 6). */
  mountOptions: Partial<UnitInfo['mountOptions']> = {};
  /**
   * 'private': the kubelet runs with a /tmp of its own that no unit option shows (say, a wrapper
   * that unshares its mount namespace); like the patch, it writes its own version into the skip
   * file it sees when that one is absent.
   */
  kubeletTmp: 'host' | 'private' = 'host';
  /** 'private': the agent's /tmp is not PID 1's (kip-agent.service with PrivateTmp). */
  agentTmp: 'host' | 'private' = 'host';
  starts = 0;
  stops = 0;
  reloads = 0;
  /** What systemd would report as NeedDaemonReload (a test sets it when it edits unit files). */
  needDaemonReload = false;
  crashLooping = false;
  events: string[] = [];

  constructor(readonly root: string) {}

  host(p: string): string {
    return path.join(this.root, p);
  }

  async binaryText(): Promise<string> {
    return readFile(this.host(BIN), 'utf8');
  }

  async launch(): Promise<void> {
    const text = await this.binaryText();
    this.crashLooping = text.includes('CRASH');
    this.active = true;
    this.pid = this.nextPid++;
    this.startUsec = Date.now() * 1000;
    if (this.kubeletTmp === 'private' && text.includes(SKIP)) {
      const own = path.join(this.privateTmpDir(), path.basename(SKIP));
      await mkdir(this.privateTmpDir(), { recursive: true });
      const seen = await readFile(own, 'utf8').catch(() => undefined);
      const version = /Kubernetes\s+(v\S+)/.exec(text)?.[1] ?? 'v0.0.0';
      if (seen === undefined) await writeFile(own, `${version},${Math.floor(Date.now() / 1000)}`);
    }
  }

  privateTmpDir(): string {
    return path.join(this.root, 'kubelet-private-tmp');
  }

  /** A host path as process `pid` sees it. */
  private seenBy(pid: number, hostPath: string): string {
    const tmp = this.host('/tmp');
    const under = hostPath === tmp || hostPath.startsWith(`${tmp}/`);
    if (under && pid === this.pid && this.active && this.kubeletTmp === 'private') return path.join(this.privateTmpDir(), path.relative(tmp, hostPath));
    return hostPath;
  }

  readonly systemd: SystemdPort = {
    unitInfo: async (): Promise<UnitInfo> => {
      if (this.active && this.crashLooping) {
        // Every look finds a new process: the unit restarts over and over.
        this.pid = this.nextPid++;
        this.nRestarts += 1;
      }
      const env = await readFile(this.host(ENV_FILE), 'utf8').catch(() => '');
      return {
        activeState: this.active ? 'active' : 'inactive',
        subState: this.active ? 'running' : 'dead',
        mainPid: this.active ? this.pid : 0,
        execMainStartUsec: this.active ? this.startUsec : 0,
        nRestarts: this.nRestarts,
        fragmentPath: UNIT_FILE,
        dropInPaths: [],
        environmentFiles: [ENV_FILE],
        privateTmp: this.privateTmp,
        mountOptions: { temporaryFileSystem: [], rootDirectory: '', rootImage: '', inaccessiblePaths: [], bindPaths: [], protectHome: 'no', ...this.mountOptions },
        execStart: [BIN, '$KUBELET_ARGS', ...(env ? [] : [])],
        needDaemonReload: this.needDaemonReload,
      };
    },
    stop: async () => {
      this.stops += 1;
      this.events.push('stop');
      this.active = false;
      this.pid = 0;
    },
    start: async () => {
      this.starts += 1;
      this.events.push('start');
      if (!this.active) await this.launch();
    },
    daemonReload: async () => {
      this.reloads += 1;
      this.needDaemonReload = false;
    },
  };

  readonly proc: ProcPort = {
    process: async (pid) => (this.active && pid === this.pid ? { exe: BIN, argv: [BIN, '--v=2'] } : undefined),
    statAs: async (pid, hostPath) => {
      if (pid === 1 && this.agentTmp === 'private' && hostPath.startsWith(this.host('/tmp'))) return { dev: 1, ino: 4242 };
      if (pid !== 1 && !(this.active && pid === this.pid)) return undefined;
      const s = await stat(this.seenBy(pid, hostPath)).catch(() => undefined);
      return s ? { dev: s.dev, ino: s.ino } : undefined;
    },
    readAs: async (pid, hostPath) => {
      if (pid !== 1 && !(this.active && pid === this.pid)) return undefined;
      return readFile(this.seenBy(pid, hostPath), 'utf8').catch(() => undefined);
    },
  };

  readonly health: HealthPort = {
    healthz: async () => (this.active && !this.crashLooping ? { ok: true, detail: 'ok' } : { ok: false, detail: 'connection refused' }),
  };

  readonly journal: JournalPort = {
    tail: async (_unit, lines) => ['kubelet starting', 'F1127 failed to run Kubelet: unknown flag'].slice(-lines),
  };
}

/** Reads the version the fake binary prints, like `--version` would. */
export const fakeKubeletBinary: KubeletBinaryPort = {
  version: async (p) => {
    // The fake binary is a script whose text holds the line it would print.
    const v = /Kubernetes\s+(v\S+)/.exec(await readFile(p, 'utf8'))?.[1];
    if (!v) throw new InvalidInputError('KUBELET_VERSION_UNREADABLE', `${p} prints no version`);
    return v;
  },
  isPatched: async (p, skip) => (await readFile(p, 'utf8')).includes(skip),
};

/** Drops --cadvisor-port (removed in 1.12); refuses --bogus-removed unless allowed. */
export const fakeFlags: FlagMigrationPort = {
  plan: async (input) => {
    const edits = [];
    const notes = [];
    for (const f of input.environmentFiles) {
      if (f.content.includes('--bogus-removed') && !input.allowDroppedFlags.includes('--bogus-removed')) {
        throw new InvalidInputError('FLAG_MIGRATION_REFUSED', `--bogus-removed is removed in ${input.toVersion} and has no replacement`);
      }
      let next = f.content.replace(/ --bogus-removed/g, '');
      if (input.toVersion.startsWith('v1.12.')) next = next.replace(/ --cadvisor-port=\d+/g, '');
      if (next !== f.content) {
        edits.push({ path: f.path, content: next });
        notes.push(`edited ${f.path}`);
      }
    }
    return { edits, notes };
  },
};

export interface Harness {
  readonly root: string;
  readonly stateDir: string;
  readonly node: FakeNode;
  readonly oldBinary: Buffer;
  makeAgent(opts?: { fault?: FaultHook; recovery?: 'resume' | 'rollback'; verifyTimeoutMs?: number; stableMs?: number; kubelet?: KubeletBinaryPort; fs?: FileSystem; workload?: WorkloadPort }): { agent: UpgradeAgent; stage: StageStore };
  stageBuffer(stage: StageStore, version: string, data: Buffer): Promise<void>;
  cleanup(): Promise<void>;
}

export async function makeHarness(opts: { fromVersion?: string; env?: string; skipFile?: string; oldPatched?: boolean } = {}): Promise<Harness> {
  const root = await mkdtemp(path.join(tmpdir(), 'kip-upgrade-'));
  const stateDir = path.join(root, 'var/lib/kip-agent');
  const node = new FakeNode(root);
  for (const d of ['usr/bin', 'etc/systemd/system', 'etc/default', 'tmp', 'var/lib/kubelet']) await mkdir(path.join(root, d), { recursive: true });
  const oldBinary = fakeBinary(opts.fromVersion ?? 'v1.10.13', { patched: opts.oldPatched ?? true });
  await writeFile(node.host(BIN), oldBinary, { mode: 0o755 });
  await writeFile(node.host(UNIT_FILE), `[Service]\nEnvironmentFile=${ENV_FILE}\nExecStart=${BIN} $KUBELET_ARGS\n`);
  await writeFile(node.host(ENV_FILE), opts.env ?? 'KUBELET_ARGS=--v=2 --cadvisor-port=4194\n');
  await writeFile(node.host('/var/lib/kubelet/config.yaml'), 'kind: KubeletConfiguration\n');
  if (opts.skipFile !== undefined) await writeFile(node.host(SKIP), opts.skipFile);
  await node.launch();

  const config = (recovery: 'resume' | 'rollback', verifyTimeoutMs: number, stableMs: number): UpgradeAgentConfig => ({
    nodeName: 'node-1',
    agentVersion: '0.1.0',
    stateDir,
    rootPrefix: root,
    kubeletBinary: BIN,
    kubeletUnit: 'kubelet.service',
    skipFile: SKIP,
    healthzUrl: 'http://127.0.0.1:10248/healthz',
    verifyTimeoutMs,
    stableMs,
    pollMs: 5,
    journalLines: 10,
    backupPaths: ['/var/lib/kubelet/config.yaml', '/var/lib/kubelet/kubeadm-flags.env'],
    recovery,
  });
  return {
    root,
    stateDir,
    node,
    oldBinary,
    makeAgent(o = {}) {
      const logger = silentLogger();
      const kubelet = o.kubelet ?? fakeKubeletBinary;
      const stage = new StageStore({ fs: nodeFileSystem, kubelet, stateDir, skipFilePath: SKIP, logger });
      const agent = new UpgradeAgent(config(o.recovery ?? 'resume', o.verifyTimeoutMs ?? 1_000, o.stableMs ?? 30), {
        fs: o.fs ?? nodeFileSystem,
        systemd: node.systemd,
        journal: node.journal,
        kubelet,
        flags: fakeFlags,
        health: node.health,
        proc: node.proc,
        clock: systemClock,
        fault: o.fault ?? { at: async () => {} },
        logger,
        stage,
        ...(o.workload ? { workload: o.workload } : {}),
      });
      return { agent, stage };
    },
    async stageBuffer(stage, version, data) {
      async function* one(): AsyncGenerator<Buffer> {
        yield data.subarray(0, 10);
        yield data.subarray(10);
      }
      await stage.stage({ version, sha256: sha256(data), size: data.length }, one());
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

/** A fault hook that "kills" the agent at one point: it never returns, like a SIGKILLed process. */
export function crashAt(step: string, point: 'before' | 'after'): { hook: FaultHook; reached: Promise<void> } {
  let signal: () => void = () => {};
  const reached = new Promise<void>((resolve) => {
    signal = resolve;
  });
  return {
    hook: {
      at: (s, p) => {
        if (s === step && p === point) {
          signal();
          return new Promise<void>(() => {});
        }
        return Promise.resolve();
      },
    },
    reached,
  };
}

// ---- shared by the upgrade tests ----

/** The target runUpgrade stages and upgrades to (one minor above the harness's default v1.10.13). */
const RUN_TARGET = 'v1.11.10';

/** Every event of a run's stream, until it ends. */
export async function collect(it: AsyncIterable<StepEvent>): Promise<StepEvent[]> {
  const out: StepEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

/** The skip file's content on the fake node now, or undefined when there is none. */
export async function skipNow(h: Harness): Promise<string | undefined> {
  return readFile(h.node.host(SKIP), 'utf8').catch(() => undefined);
}

/** Starts an agent, stages RUN_TARGET and runs run 'r' to its end. */
export async function runUpgrade(h: Harness, opts: { binary?: Buffer; verifyTimeoutMs?: number } = {}) {
  const { agent, stage } = h.makeAgent(opts.verifyTimeoutMs ? { verifyTimeoutMs: opts.verifyTimeoutMs } : {});
  await agent.start();
  await h.stageBuffer(stage, RUN_TARGET, opts.binary ?? fakeBinary(RUN_TARGET));
  await agent.begin({ runId: 'r', targetVersion: RUN_TARGET });
  const events = await collect(agent.events('r'));
  return { agent, events, record: await agent.getRun('r') };
}

/** The new kubelet's start (START_KUBELET started) in Unix seconds, as the skip file records it. */
export const startedAtSec = (events: readonly StepEvent[]): number => Math.floor((events.find((e) => e.step === 'START_KUBELET' && e.status === 'STEP_STARTED')?.atUnixMs ?? 0) / 1000);
