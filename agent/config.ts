/**
 * kip-agent configuration: defaults < /etc/kip/agent.yaml < environment (KIP_AGENT_*) < flags
 * (--kebab-case=value or --kebab-case value). Every option is listed in OPTIONS with its default;
 * a validation error names the option and where its value came from.
 */
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { InvalidInputError, isKipError } from '../lib/errors.ts';
import { DEFAULT_PATCH_MARKERS } from './kubelet/inspect.ts';
import { parseComponentSpec } from './components/config-spec.ts';

export interface AgentConfig {
  readonly listen: string;
  readonly tlsCa: string;
  readonly tlsCert: string;
  readonly tlsKey: string;
  readonly stateDir: string;
  readonly rootPrefix: string;
  readonly kubeletBinary: string;
  readonly kubeletUnit: string;
  readonly skipFile: string;
  readonly healthzUrl: string;
  readonly verifyTimeoutMs: number;
  readonly stableMs: number;
  readonly pollMs: number;
  readonly journalLines: number;
  readonly backupPaths: readonly string[];
  readonly recovery: 'resume' | 'rollback';
  readonly nodeName: string;
  readonly logLevel: string;
  readonly shutdownGraceMs: number;
  readonly kubeconfig: string;
  readonly criEndpoint: string;
  readonly consistencyIntervalMs: number;
  readonly stagingQuotaBytes: number;
  readonly stageIdleTimeoutMs: number;
  readonly tlsHandshakeTimeoutMs: number;
  readonly nodeInfoCacheMs: number;
  readonly watchPollMs: number;
  readonly kubeletConfirmMs: number;
  readonly watchBufferEvents: number;
  readonly manifestsDir: string;
  readonly etcdEndpoints: readonly string[];
  readonly etcdCaFile: string;
  readonly etcdCertFile: string;
  readonly etcdKeyFile: string;
  readonly components: readonly string[];
  readonly metricsListen: string;
  readonly patchMarkers: readonly string[];
}

type Kind = 'string' | 'path' | 'optionalPath' | 'int' | 'list' | 'urlList' | 'componentList' | 'address' | 'optionalAddress' | 'url' | 'unit' | { enum: readonly string[] };

interface OptionSpec {
  readonly key: keyof AgentConfig;
  readonly kind: Kind;
  readonly default: () => string | number | readonly string[];
  readonly help: string;
  readonly min?: number;
}

