/**
 * One private etcd + the lab apiserver + a PKI + an admin kubeconfig, in one temp dir: what tests and
 * the lab need to stand up an API. restart() stops the apiserver and starts a new one (optionally as
 * another version or with other admission) over the same etcd, on the same port.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Exec } from '../../../lib/exec.ts';
import type { Logger } from '../../../lib/logger.ts';
import { writeKubeconfig } from '../kubeconfig.ts';
import { startEtcd, type EtcdHandle } from '../etcd.ts';
import { generateLabPki, type LabPki } from '../pki.ts';
import { startApiServer, type ApiServerHandle, type UserInfo } from './server.ts';

export interface ControlPlaneOptions {
  readonly exec: Exec;
  readonly logger: Logger;
  readonly dir: string;
  readonly gitVersion: string;
  readonly defaultTolerationSeconds?: boolean;
  readonly tokens?: Readonly<Record<string, UserInfo>>;
}

export interface LabControlPlane {
  readonly etcd: EtcdHandle;
  readonly pki: LabPki;
  readonly api: ApiServerHandle;
  /** Admin (system:masters) client-certificate kubeconfig. */
  readonly kubeconfig: string;
  restart(changes?: { gitVersion?: string; defaultTolerationSeconds?: boolean }): Promise<ApiServerHandle>;
  /** Stops the apiserver and etcd (each even if the other fails). */
  stop(): Promise<void>;
}

export async function startLabControlPlane(options: ControlPlaneOptions): Promise<LabControlPlane> {
  const { exec, logger, dir } = options;
  const pki = await generateLabPki({ exec, dir: join(dir, 'pki'), clients: [{ name: 'admin', commonName: 'kip-admin', organizations: ['system:masters'] }] });
  const etcd = await startEtcd({ exec, dir, logger });
  const tls = {
    cert: await readFile(pki.server.cert, 'utf8'),
    key: await readFile(pki.server.key, 'utf8'),
    clientCa: await readFile(pki.ca.cert, 'utf8'),
  };
  let settings = { gitVersion: options.gitVersion, defaultTolerationSeconds: options.defaultTolerationSeconds ?? false };
  const start = (port?: number): Promise<ApiServerHandle> =>
    startApiServer({
      gitVersion: settings.gitVersion,
      etcd: etcd.client,
      tls,
      tokens: options.tokens,
      admission: { defaultTolerationSeconds: settings.defaultTolerationSeconds },
      port,
      logger,
    });
  let api: ApiServerHandle;
  try {
    api = await start();
  } catch (err) {
    await etcd.stop();
    throw err;
  }
  const admin = pki.clients.admin;
  const kubeconfig = join(dir, 'admin.kubeconfig');
  await writeKubeconfig(kubeconfig, { server: api.url, caFile: pki.ca.cert, clientCertFile: admin?.cert, clientKeyFile: admin?.key, name: 'kip-lab' });
  const plane: LabControlPlane = {
    etcd,
    pki,
    get api() {
      return api;
    },
    kubeconfig,
    restart: async (changes = {}) => {
      await api.stop();
      settings = { ...settings, ...Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)) };
      api = await start(api.port);
      return api;
    },
    stop: async () => {
      try {
        await api.stop();
      } finally {
        await etcd.stop();
      }
    },
  };
  return plane;
}
