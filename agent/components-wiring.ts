/** Wires the node-component service (discovery, holds, etcd snapshots) from the agent config; called by agent/main.ts. */
import path from 'node:path';
import { systemClock } from '../lib/clock.ts';
import { execaExec } from '../lib/exec.ts';
import type { Logger } from '../lib/logger.ts';
import { EtcdSnapshots, HoldStore } from './components/index.ts';
import { parseComponentSpec } from './components/config-spec.ts';
import type { AgentConfig } from './config.ts';
import { ComponentService } from './server-components.ts';
import { createSystemd } from './systemd/index.ts';
import type { FileSystem } from './upgrade/fs.ts';

export async function componentService(config: AgentConfig, fs: FileSystem, logger: Logger): Promise<ComponentService> {
  const hostPath = (p: string) => (config.rootPrefix ? path.join(config.rootPrefix, p) : p);
  const systemd = createSystemd(execaExec);
  const log = logger.child({ component: 'components' });
  const svc = new ComponentService({
    discovery: { fs, systemd, exec: execaExec, hostPath, manifestsDir: config.manifestsDir, kubeletUnit: config.kubeletUnit, kubeletBinary: config.kubeletBinary, kubeletHealthzUrl: config.healthzUrl },
    configs: config.components.map(parseComponentSpec),
    holds: new HoldStore({ fs, systemd, clock: systemClock, stateDir: config.stateDir, hostPath }),
    snapshots: new EtcdSnapshots({ exec: execaExec, fs, clock: systemClock, stateDir: config.stateDir }),
    etcd: {
      endpoints: config.etcdEndpoints,
      ...(config.etcdCertFile ? { cacert: hostPath(config.etcdCaFile), cert: hostPath(config.etcdCertFile), key: hostPath(config.etcdKeyFile) } : {}),
    },
    logger: log,
  });
  try {
    await svc.start();
  } catch (err) {
    // Serve anyway: the operator needs Hold/Release to repair whatever the journal could not finish.
    log.error({ err }, 'could not finish the journaled holds; serving so that Release can repair them');
  }
  return svc;
}
