/**
 * Which components this node runs, and how: a static pod manifest in the manifests directory
 * (kubeadm), or a loaded systemd unit `<name>.service` (binary installs, kubespray). The agent
 * config may name a component explicitly (unit and binary, or manifest); that wins over
 * discovery. Versions come from `<binary> --version` or the manifest's image tag.
 */
import path from 'node:path';
import type { Exec } from '../../lib/exec.ts';
import { resolveKubeletCommandLine } from '../kubelet/index.ts';
import { parseEnvironmentFiles, parseExecCommands, type Systemd } from '../systemd/index.ts';
import type { FileSystem } from '../upgrade/fs.ts';
import { ComponentConfigInvalidError } from './errors.ts';
import { defaultHealthProbe, flagValue } from './health.ts';
import { parseStaticPodManifest } from './manifest.ts';
import { COMPONENT_NAMES, type Component, type ComponentConfig, type ComponentName, type HealthProbe, type SystemdRuntime } from './types.ts';
import { parseVersionOutput } from './version.ts';

export interface DiscoveryDeps {
  readonly fs: FileSystem;
  readonly systemd: Systemd;
  readonly exec: Exec;
  /** Node path -> host path (the agent's rootPrefix). */
  readonly hostPath: (nodePath: string) => string;
  /** Default /etc/kubernetes/manifests. */
  readonly manifestsDir: string;
  readonly kubeletUnit: string;
  readonly kubeletBinary: string;
  readonly kubeletHealthzUrl: string;
  readonly versionTimeoutMs?: number;
}

/** Flags whose value is a file the component reads at start: backed up with it. */
const CONFIG_FILE_FLAGS = ['--config', '--kubeconfig', '--authentication-kubeconfig', '--authorization-kubeconfig', '--encryption-provider-config', '--admission-control-config-file', '--audit-policy-file', '--policy-config-file'];

export function configFilesOf(args: readonly string[]): string[] {
  const out: string[] = [];
  for (const f of CONFIG_FILE_FLAGS) {
    const v = flagValue(args, f);
    if (v !== undefined && v.startsWith('/')) out.push(v);
  }
  return out;
}

export async function binaryVersion(exec: Exec, binary: string, timeoutMs = 15_000): Promise<string> {
  try {
    const r = await exec(binary, ['--version'], { timeoutMs });
    if (r.exitCode !== 0) return '';
    return parseVersionOutput(r.stdout) ?? '';
  } catch {
    return '';
  }
}

function validateConfig(configs: readonly ComponentConfig[]): void {
  const seen = new Set<string>();
  for (const c of configs) {
    if (!(COMPONENT_NAMES as readonly string[]).includes(c.name)) throw new ComponentConfigInvalidError(`components: unknown component ${JSON.stringify(c.name)} (known: ${COMPONENT_NAMES.join(', ')})`, { name: c.name });
    if (seen.has(c.name)) throw new ComponentConfigInvalidError(`components: ${c.name} is listed twice`, { name: c.name });
    seen.add(c.name);
    if ((c.manifest !== undefined) === (c.unit !== undefined)) throw new ComponentConfigInvalidError(`components: ${c.name} needs exactly one of unit (with binary) or manifest`, { name: c.name });
    if (c.unit !== undefined && c.binary === undefined) throw new ComponentConfigInvalidError(`components: ${c.name} runs as unit ${c.unit}: name its binary too`, { name: c.name });
  }
}

async function fromManifest(deps: DiscoveryDeps, name: ComponentName, manifest: string, cfg: ComponentConfig | undefined): Promise<Component | undefined> {
  const text = await deps.fs.readText(deps.hostPath(manifest));
  if (text === undefined) return undefined;
  const m = parseStaticPodManifest(text, manifest, name);
  const health = probe(deps, name, m.version, m.args, cfg);
  return { name, runtime: { kind: 'static-pod', manifest, container: m.container, image: m.image }, version: m.version, health, args: m.args, origin: cfg ? 'config' : 'discovered' };
}

