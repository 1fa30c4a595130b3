/**
 * The lab supervisor: the long-lived process that owns a lab's nodes and containerds (their
 * creator, in the nspawn harness's sense). `kip-lab up` starts it detached:
 *   node --import tsx scripts/lab/supervisor.ts --state-dir DIR --workers N --version V
 *        [--unpatched] [--address-prefix 127.0.0] [--workloads full|small] [--sync-interval MS] [--hashes engine|vectors] [--control-plane systemd|static-pods] [--programs bundle|tsx]
 *        [--runtime docker|containerd|mixed]
 *        [--agents lab|role] [--agent-artifact FILE] [--kip-cli FILE]
 * It writes progress lines to DIR/up.log and the lab's record to DIR/lab.json (status starting ->
 * up | failed), then waits. SIGTERM (what `kip-lab down` sends) tears the lab down and exits.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { InvalidInputError, isKipError } from '../../lib/errors.ts';
import { execaExec } from '../../lib/exec.ts';
import { createLogger } from '../../lib/logger.ts';
import { systemClock } from '../../lib/clock.ts';
import { appendProgress, readLabState, writeLabState, type LabOptions } from './lab.ts';
import { bringUpLab, type RunningLab } from './bring-up.ts';
import { DEFAULT_LAB_RUNTIME, parseLabRuntime } from './docker-workers.ts';

export function parseSupervisorArgs(argv: readonly string[]): LabOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      'state-dir': { type: 'string' },
      workers: { type: 'string', default: '3' },
      version: { type: 'string', default: 'v1.10.13' },
      unpatched: { type: 'boolean', default: false },
      'address-prefix': { type: 'string', default: '127.0.0' },
      workloads: { type: 'string', default: 'full' },
      'sync-interval': { type: 'string', default: '2000' },
      hashes: { type: 'string', default: 'engine' },
      'control-plane': { type: 'string', default: 'systemd' },
      programs: { type: 'string', default: 'bundle' },
      runtime: { type: 'string', default: DEFAULT_LAB_RUNTIME },
      agents: { type: 'string', default: 'lab' },
      'agent-artifact': { type: 'string' },
      'kip-cli': { type: 'string' },
    },
  });
  const stateDir = values['state-dir'];
  if (!stateDir) throw new InvalidInputError('LAB_USAGE', 'the supervisor needs --state-dir');
  const workers = Number(values.workers);
  const syncIntervalMs = Number(values['sync-interval']);
  const workloads = values.workloads;
  if (workloads !== 'full' && workloads !== 'small') throw new InvalidInputError('LAB_USAGE', `--workloads must be full or small, got ${String(workloads)}`);
  if (!Number.isInteger(syncIntervalMs) || syncIntervalMs < 200) throw new InvalidInputError('LAB_USAGE', `--sync-interval must be an integer >= 200 (ms)`);
  const hashes = values.hashes;
  if (hashes !== 'engine' && hashes !== 'vectors') throw new InvalidInputError('LAB_USAGE', `--hashes must be engine or vectors, got ${String(hashes)}`);
  const controlPlane = values['control-plane'];
  if (controlPlane !== 'systemd' && controlPlane !== 'static-pods') throw new InvalidInputError('LAB_USAGE', `--control-plane must be systemd or static-pods, got ${String(controlPlane)}`);
  const programs = values.programs;
  if (programs !== 'bundle' && programs !== 'tsx') throw new InvalidInputError('LAB_USAGE', `--programs must be bundle or tsx, got ${String(programs)}`);
  const agents = values.agents;
  if (agents !== 'lab' && agents !== 'role') throw new InvalidInputError('LAB_USAGE', `--agents must be lab or role, got ${String(agents)}`);
  return {
    agents,
    ...(values['agent-artifact'] ? { agentArtifact: resolve(values['agent-artifact']) } : {}),
    ...(values['kip-cli'] ? { kipCli: resolve(values['kip-cli']) } : {}),
    controlPlane,
    programs,
    stateDir: resolve(stateDir),
    workers,
    version: values.version,
    patched: !values.unpatched,
    addressPrefix: values['address-prefix'],
    workloads,
    syncIntervalMs,
    hashes,
    runtime: parseLabRuntime(values.runtime),
  };
}

async function main(argv: readonly string[]): Promise<number> {
  const options = parseSupervisorArgs(argv);
  const logger = createLogger({ name: 'kip-lab' });
  let stopRequested = false;
  let wake: () => void = () => undefined;
  const stopped = new Promise<void>((r) => {
    wake = r;
  });
  const onSignal = (signal: string): void => {
    logger.info({ signal }, 'stop requested');
    stopRequested = true;
    wake();
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('SIGHUP', () => logger.warn('SIGHUP ignored: the lab keeps running until `kip-lab down`'));

  const progress = (line: string): void => {
    logger.info({ progress: line });
    appendProgress(options.stateDir, line).catch((err: unknown) => logger.warn({ err }, 'could not write progress'));
  };
  let lab: RunningLab;
  try {
    lab = await bringUpLab(options, { exec: execaExec, logger, clock: systemClock, progress, aborted: () => stopRequested });
  } catch (err) {
    const state = await readLabState(options.stateDir).catch(() => undefined);
    if (state) {
      state.status = 'failed';
      state.error = isKipError(err) ? `${err.message} [${err.code}]` : err instanceof Error ? err.message : String(err);
      await writeLabState(state);
    }
    return 1;
  }
  const s = lab.state.summary;
  if (s) progress(`lab up in ${(s.upMs / 1000).toFixed(1)} s`);
  progress('ready');
  await stopped;
  lab.state.status = 'stopping';
  await writeLabState(lab.state);
  try {
    await lab.teardown();
  } catch (err) {
    logger.error({ err }, 'teardown had problems');
    lab.state.status = 'stopped';
    lab.state.error = err instanceof Error ? err.message : String(err);
    await writeLabState(lab.state);
    return 1;
  }
  lab.state.status = 'stopped';
  await writeLabState(lab.state);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`kip-lab supervisor: ${isKipError(err) ? `${err.message} [${err.code}]` : String(err)}\n`);
      process.exit(2);
    },
  );
}
