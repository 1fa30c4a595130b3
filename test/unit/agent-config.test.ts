import { describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { DEFAULT_CONFIG_FILE, OPTIONS, helpText, loadAgentConfig } from '../../agent/config.ts';
import { toServiceError } from '../../agent/server.ts';
import { InvalidInputError, KipError } from '../../lib/errors.ts';
import { NotFoundError, PreconditionError, StepFailedError } from '../../agent/upgrade/errors.ts';
import { fromGrpcError, AgentCallError } from '../../coordinator/fleet/errors.ts';
import { parseFaultSpec, faultHookFromEnv } from '../../agent/upgrade/fault.ts';
import { silentLogger } from '../../lib/logger.ts';
import { execaExec } from '../../lib/exec.ts';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

const noFile = async () => undefined;

describe('agent config', () => {
  it('has a default for every option', async () => {
    const c = await loadAgentConfig({ argv: [], env: {}, readFile: noFile });
    expect(c).toMatchObject({
      listen: '0.0.0.0:7443',
      stateDir: '/var/lib/kip-agent',
      kubeletBinary: '/usr/bin/kubelet',
      kubeletUnit: 'kubelet.service',
      skipFile: '/tmp/cache.version.save',
      rootPrefix: '',
      recovery: 'resume',
    });
    for (const o of OPTIONS) expect(c[o.key], o.key).toBeDefined();
    for (const o of OPTIONS) expect(helpText()).toContain(o.key);
  });

  it('layers file < env < flags', async () => {
    const files: Record<string, string> = { [DEFAULT_CONFIG_FILE]: 'stateDir: /srv/a\nskipFile: /srv/skip\nverifyTimeoutMs: 5000\nbackupPaths: [/etc/x]\n' };
    const c = await loadAgentConfig({
      argv: ['--state-dir=/srv/c', '--poll-ms', '50'],
      env: { KIP_AGENT_STATE_DIR: '/srv/b', KIP_AGENT_SKIP_FILE: '/srv/env-skip', KIP_AGENT_BACKUP_PATHS: '/etc/y, /etc/z' },
      readFile: async (p) => files[p],
    });
    expect(c.stateDir).toBe('/srv/c');
    expect(c.skipFile).toBe('/srv/env-skip');
    expect(c.verifyTimeoutMs).toBe(5000);
    expect(c.pollMs).toBe(50);
    expect(c.backupPaths).toEqual(['/etc/y', '/etc/z']);
  });

  it.each([
    [{ argv: ['--state-dir=relative'] }, /option stateDir \(from flag --state-dir\): must be an absolute path/],
    [{ argv: ['--nope=1'] }, /option --nope \(from flags\): unknown option/],
    [{ env: { KIP_AGENT_VERIFY_TIMEOUT_MS: 'soon' } }, /option verifyTimeoutMs \(from env KIP_AGENT_VERIFY_TIMEOUT_MS\): must be a whole number/],
    [{ env: { KIP_AGENT_RECOVERY: 'pray' } }, /option recovery .*must be one of resume, rollback/],
    [{ argv: ['--kubelet-unit', 'kubelet'] }, /option kubeletUnit .*systemd service name/],
    [{ argv: ['--listen=nope'] }, /option listen .*host:port/],
    [{ file: 'stateDir: /x\ntypo: 1\n' }, /option typo \(from \/etc\/kip\/agent.yaml\): unknown option/],
    [{ argv: ['--config=/etc/kip/missing.yaml'] }, /option config \(from flags\): \/etc\/kip\/missing.yaml does not exist: create it \(its keys are in kip-agent --help\) or leave out --config/],
    [{ env: { KIP_AGENT_CONFIG: '/etc/kip/missing.yaml' } }, /option config \(from env\): \/etc\/kip\/missing.yaml does not exist: .*leave out KIP_AGENT_CONFIG/],
  ])('names the option in a validation error: %j', async (src, re) => {
    const s = src as { argv?: string[]; env?: Record<string, string>; file?: string };
    const err = await loadAgentConfig({ argv: s.argv ?? [], env: s.env ?? {}, readFile: async (p) => (p === DEFAULT_CONFIG_FILE ? s.file : undefined) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as Error).message).toMatch(re);
  });
});

describe('agent config file that cannot be read', () => {
  const failing = (code: string) => async (): Promise<string | undefined> => { throw Object.assign(new Error(`${code}: boom`), { code }); };
  it.each([
    ['EISDIR', /option config \(from flags\): \/srv\/k is a directory, not a YAML file: name the file itself \(e\.g\. \/srv\/k\/agent\.yaml\)/],
    ['EACCES', /option config \(from flags\): \/srv\/k cannot be read \(permission denied\): run kip-agent as root/],
    ['EIO', /option config \(from flags\): \/srv\/k cannot be read \(EIO\): name a readable YAML file/],
  ])('%s names the file and the fix', async (code, re) => {
    const err = await loadAgentConfig({ argv: ['--config', '/srv/k'], env: {}, readFile: failing(code) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as InvalidInputError).code).toBe('AGENT_CONFIG_INVALID');
    expect((err as Error).message).toMatch(re);
  });

  it('the default file as a directory is named as the default', async () => {
    const err = await loadAgentConfig({ argv: [], env: {}, readFile: failing('EISDIR') }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(new RegExp(`option config \\(from default\\): ${DEFAULT_CONFIG_FILE} is a directory`));
  });
});

describe('error mapping (agent -> gRPC -> coordinator)', () => {
  it.each([
    [new InvalidInputError('STAGE_SHA256_MISMATCH', 'bad sum', { a: 1 }), grpc.status.INVALID_ARGUMENT, 'invalid'],
    [new PreconditionError('RUN_IN_PROGRESS', 'run r1 is in progress'), grpc.status.FAILED_PRECONDITION, 'precondition'],
    [new NotFoundError('RUN_NOT_FOUND', 'no run'), grpc.status.NOT_FOUND, 'not_found'],
    [new StepFailedError('VERIFY_FAILED', 'unhealthy'), grpc.status.ABORTED, 'aborted'],
    [new KipError('SOMETHING', 'else'), grpc.status.INTERNAL, 'internal'],
    [new Error('plain'), grpc.status.INTERNAL, 'internal'],
  ])('%s', (err, status, kind) => {
    const se = toServiceError(err);
    expect(se.code).toBe(status);
    const back = fromGrpcError(se, 'GetNode');
    expect(back).toBeInstanceOf(AgentCallError);
    expect(back).toMatchObject({ kind, grpcStatus: status, code: err instanceof KipError ? err.code : 'INTERNAL' });
    expect(back.message).toBe(`GetNode: ${err.message}`);
    if (err instanceof KipError) expect(back.details).toEqual(err.details);
  });
  it('maps transport failures without a kip code', () => {
    const se = Object.assign(new Error('14 UNAVAILABLE: No connection established'), { code: grpc.status.UNAVAILABLE, details: 'No connection established', metadata: new grpc.Metadata() });
    expect(fromGrpcError(se, 'GetRun')).toMatchObject({ code: 'AGENT_UNAVAILABLE', kind: 'unavailable' });
    const dl = Object.assign(new Error('4'), { code: grpc.status.DEADLINE_EXCEEDED, details: 'Deadline exceeded', metadata: new grpc.Metadata() });
    expect(fromGrpcError(dl, 'GetRun')).toMatchObject({ code: 'AGENT_DEADLINE_EXCEEDED', kind: 'deadline' });
  });
});

describe('fault injection hook', () => {
  it('parses STEP:point lists and refuses anything else', () => {
    expect([...parseFaultSpec('SWAP_BINARY:before, VERIFY:after')]).toEqual(['SWAP_BINARY:before', 'VERIFY:after']);
    expect(() => parseFaultSpec('SWAP:before')).toThrow(/FAULT|not STEP/);
    expect(() => parseFaultSpec('VERIFY:during')).toThrow();
  });
  it('is off without the variable, and fires once per point', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kip-fault-'));
    try {
      let kills = 0;
      const off = faultHookFromEnv(undefined, dir, silentLogger(), () => (kills += 1));
      await off.at('VERIFY', 'before');
      expect(kills).toBe(0);
      const on = faultHookFromEnv('VERIFY:before', dir, silentLogger(), () => (kills += 1));
      await on.at('VERIFY', 'after');
      expect(kills).toBe(0);
      void on.at('VERIFY', 'before'); // never resolves, like a killed process
      expect(kills).toBe(1);
      await on.at('VERIFY', 'before'); // the marker makes the restarted agent pass
      expect(kills).toBe(1);
      expect(await readdir(path.join(dir, 'faults-fired'))).toEqual(['VERIFY-before']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('kip-agent entry point', () => {
  const repo = path.resolve(import.meta.dirname, '../..');
  it('exits 2 naming the option on a bad configuration, before doing anything', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'kip-main-'));
    try {
      const r = await execaExec(process.execPath, [path.join(repo, 'bin/kip-agent.mjs'), '--config', path.join(dir, 'absent.yaml')], { timeoutMs: 60_000 });
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(/option config \(from flags\): .*absent.yaml does not exist/);
      await writeFile(path.join(dir, 'empty.yaml'), '');
      const r2 = await execaExec(process.execPath, [path.join(repo, 'bin/kip-agent.mjs'), '--config', path.join(dir, 'empty.yaml'), '--verify-timeout-ms=5'], { timeoutMs: 60_000 });
      expect(r2.exitCode).toBe(2);
      expect(r2.stderr).toMatch(/option verifyTimeoutMs \(from flag --verify-timeout-ms\): must be at least 1000/);
      // A directory given as the config file (kip-agent --config /nonexistent, where that path
      // is a directory): the file and the fix, not "EISDIR: illegal operation on a directory, read".
      const r3 = await execaExec(process.execPath, [path.join(repo, 'bin/kip-agent.mjs'), '--config', dir], { timeoutMs: 60_000 });
      expect(r3.exitCode).toBe(2);
      expect(r3.stderr).toContain(`option config (from flags): ${dir} is a directory, not a YAML file: name the file itself (e.g. ${path.join(dir, 'agent.yaml')})`);
      expect(r3.stderr).not.toMatch(/EISDIR/);
      const help = await execaExec(process.execPath, [path.join(repo, 'bin/kip-agent.mjs'), '--help'], { timeoutMs: 60_000 });
      expect(help.exitCode).toBe(0);
      expect(help.stdout).toContain('KIP_AGENT_SKIP_FILE');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