export const OPTIONS: readonly OptionSpec[] = [
  { key: 'listen', kind: 'address', default: () => '0.0.0.0:7443', help: 'host:port of the gRPC server (mutual TLS)' },
  { key: 'tlsCa', kind: 'path', default: () => '/etc/kip/pki/ca.crt', help: 'CA that signs coordinator (client) certificates' },
  { key: 'tlsCert', kind: 'path', default: () => '/etc/kip/pki/agent.crt', help: "the agent's certificate" },
  { key: 'tlsKey', kind: 'path', default: () => '/etc/kip/pki/agent.key', help: "the agent's private key" },
  { key: 'stateDir', kind: 'path', default: () => '/var/lib/kip-agent', help: 'run journal, backups, staged binaries' },
  { key: 'rootPrefix', kind: 'optionalPath', default: () => '', help: 'prefix for every node path (tests); empty in production' },
  { key: 'kubeletBinary', kind: 'path', default: () => '/usr/bin/kubelet', help: 'the kubelet binary the unit runs' },
  { key: 'kubeletUnit', kind: 'unit', default: () => 'kubelet.service', help: 'the kubelet systemd unit' },
  { key: 'skipFile', kind: 'path', default: () => '/tmp/cache.version.save', help: 'skip file read by the patched kubelet' },
  {
    key: 'patchMarkers',
    kind: 'list',
    default: () => [...DEFAULT_PATCH_MARKERS],
    help: 'strings a patched kubelet binary holds, all of them (the patch builds the skip-file path at run time, so its literal is in no real build); change them for ports of the patch',
  },
  { key: 'healthzUrl', kind: 'url', default: () => 'http://127.0.0.1:10248/healthz', help: "the kubelet's healthz endpoint" },
  { key: 'verifyTimeoutMs', kind: 'int', min: 1_000, default: () => 120_000, help: 'time the new kubelet has to prove healthy before rollback' },
  { key: 'stableMs', kind: 'int', min: 0, default: () => 10_000, help: 'how long the new kubelet must stay healthy on one PID' },
  { key: 'pollMs', kind: 'int', min: 10, default: () => 500, help: 'verification poll interval' },
  { key: 'journalLines', kind: 'int', min: 0, default: () => 40, help: 'kubelet journal lines reported with a failure' },
  {
    key: 'backupPaths',
    kind: 'list',
    default: () => ['/etc/default/kubelet', '/var/lib/kubelet/kubeadm-flags.env', '/var/lib/kubelet/config.yaml'],
    help: 'more files backed up and restored with the kubelet (besides binary, unit, drop-ins, env files, skip file)',
  },
  { key: 'recovery', kind: { enum: ['resume', 'rollback'] }, default: () => 'resume', help: 'what to do with a run interrupted by an agent restart' },
  { key: 'nodeName', kind: 'string', default: () => hostname(), help: 'the node name reported by GetNode' },
  { key: 'logLevel', kind: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] }, default: () => 'info', help: 'log level' },
  { key: 'shutdownGraceMs', kind: 'int', min: 0, default: () => 10_000, help: 'SIGTERM: time running calls get to finish' },
  {
    key: 'kubeconfig',
    kind: 'optionalPath',
    default: () => '',
    help: "kubeconfig to read this node's pods (the kubelet's own, e.g. /etc/kubernetes/kubelet.conf); enables the hash self-check, restart prediction and skip-file removal; empty: off",
  },
  {
    key: 'criEndpoint',
    kind: 'string',
    default: () => 'auto',
    help: "the kubelet's container runtime (with kubeconfig): auto (from the kubelet's --container-runtime, --container-runtime-endpoint, --docker-endpoint or config), a CRI address (unix:///run/containerd/containerd.sock), or docker:<address> for dockerd (dockershim nodes)",
  },
  { key: 'watchPollMs', kind: 'int', min: 100, default: () => 1_000, help: 'how often the node watcher polls the runtime, the kubelet unit and the skip file (Watch events)' },
  { key: 'kubeletConfirmMs', kind: 'int', min: 1_000, default: () => 10_000, help: "while the kubelet's process lives on, how often systemd is asked for its unit's state anyway (a systemd message about the unit in its journal asks at once)" },
  { key: 'watchBufferEvents', kind: 'int', min: 1, default: () => 10_000, help: 'events the agent keeps for Watch resumption; older sequence numbers are answered WATCH_SEQUENCE_EXPIRED' },
  { key: 'consistencyIntervalMs', kind: 'int', min: 0, default: () => 60_000, help: 'how often to check whether the skip file can go (with kubeconfig); 0: never' },
  { key: 'stagingQuotaBytes', kind: 'int', min: 1, default: () => 2_147_483_648, help: 'bytes all staged binaries and uploads in flight may take together (RemoveStaged frees space)' },
  { key: 'stageIdleTimeoutMs', kind: 'int', min: 1_000, default: () => 60_000, help: 'a StageBinary stream that sends nothing for this long is ended and its temp file removed' },
  { key: 'tlsHandshakeTimeoutMs', kind: 'int', min: 100, default: () => 10_000, help: 'a connection that has not finished the TLS handshake within this time is closed' },
  { key: 'nodeInfoCacheMs', kind: 'int', min: 0, default: () => 1_000, help: 'how long GetNode answers from one look at the node (concurrent calls share it); 0: every call looks' },
  // Node components (issue 9).
  { key: 'manifestsDir', kind: 'path', default: () => '/etc/kubernetes/manifests', help: 'static pod manifests the kubelet runs (kubeadm layout); held manifests go to ../kip-held' },
  { key: 'etcdEndpoints', kind: 'urlList', default: () => [], help: 'etcd client URLs for EtcdSnapshot (the first is snapshotted); empty: EtcdSnapshot needs an endpoint in the request' },
  { key: 'etcdCaFile', kind: 'optionalPath', default: () => '', help: "CA of etcd's serving certificate (https endpoints)" },
  { key: 'etcdCertFile', kind: 'optionalPath', default: () => '', help: 'etcd client certificate (e.g. /etc/kubernetes/pki/apiserver-etcd-client.crt)' },
  { key: 'etcdKeyFile', kind: 'optionalPath', default: () => '', help: 'etcd client key' },
  {
    key: 'components',
    kind: 'componentList',
    default: () => [],
    help: 'components named explicitly (over discovery): name=unit:<unit>:<binary> or name=manifest:<path>, optionally @<health URL>',
  },
  {
    key: 'metricsListen',
    kind: 'optionalAddress',
    default: () => '',
    help: 'host:port of the Prometheus /metrics endpoint (plain HTTP, no auth: prefer 127.0.0.1); empty: off',
  },
];

