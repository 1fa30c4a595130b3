/**
 * Every node check for an upgrade to a target. Each check either passes or records the typed
 * error an Upgrade call would be refused with; Preflight reports them all, Upgrade throws the first.
 */
import path from 'node:path';
import { checkUpgradePath, parseRealVersion } from '../../lib/knowledge/version.ts';
import { CheckList } from './checks.ts';
import type { ComponentSpec } from './component.ts';
import type { UpgradeAgentDeps } from './config.ts';
import { Codes, PreconditionError, type KipError } from './errors.ts';
import { toKipError } from './kip-error.ts';
import { hashChecks } from './preflight-hash.ts';
import type { UnitInfo } from './ports.ts';
import { migrationInput } from './steps/migration-input.ts';
import { assertSkipFileShared } from './visibility.ts';
import type { PreflightReport, SkipFileInfo, StagedBinaryInfo } from './types.ts';

export interface PreflightOptions {
  readonly allowDroppedFlags?: readonly string[];
  readonly allowUnpatched?: boolean;
}

export interface Evaluation {
  readonly report: PreflightReport;
  readonly errors: readonly KipError[];
  readonly from: string;
  readonly staged?: StagedBinaryInfo;
}

export interface PreflightEnv {
  readonly component: ComponentSpec;
  readonly deps: UpgradeAgentDeps;
  readonly host: (nodePath: string) => string;
  readonly skipFileInfo: () => Promise<SkipFileInfo>;
  /** Throws RUN_IN_PROGRESS when another run holds the node. */
  readonly assertNoOtherRun: () => Promise<void>;
}

function tmpPath(p: string): boolean {
  return p === '/tmp' || p.startsWith('/tmp/') || p.startsWith('/var/tmp/');
}

export async function evaluate(env: PreflightEnv, target: string, opts: PreflightOptions): Promise<Evaluation> {
  const { component: c, deps, host } = env;
  const list = new CheckList();
  let from = '';
  let staged: StagedBinaryInfo | undefined;
  let unit: UnitInfo | undefined;
  await list.run('no-run-in-progress', 'wait for the running upgrade to finish (GetRun)', async () => {
    await env.assertNoOtherRun();
    return 'no upgrade is running on this node';
  });
  await list.run('kubelet-version', 'install a kubelet built with version stamping', async () => {
    try {
      from = await deps.kubelet.version(host(c.binary));
    } catch (err) {
      throw new PreconditionError(Codes.KUBELET_VERSION_UNKNOWN, `cannot read the version of ${c.binary}: ${toKipError(err).message}`, {}, { cause: err });
    }
    parseRealVersion(from, 'running kubelet version');
    return `the kubelet binary is ${from}`;
  });
  await list.run('upgrade-path', 'upgrade one minor version at a time; downgrade with Rollback', async () => {
    if (!from) throw new PreconditionError(Codes.KUBELET_VERSION_UNKNOWN, 'the running kubelet version is unknown');
    checkUpgradePath(from, target);
    return `${from} -> ${target} is one step`;
  });
  await list.run('staged-binary', `stage the ${target} kubelet (kip stage)`, async () => {
    parseRealVersion(target, 'target version');
    staged = await deps.stage.get(target);
    if (!staged) throw new PreconditionError(Codes.NOT_STAGED, `no ${target} kubelet is staged on this node`, { version: target });
    return `${target} staged (sha256 ${staged.sha256})`;
  });
  await list.run('kubelet-active', `start ${c.unit} and make it healthy before upgrading`, async () => {
    unit = await deps.systemd.unitInfo(c.unit);
    if (unit.activeState !== 'active' || unit.execMainStartUsec <= 0) {
      throw new PreconditionError(Codes.KUBELET_NOT_ACTIVE, `${c.unit} is ${unit.activeState}/${unit.subState}: the skip file needs the running kubelet's start time`, { activeState: unit.activeState });
    }
    return `${c.unit} is active (pid ${unit.mainPid})`;
  });
  const skipFile = c.skipFile;
  if (skipFile !== undefined) {
    await list.run('skip-file', `fix or remove ${skipFile} (format "<version>,<unix seconds>", no newline)`, async () => {
      const s = await env.skipFileInfo();
      if (s.present && !s.valid) {
        throw new PreconditionError(Codes.SKIP_FILE_MALFORMED, `the existing skip file ${s.path} is malformed (${s.problem})`, { path: s.path, raw: s.raw });
      }
      if (s.present) return `existing skip file names ${s.version ? s.version : 'no version (the patch takes that as history too)'}; it is kept`;
      return 'no skip file yet; it will be written before the new kubelet starts';
    });
    await list.run('private-tmp', `remove PrivateTmp=yes from ${c.unit} or configure a skip-file path outside /tmp (in the patch and the agent)`, async () => {
      const u = unit ?? (await deps.systemd.unitInfo(c.unit));
      if (u.privateTmp && tmpPath(skipFile)) {
        throw new PreconditionError(Codes.PRIVATE_TMP, `${c.unit} has PrivateTmp=yes: the kubelet would not see ${skipFile} and every container whose hash changes would restart`);
      }
      return 'the kubelet sees the skip file';
    });
    await list.run('skip-file-visible', `run ${c.unit} and kip-agent.service without mount-namespace options covering ${path.posix.dirname(skipFile)}`, async () => {
      const u = unit ?? (await deps.systemd.unitInfo(c.unit));
      return assertSkipFileShared(deps, c, skipFile, host, u.mountOptions);
    });
    await list.run('patched-binary', 'stage a kubelet built with the skip-file patch, or accept the restarts (allow_unpatched)', async () => {
      if (!staged) return { warn: 'no staged binary to inspect' };
      if (staged.patched) return `${target} carries the skip-file patch`;
      const msg = `${target} does not carry the skip-file patch (the binary lacks the patch markers the agent looks for: patchMarkers): every container whose hash changes will restart (count them with kip preflight, which asks the hash engine)`;
      if (opts.allowUnpatched) return { warn: msg };
      throw new PreconditionError(Codes.UNPATCHED_BINARY, msg, { version: target });
    });
  }
  if (c.migratesFlags) {
    await list.run('flag-migration', 'pass allow_dropped_flags for a removed flag without replacement, or edit the flag yourself', async () => {
      if (!from || !unit) return { warn: 'skipped: kubelet version or unit unknown' };
      const input = await migrationInput(from, target, unit, opts.allowDroppedFlags ?? [], staged?.path ?? '', (p) => deps.fs.readText(host(p)));
      const plan = await deps.flags.plan(input);
      return plan.notes.length ? plan.notes.join('; ') : 'no flag changes needed';
    });
  }
  if (deps.workload) await hashChecks(list, deps.workload, env.skipFileInfo, from, target, staged, opts.allowUnpatched ?? false);
  await list.run('disk-space', 'free space on the node', async () => {
    const need = (staged?.size ?? 0) * 2;
    const s = await deps.fs.statfs(path.dirname(host(c.binary)));
    if (s && s.freeBytes < need) {
      throw new PreconditionError('DISK_FULL', `${path.dirname(c.binary)} has ${s.freeBytes} bytes free, the swap needs ${need}`);
    }
    return s ? `${s.freeBytes} bytes free beside the kubelet` : 'unknown';
  });
  const report: PreflightReport = { currentVersion: from, targetVersion: target, ok: list.errors.length === 0, checks: list.checks };
  return staged ? { report, errors: list.errors, from, staged } : { report, errors: list.errors, from };
}
