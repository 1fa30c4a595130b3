/**
 * The checks before a run of a component other than the kubelet (the kubelet's are
 * preflight.ts, unchanged). Same contract: Preflight reports them all, Upgrade throws the first.
 */
import path from 'node:path';
import { checkUpgradePath, parseRealVersion } from '../../lib/knowledge/version.ts';
import { parseStaticPodManifest } from '../components/index.ts';
import { CheckList } from './checks.ts';
import type { ComponentSpec } from './component.ts';
import type { UpgradeAgentDeps } from './config.ts';
import { planControlFlags } from './control-flags.ts';
import { Codes, PreconditionError } from './errors.ts';
import { toKipError } from './kip-error.ts';
import type { Evaluation } from './preflight.ts';
import type { PreflightReport, StagedBinaryInfo } from './types.ts';

export const COMPONENT_NOT_ACTIVE = 'COMPONENT_NOT_ACTIVE';
export const COMPONENT_VERSION_UNKNOWN = 'COMPONENT_VERSION_UNKNOWN';

export interface ComponentPreflightEnv {
  readonly spec: ComponentSpec;
  /** The component's effective arguments (discovery: the manifest's command, or the unit's resolved ExecStart). */
  readonly args: readonly string[];
  readonly held: boolean;
  readonly deps: UpgradeAgentDeps;
  readonly host: (nodePath: string) => string;
  readonly assertNoOtherRun: () => Promise<void>;
}

export interface ComponentPreflightOptions {
  readonly allowDroppedFlags?: readonly string[];
  readonly keepServedApis?: readonly string[];
}

export async function evaluateComponent(env: ComponentPreflightEnv, target: string, opts: ComponentPreflightOptions): Promise<Evaluation> {
  const { spec: c, deps, host } = env;
  const list = new CheckList();
  let from = '';
  let staged: StagedBinaryInfo | undefined;
  await list.run('no-run-in-progress', 'wait for the running upgrade to finish (GetRun)', async () => {
    await env.assertNoOtherRun();
    return 'no upgrade is running on this node';
  });
  await list.run('component-version', c.kind === 'systemd' ? `install a ${c.name} built with version stamping` : `give ${c.name}'s image a version tag`, async () => {
    if (c.kind === 'systemd') {
      try {
        from = await deps.kubelet.version(host(c.binary));
      } catch (err) {
        throw new PreconditionError(COMPONENT_VERSION_UNKNOWN, `cannot read the version of ${c.binary}: ${toKipError(err).message}`, {}, { cause: err });
      }
    } else {
      const where = env.held ? c.heldManifest : c.manifest;
      const text = await deps.fs.readText(host(where));
      from = text === undefined ? '' : parseStaticPodManifest(text, where, c.name).version;
      if (!from) throw new PreconditionError(COMPONENT_VERSION_UNKNOWN, `the image of ${c.name} in ${where} has no version tag`);
    }
    parseRealVersion(from, `running ${c.name} version`);
    return `${c.name} is ${from}`;
  });
  await list.run('upgrade-path', 'upgrade one minor version at a time; downgrade with Rollback', async () => {
    if (!from) throw new PreconditionError(COMPONENT_VERSION_UNKNOWN, `the running ${c.name} version is unknown`);
    checkUpgradePath(from, target);
    return `${from} -> ${target} is one step`;
  });
  if (c.kind === 'systemd') {
    await list.run('staged-binary', `stage the ${target} ${c.name} (StageBinary with component ${c.name})`, async () => {
      parseRealVersion(target, 'target version');
      staged = await deps.stage.get(target, c.name);
      if (!staged) throw new PreconditionError(Codes.NOT_STAGED, `no ${target} ${c.name} is staged on this node`, { version: target, component: c.name });
      return `${target} ${c.name} staged (sha256 ${staged.sha256})`;
    });
  }
  await list.run('component-active', `start ${c.kind === 'systemd' ? c.unit : 'the kubelet'} and make ${c.name} healthy before upgrading, or Hold it`, async () => {
    if (env.held) return `${c.name} is held: the run swaps it and leaves it stopped; Release starts and verifies it`;
    if (c.kind === 'static-pod') return `${c.manifest} is in place (the kubelet runs it)`;
    const unit = await deps.systemd.unitInfo(c.unit);
    if (unit.activeState !== 'active') throw new PreconditionError(COMPONENT_NOT_ACTIVE, `${c.unit} is ${unit.activeState}/${unit.subState}: a component that does not run cannot prove the old version healthy for a rollback`, { activeState: unit.activeState });
    return `${c.unit} is active (pid ${unit.mainPid})`;
  });
  await list.run('flag-migration', 'pass allow_dropped_flags for a removed flag without replacement, or edit the flag yourself', async () => {
    if (!from) return { warn: `skipped: ${c.name} version unknown` };
    const plan = planControlFlags({ component: c.name, from, to: target, args: env.args, overrides: opts.allowDroppedFlags ?? [], keepServedApis: opts.keepServedApis ?? [] });
    const notes = [...plan.changes.map((x) => `${x.action} ${x.flag}: ${x.reason}`), ...plan.warnings];
    return notes.length ? notes.join('; ') : 'no flag changes needed';
  });
  await list.run('disk-space', 'free space on the node', async () => {
    const dir = path.dirname(host(c.kind === 'systemd' ? c.binary : c.manifest));
    const need = (staged?.size ?? 0) * 2;
    const s = await deps.fs.statfs(dir);
    if (s && s.freeBytes < need) throw new PreconditionError('DISK_FULL', `${dir} has ${s.freeBytes} bytes free, the swap needs ${need}`);
    return s ? `${s.freeBytes} bytes free` : 'unknown';
  });
  const report: PreflightReport = { currentVersion: from, targetVersion: target, ok: list.errors.length === 0, checks: list.checks };
  return staged ? { report, errors: list.errors, from, staged } : { report, errors: list.errors, from };
}