export const DEFAULT_CONFIG_FILE = '/etc/kip/agent.yaml';

const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const envName = (k: string) => `KIP_AGENT_${k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;

function bad(option: string, source: string, why: string, value: unknown): InvalidInputError {
  return new InvalidInputError('AGENT_CONFIG_INVALID', `option ${option} (from ${source}): ${why}`, { option, source, value: String(value) });
}

function coerce(spec: OptionSpec, raw: unknown, source: string): string | number | readonly string[] {
  const name = spec.key;
  const kind = spec.kind;
  if (kind === 'int') {
    const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw.trim()) : Number.NaN;
    if (!Number.isSafeInteger(n)) throw bad(name, source, 'must be a whole number', raw);
    if (spec.min !== undefined && n < spec.min) throw bad(name, source, `must be at least ${spec.min}`, raw);
    return n;
  }
  if (kind === 'urlList' || kind === 'componentList') {
    const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : undefined;
    if (!items || !items.every((i) => typeof i === 'string')) throw bad(name, source, 'must be a list (comma-separated in env and flags)', raw);
    const list = (items as string[]).map((s) => s.trim()).filter((s) => s !== '');
    for (const item of list) {
      if (kind === 'urlList' && !/^https?:\/\/[^/\s]+\/?$/.test(item)) throw bad(name, source, `${item} is not an http(s) URL like https://127.0.0.1:2379`, raw);
      if (kind === 'componentList') {
        try {
          parseComponentSpec(item);
        } catch (err) {
          throw bad(name, source, isKipError(err) ? err.message : String(err), raw);
        }
      }
    }
    return list;
  }
  if (kind === 'list') {
    const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : undefined;
    if (!items || !items.every((i) => typeof i === 'string')) throw bad(name, source, 'must be a list of paths (comma-separated in env and flags)', raw);
    const list = (items as string[]).map((s) => s.trim()).filter((s) => s !== '');
    for (const p of list) if (!p.startsWith('/')) throw bad(name, source, `${p} is not an absolute path`, raw);
    return list;
  }
  if (typeof raw !== 'string' && typeof raw !== 'number') throw bad(name, source, 'must be a string', raw);
  const s = String(raw).trim();
  if (typeof kind === 'object') {
    if (!kind.enum.includes(s)) throw bad(name, source, `must be one of ${kind.enum.join(', ')}`, raw);
    return s;
  }
  switch (kind) {
    case 'path':
      if (!s.startsWith('/')) throw bad(name, source, 'must be an absolute path', raw);
      return s;
    case 'optionalPath':
      if (s !== '' && !s.startsWith('/')) throw bad(name, source, 'must be empty or an absolute path', raw);
      return s;
    case 'optionalAddress':
    case 'address':
      if (kind === 'optionalAddress' && s === '') return s;
      if (!/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(s) || Number(s.slice(s.lastIndexOf(':') + 1)) > 65535) throw bad(name, source, kind === 'address' ? 'must be host:port' : 'must be empty or host:port', raw);
      return s;
    case 'url':
      if (!/^https?:\/\/[^/\s]+\/\S*$/.test(s)) throw bad(name, source, 'must be an http(s) URL', raw);
      return s;
    case 'unit':
      if (!/^[A-Za-z0-9:_.@-]+\.service$/.test(s)) throw bad(name, source, 'must be a systemd service name like kubelet.service', raw);
      return s;
    case 'string':
      if (s === '') throw bad(name, source, 'must not be empty', raw);
      return s;
  }
}

