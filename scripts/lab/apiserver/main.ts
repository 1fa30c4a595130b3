/**
 * Composition root of the lab apiserver as a process (what the lab's versioned launcher runs):
 *   tsx scripts/lab/apiserver/main.ts --config /etc/kip-lab/apiserver.json
 * The config file (JSON): { "gitVersion": "v1.10.13", "etcd": "http://127.0.0.1:2379",
 *   "cert": "/path/server.crt", "key": "/path/server.key", "clientCa": "/path/ca.crt",
 *   "host": "127.0.0.1", "port": 6443, "tokens": { "<token>": { "user": "u", "groups": ["g"] } },
 *   "defaultTolerationSeconds": true }
 * The versioned launcher (../launchers.ts) adds `--lab-kube-version=vX.Y.Z`, which wins over the
 * file's gitVersion (the version is the binary's, so swapping the launcher upgrades the apiserver),
 * and may add `--lab-default-toleration-seconds=true|false`, which wins over the file's setting.
 * SIGTERM/SIGINT stop it cleanly.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidInputError } from '../../../lib/errors.ts';
import { createLogger } from '../../../lib/logger.ts';
import { EtcdClient } from '../etcd.ts';
import { isObject } from './json.ts';
import { startApiServer, type UserInfo } from './server.ts';

export interface ApiServerFileConfig {
  readonly gitVersion: string;
  readonly etcd: string;
  readonly cert: string;
  readonly key: string;
  readonly clientCa: string;
  readonly host?: string;
  readonly port?: number;
  readonly tokens?: Record<string, UserInfo>;
  readonly defaultTolerationSeconds?: boolean;
}

export function parseFileConfig(text: string): ApiServerFileConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new InvalidInputError('LAB_APISERVER_BAD_CONFIG', 'apiserver config is not JSON', {}, { cause });
  }
  if (!isObject(raw)) throw new InvalidInputError('LAB_APISERVER_BAD_CONFIG', 'apiserver config must be an object');
  for (const k of ['gitVersion', 'etcd', 'cert', 'key', 'clientCa']) {
    if (typeof raw[k] !== 'string') throw new InvalidInputError('LAB_APISERVER_BAD_CONFIG', `apiserver config needs a string "${k}"`, { key: k });
  }
  const tokens: Record<string, UserInfo> = {};
  if (isObject(raw.tokens)) {
    for (const [token, info] of Object.entries(raw.tokens)) {
      if (!isObject(info) || typeof info.user !== 'string') throw new InvalidInputError('LAB_APISERVER_BAD_CONFIG', 'each token needs a user', {});
      const groups = Array.isArray(info.groups) ? info.groups.filter((g): g is string => typeof g === 'string') : [];
      tokens[token] = { user: info.user, groups };
    }
  }
  return {
    gitVersion: String(raw.gitVersion),
    etcd: String(raw.etcd),
    cert: String(raw.cert),
    key: String(raw.key),
    clientCa: String(raw.clientCa),
    host: typeof raw.host === 'string' ? raw.host : undefined,
    port: typeof raw.port === 'number' ? raw.port : undefined,
    tokens,
    defaultTolerationSeconds: raw.defaultTolerationSeconds === true,
  };
}

/** The launcher's flags over the file: --lab-kube-version and --lab-default-toleration-seconds (last one wins). */
export function applyLauncherFlags(cfg: ApiServerFileConfig, argv: readonly string[]): ApiServerFileConfig {
  let out = cfg;
  for (const a of argv) {
    const v = /^--lab-kube-version=(.*)$/.exec(a)?.[1];
    if (v !== undefined) {
      if (!/^v\d+\.\d+\.\d+$/.test(v)) throw new InvalidInputError('LAB_APISERVER_USAGE', `--lab-kube-version must look like v1.13.12, got ${JSON.stringify(v)}`);
      out = { ...out, gitVersion: v };
    }
    const d = /^--lab-default-toleration-seconds=(.*)$/.exec(a)?.[1];
    if (d !== undefined) {
      if (d !== 'true' && d !== 'false') throw new InvalidInputError('LAB_APISERVER_USAGE', `--lab-default-toleration-seconds must be true or false, got ${JSON.stringify(d)}`);
      out = { ...out, defaultTolerationSeconds: d === 'true' };
    }
  }
  return out;
}

export async function main(argv: readonly string[]): Promise<void> {
  const i = argv.indexOf('--config');
  const path = i >= 0 ? argv[i + 1] : undefined;
  if (!path) throw new InvalidInputError('LAB_APISERVER_USAGE', 'usage: main.ts --config FILE');
  const cfg = applyLauncherFlags(parseFileConfig(await readFile(path, 'utf8')), argv);
  const logger = createLogger({ name: 'lab-apiserver' });
  const handle = await startApiServer({
    gitVersion: cfg.gitVersion,
    etcd: new EtcdClient(cfg.etcd),
    tls: { cert: await readFile(cfg.cert, 'utf8'), key: await readFile(cfg.key, 'utf8'), clientCa: await readFile(cfg.clientCa, 'utf8') },
    tokens: cfg.tokens,
    admission: { defaultTolerationSeconds: cfg.defaultTolerationSeconds ?? false },
    host: cfg.host,
    port: cfg.port,
    logger,
  });
  const stop = (signal: string): void => {
    logger.info({ signal }, 'stopping');
    handle.stop().then(() => process.exit(0), (err: unknown) => {
      logger.error({ err }, 'stop failed');
      process.exit(1);
    });
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  });
}