async function fromUnit(deps: DiscoveryDeps, name: ComponentName, unit: string, binary: string | undefined, cfg: ComponentConfig | undefined): Promise<Component | undefined> {
  const p = await deps.systemd.show(unit, ['LoadState', 'FragmentPath', 'DropInPaths', 'EnvironmentFiles', 'ExecStart']);
  if (p.LoadState !== 'loaded') return undefined;
  const unitFile = p.FragmentPath ?? '';
  const dropIns = (p.DropInPaths ?? '').split(/\s+/).filter((s) => s !== '');
  const envFiles = parseEnvironmentFiles(p.EnvironmentFiles ?? '').map((e) => e.path);
  const exec = parseExecCommands(p.ExecStart ?? '')[0];
  let args: string[] = exec ? exec.argv.slice(1) : [];
  // Resolve $VARS from the unit files and environment files when they can be read.
  const units: { path: string; content: string }[] = [];
  for (const f of [unitFile, ...dropIns]) {
    const c = f === '' ? undefined : await deps.fs.readText(deps.hostPath(f));
    if (c !== undefined) units.push({ path: f, content: c });
  }
  const env: Record<string, string> = {};
  for (const f of envFiles) {
    const c = await deps.fs.readText(deps.hostPath(f));
    if (c !== undefined) env[f] = c;
  }
  try {
    if (units.length > 0) args = resolveKubeletCommandLine({ units, envFiles: env }).words.slice(1).map((w) => w.text);
  } catch {
    // Keep the unexpanded argv from systemd: discovery reports, it does not judge the unit.
  }
  const bin = binary ?? exec?.path ?? '';
  const version = bin === '' ? '' : await binaryVersion(deps.exec, deps.hostPath(bin), deps.versionTimeoutMs);
  const runtime: SystemdRuntime = { kind: 'systemd', unit, binary: bin, unitFile, dropIns, envFiles, configFiles: [...new Set([...(cfg?.configFiles ?? []), ...configFilesOf(args)])] };
  return { name, runtime, version, health: probe(deps, name, version, args, cfg), args, origin: cfg ? 'config' : 'discovered' };
}

function probe(deps: DiscoveryDeps, name: ComponentName, version: string, args: readonly string[], cfg: ComponentConfig | undefined): HealthProbe {
  if (cfg?.healthUrl) return { url: cfg.healthUrl, insecureSkipVerify: cfg.insecureSkipVerify ?? false, source: 'config' };
  return defaultHealthProbe({ name, version, args, kubeletHealthzUrl: deps.kubeletHealthzUrl });
}

/** Every component the node runs (or only `only`), in COMPONENT_NAMES order. A manifest that does not parse is an error (MANIFEST_INVALID), not a silent skip. */
export async function discoverComponents(deps: DiscoveryDeps, configs: readonly ComponentConfig[] = [], only?: ComponentName): Promise<Component[]> {
  validateConfig(configs);
  const out: Component[] = [];
  for (const name of COMPONENT_NAMES) {
    // A call about one component must not fail because another one's manifest is broken.
    if (only !== undefined && name !== only) continue;
    const cfg = configs.find((c) => c.name === name);
    let c: Component | undefined;
    if (cfg?.manifest !== undefined) c = await fromManifest(deps, name, cfg.manifest, cfg);
    else if (cfg?.unit !== undefined) c = await fromUnit(deps, name, cfg.unit, cfg.binary, cfg);
    else if (name === 'kubelet') c = await fromUnit(deps, name, deps.kubeletUnit, deps.kubeletBinary, undefined);
    else {
      c = await fromManifest(deps, name, path.posix.join(deps.manifestsDir, `${name}.yaml`), undefined);
      c ??= await fromUnit(deps, name, `${name}.service`, undefined, undefined);
    }
    if (c) out.push(c);
  }
  return out;
}