export interface ConfigSources {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Reads the config file; undefined when it does not exist. */
  readonly readFile?: (path: string) => Promise<string | undefined>;
}

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** A config file that is there but cannot be read as a file: what it is, and what to do instead. */
function unreadableConfig(file: string, source: string, err: unknown): InvalidInputError {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  if (code === 'EISDIR') return bad('config', source, `${file} is a directory, not a YAML file: name the file itself (e.g. ${path.join(file, 'agent.yaml')})`, file);
  if (code === 'EACCES' || code === 'EPERM') return bad('config', source, `${file} cannot be read (permission denied): run kip-agent as root, as its unit does, or make the file readable`, file);
  return bad('config', source, `${file} cannot be read (${typeof code === 'string' ? code : err instanceof Error ? err.message : String(err)}): name a readable YAML file`, file);
}

function parseFlags(argv: readonly string[]): { flags: Map<string, string>; configFile: string | undefined } {
  const byFlag = new Map(OPTIONS.map((o) => [kebab(o.key), o.key as string]));
  const flags = new Map<string, string>();
  let configFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const m = /^--([a-z][a-z-]*)(?:=(.*))?$/s.exec(arg);
    if (!m || m[1] === undefined) throw bad(arg, 'flags', 'not a --flag; see --help', arg);
    const name = m[1];
    let value = m[2];
    if (value === undefined) {
      value = argv[i + 1];
      if (value === undefined) throw bad(`--${name}`, 'flags', 'needs a value', '');
      i += 1;
    }
    if (name === 'config') configFile = value;
    else {
      const key = byFlag.get(name);
      if (!key) throw bad(`--${name}`, 'flags', 'unknown option', value);
      flags.set(key, value);
    }
  }
  return { flags, configFile };
}

export function helpText(): string {
  const lines = ['kip-agent [--config FILE] [--option value ...]', 'kip-agent --version   (version, Node.js version, platform-arch)', '', `Options (flag / env / yaml key, default):`];
  for (const o of OPTIONS) {
    const d = o.default();
    lines.push(`  --${kebab(o.key)}  ${envName(o.key)}  ${o.key}  (default ${JSON.stringify(d)})`, `      ${o.help}`);
  }
  lines.push(`  --config  KIP_AGENT_CONFIG  (default ${DEFAULT_CONFIG_FILE})`, '      YAML file with the keys above; missing default file is fine');
  return lines.join('\n');
}

export async function loadAgentConfig(sources: ConfigSources): Promise<AgentConfig> {
  const { flags, configFile: flagFile } = parseFlags(sources.argv);
  const explicit = flagFile ?? (sources.env.KIP_AGENT_CONFIG || undefined);
  const file = explicit ?? DEFAULT_CONFIG_FILE;
  const source = explicit === undefined ? 'default' : flagFile ? 'flags' : 'env';
  let text: string | undefined;
  try {
    text = await (sources.readFile ?? readOptional)(file);
  } catch (err) {
    throw unreadableConfig(file, source, err);
  }
  if (text === undefined && explicit !== undefined) {
    throw bad('config', source, `${file} does not exist: create it (its keys are in kip-agent --help) or leave out ${flagFile ? '--config' : 'KIP_AGENT_CONFIG'} to run on the defaults`, file);
  }
  let fromFile: Record<string, unknown> = {};
  if (text !== undefined) {
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch (err) {
      throw new InvalidInputError('AGENT_CONFIG_INVALID', `${file} is not valid YAML: ${err instanceof Error ? err.message : String(err)}`, { file });
    }
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== 'object' || Array.isArray(parsed)) throw bad('config', file, 'must be a YAML mapping', '');
      fromFile = parsed as Record<string, unknown>;
    }
    for (const k of Object.keys(fromFile)) {
      if (!OPTIONS.some((o) => o.key === k)) throw bad(k, file, 'unknown option', fromFile[k]);
    }
  }
  const out: Record<string, string | number | readonly string[]> = {};
  for (const spec of OPTIONS) {
    const env = sources.env[envName(spec.key)];
    if (flags.has(spec.key)) out[spec.key] = coerce(spec, flags.get(spec.key), `flag --${kebab(spec.key)}`);
    else if (env !== undefined) out[spec.key] = coerce(spec, env, `env ${envName(spec.key)}`);
    else if (spec.key in fromFile) out[spec.key] = coerce(spec, fromFile[spec.key], file);
    else out[spec.key] = spec.default();
  }
  return out as unknown as AgentConfig;
}
