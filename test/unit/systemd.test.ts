import { describe, expect, it } from 'vitest';
import type { Exec, ExecOptions, ExecResult } from '../../lib/exec.ts';
import {
  createJournal,
  createSystemd,
  execMainStartMonotonicUsec,
  execMainStartTimestampUsec,
  JournalCommandError,
  mainPid,
  parseEnvironmentFiles,
  parseExecCommands,
  parseJournalLine,
  parseShowOutput,
  parseTimestampUsec,
  SystemdCommandError,
  type StreamExit,
  type StreamProcess,
  type StreamSpawn,
} from '../../agent/systemd/index.ts';

interface Call {
  command: string;
  args: readonly string[];
  options: ExecOptions;
}

function fakeExec(reply: (args: readonly string[]) => Partial<ExecResult>): { exec: Exec; calls: Call[] } {
  const calls: Call[] = [];
  const exec: Exec = async (command, args, options) => {
    calls.push({ command, args, options });
    return { command, args, exitCode: 0, signal: undefined, stdout: '', stderr: '', timedOut: false, durationMs: 1, ...reply(args) };
  };
  return { exec, calls };
}

// Real output of systemd 252 (captured from a node), including " ; " inside argv.
const EXEC_START =
  'ExecStart={ path=/bin/sh ; argv[]=/bin/sh -c echo "hello; world ; x=1" ; echo second; exec sleep infinity $X a b ; ignore_errors=no ; start_time=[Fri 2026-11-27 02:52:26 UTC] ; stop_time=[n/a] ; pid=59 ; code=(null) ; status=0/0 }';

const JOURNAL_LINE =
  '{"_SYSTEMD_UNIT":"kipx.service","PRIORITY":"6","_PID":"59","__REALTIME_TIMESTAMP":"1795747946336522","__CURSOR":"s=f9;i=35;b=04;m=3a;t=66;x=83","MESSAGE":"hello; world ; x=1","_TRANSPORT":"stdout"}';

describe('parseShowOutput', () => {
  it('splits at the first = and keeps repeated keys', () => {
    const props = parseShowOutput(
      `MainPID=59\nEnvironment=A=1 B=x=y\n${EXEC_START}\nEnvironmentFiles=/etc/default/kipx (ignore_errors=yes)\nEnvironmentFiles=/etc/default/kipy (ignore_errors=no)\nExecMainStartTimestamp=\n`,
    );
    expect(props.MainPID).toBe('59');
    expect(props.Environment).toBe('A=1 B=x=y');
    expect(props.ExecMainStartTimestamp).toBe('');
    expect(props.EnvironmentFiles).toBe('/etc/default/kipx (ignore_errors=yes)\n/etc/default/kipy (ignore_errors=no)');
  });
  it('raises a typed error on a line without =', () => {
    expect(() => parseShowOutput('garbage\n')).toThrow(expect.objectContaining({ code: 'SYSTEMD_PARSE_FAILED' }));
  });
});

describe('parseExecCommands', () => {
  it('parses path, argv (up to the last ignore_errors) and run data', () => {
    const [cmd, ...rest] = parseExecCommands(parseShowOutput(EXEC_START).ExecStart ?? '');
    expect(rest).toEqual([]);
    expect(cmd?.path).toBe('/bin/sh');
    expect(cmd?.argvText).toBe('/bin/sh -c echo "hello; world ; x=1" ; echo second; exec sleep infinity $X a b');
    expect(cmd?.argv.slice(0, 3)).toEqual(['/bin/sh', '-c', 'echo']);
    expect(cmd?.argv.at(-3)).toBe('$X');
    expect(cmd?.ignoreErrors).toBe(false);
    expect(cmd?.pid).toBe(59);
    expect(cmd?.startTime).toBe('Fri 2026-11-27 02:52:26 UTC');
    expect(cmd?.stopTime).toBeUndefined();
    expect(cmd?.code).toBe('(null)');
    expect(cmd?.status).toBe('0/0');
  });
  it('parses a kubelet command line and several commands', () => {
    const value =
      '{ path=/usr/bin/kubelet ; argv[]=/usr/bin/kubelet --a=b --pod-infra-container-image=k8s.gcr.io/pause:3.1 $KUBELET_ARGS ; ignore_errors=no ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }\n' +
      '{ path=/bin/true ; argv[]=-/bin/true ; ignore_errors=yes ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }';
    const cmds = parseExecCommands(value);
    expect(cmds.map((c) => c.path)).toEqual(['/usr/bin/kubelet', '/bin/true']);
    expect(cmds[0]?.argv).toEqual(['/usr/bin/kubelet', '--a=b', '--pod-infra-container-image=k8s.gcr.io/pause:3.1', '$KUBELET_ARGS']);
    expect(cmds[0]?.pid).toBeUndefined();
    expect(cmds[1]?.ignoreErrors).toBe(true);
  });
  it('understands the ExecStartEx flags form', () => {
    const [cmd] = parseExecCommands('{ path=/bin/x ; argv[]=/bin/x ; flags=ignore-failure ; start_time=[n/a] ; stop_time=[n/a] ; pid=0 ; code=(null) ; status=0/0 }');
    expect(cmd?.ignoreErrors).toBe(true);
  });
  it('returns nothing for an empty value and rejects junk', () => {
    expect(parseExecCommands('')).toEqual([]);
    expect(() => parseExecCommands('/usr/bin/kubelet')).toThrow(expect.objectContaining({ code: 'SYSTEMD_PARSE_FAILED' }));
  });
});

describe('parseEnvironmentFiles', () => {
  it('parses optional and required files', () => {
    expect(parseEnvironmentFiles('/etc/default/kubelet (ignore_errors=yes)\n/etc/sysconfig/k (ignore_errors=no)')).toEqual([
      { path: '/etc/default/kubelet', ignoreErrors: true },
      { path: '/etc/sysconfig/k', ignoreErrors: false },
    ]);
    expect(parseEnvironmentFiles('')).toEqual([]);
  });
});

describe('timestamps and pids', () => {
  it('parses UTC, offset and @unix timestamps to microseconds', () => {
    expect(parseTimestampUsec('Fri 2026-11-27 02:52:26 UTC')).toBe(BigInt(Date.UTC(2026, 10, 27, 2, 52, 26)) * 1000n);
    expect(parseTimestampUsec('2026-11-27 03:52:26.5 +01:00')).toBe(BigInt(Date.UTC(2026, 10, 27, 2, 52, 26)) * 1000n + 500_000n);
    expect(parseTimestampUsec('@1795747946.336522')).toBe(1795747946336522n);
    expect(parseTimestampUsec('')).toBeUndefined();
    expect(parseTimestampUsec('n/a')).toBeUndefined();
    expect(() => parseTimestampUsec('Fri 2026-11-27 02:52:26 CET')).toThrow(expect.objectContaining({ code: 'SYSTEMD_PARSE_FAILED' }));
  });
  it('reads MainPID and ExecMainStart* from show output', () => {
    const props = parseShowOutput('MainPID=0\nExecMainStartTimestamp=\nExecMainStartTimestampMonotonic=0\n');
    expect(mainPid(props)).toBeUndefined();
    expect(execMainStartTimestampUsec(props)).toBeUndefined();
    expect(execMainStartMonotonicUsec(props)).toBeUndefined();
    const running = parseShowOutput('MainPID=42\nExecMainStartTimestamp=Fri 2026-11-27 02:52:26 UTC\nExecMainStartTimestampMonotonic=983290791\n');
    expect(mainPid(running)).toBe(42);
    expect(execMainStartMonotonicUsec(running)).toBe(983290791n);
    expect(() => mainPid({})).toThrow(expect.objectContaining({ code: 'SYSTEMD_PARSE_FAILED' }));
  });
});

describe('parseJournalLine', () => {
  it('maps the well-known fields', () => {
    const e = parseJournalLine(JOURNAL_LINE);
    expect(e.cursor).toBe('s=f9;i=35;b=04;m=3a;t=66;x=83');
    expect(e.realtimeUsec).toBe(1795747946336522n);
    expect(e.message).toBe('hello; world ; x=1');
    expect(e.pid).toBe(59);
    expect(e.priority).toBe(6);
    expect(e.unit).toBe('kipx.service');
    expect(e.fields._TRANSPORT).toBe('stdout');
  });
  it('decodes byte-array messages, repeated fields and skips null fields', () => {
    const e = parseJournalLine(
      '{"__CURSOR":"c","__REALTIME_TIMESTAMP":"1","MESSAGE":[98,105,110,1,97,114,121,32,195,169],"TAG":["a",[98]],"BIG":null,"UNIT":"x.service","_SYSTEMD_UNIT":"init.scope"}',
    );
    expect(e.message).toBe('bin\u0001ary é');
    expect(e.fields.TAG).toBe('a\nb');
    expect('BIG' in e.fields).toBe(false);
    expect(e.unit).toBe('x.service');
    expect(e.pid).toBeUndefined();
  });
  it('rejects lines that are not journal entries', () => {
    for (const bad of ['not json', '[1]', '{"MESSAGE":"x"}', '{"__CURSOR":"c","__REALTIME_TIMESTAMP":"1","M":[300]}']) {
      expect(() => parseJournalLine(bad)).toThrow(expect.objectContaining({ code: 'SYSTEMD_PARSE_FAILED' }));
    }
  });
});

describe('createSystemd', () => {
  it('runs systemctl with argument arrays, a fixed env and timeouts', async () => {
    const { exec, calls } = fakeExec((args) => (args[0] === 'show' ? { stdout: 'MainPID=7\nActiveState=active\n' } : {}));
    const sd = createSystemd(exec, { queryTimeoutMs: 1234, jobTimeoutMs: 5678 });
    expect(await sd.show('kubelet.service', ['MainPID', 'ActiveState'])).toEqual({ MainPID: '7', ActiveState: 'active' });
    await sd.start('kubelet');
    await sd.stop('kubelet');
    await sd.restart('kubelet');
    await sd.daemonReload();
    expect(calls.map((c) => [c.command, ...c.args])).toEqual([
      ['systemctl', 'show', '--property=MainPID,ActiveState', '--', 'kubelet.service'],
      ['systemctl', 'start', '--', 'kubelet'],
      ['systemctl', 'stop', '--', 'kubelet'],
      ['systemctl', 'restart', '--', 'kubelet'],
      ['systemctl', 'daemon-reload'],
    ]);
    expect(calls.map((c) => c.options.timeoutMs)).toEqual([1234, 5678, 5678, 5678, 1234]);
    for (const c of calls) expect(c.options.env).toMatchObject({ TZ: 'UTC', LC_ALL: 'C' });
  });
  it('reports the state from is-active, also with exit status 3', async () => {
    const { exec } = fakeExec((args) => (args[2] === 'a' ? { stdout: 'active\n' } : { exitCode: 3, stdout: 'failed\n' }));
    const sd = createSystemd(exec);
    expect(await sd.isActive('a')).toBe('active');
    expect(await sd.isActive('b')).toBe('failed');
  });
  it('raises SystemdCommandError with unit, exit code and stderr', async () => {
    const { exec } = fakeExec(() => ({ exitCode: 5, stderr: 'Failed to start nope.service: Unit nope.service not found.\n' }));
    const err = await createSystemd(exec).start('nope.service').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SystemdCommandError);
    expect(err).toMatchObject({ code: 'SYSTEMCTL_FAILED', unit: 'nope.service', exitCode: 5, timedOut: false });
    expect((err as SystemdCommandError).stderr).toContain('not found');
    const timedOut = fakeExec(() => ({ exitCode: undefined, timedOut: true, stdout: '' }));
    await expect(createSystemd(timedOut.exec).isActive('x')).rejects.toMatchObject({ code: 'SYSTEMCTL_FAILED', timedOut: true });
  });
  it('refuses option-like or odd unit and property names before running anything', async () => {
    const { exec, calls } = fakeExec(() => ({}));
    const sd = createSystemd(exec);
    for (const bad of ['--force', '', 'a b', 'x;y', 'a\nb']) {
      await expect(sd.start(bad)).rejects.toMatchObject({ code: 'SYSTEMD_INVALID_ARGUMENT' });
    }
    await expect(sd.show('x', ['Main PID'])).rejects.toMatchObject({ code: 'SYSTEMD_INVALID_ARGUMENT' });
    expect(calls).toEqual([]);
  });
});

describe('createJournal', () => {
  it('reads with json output and the requested window', async () => {
    const { exec, calls } = fakeExec(() => ({ stdout: `${JOURNAL_LINE}\n\n` }));
    const j = createJournal(exec, { timeoutMs: 999 });
    const entries = await j.read('kipx.service', { lines: 5, sinceUsec: 1795747946000000n, afterCursor: 's=1;i=2' });
    expect(entries.map((e) => e.message)).toEqual(['hello; world ; x=1']);
    expect(calls[0]?.args).toEqual([
      '--unit', 'kipx.service', '--output=json', '--all', '--no-pager', '--quiet',
      '--lines=5', '--since=@1795747946.000000', '--after-cursor=s=1;i=2',
    ]);
    expect(calls[0]?.options.timeoutMs).toBe(999);
    // Entries before sinceUsec are dropped even when journalctl's --since lets them through.
    expect(await j.read('kipx.service', { sinceUsec: 1795747946336523n })).toEqual([]);
  });
  it('raises JournalCommandError on failure', async () => {
    const { exec } = fakeExec(() => ({ exitCode: 1, stderr: 'Failed to seek to cursor: Invalid argument\n' }));
    await expect(createJournal(exec).read('x', { afterCursor: 'garbage' })).rejects.toBeInstanceOf(JournalCommandError);
    await expect(createJournal(exec).read('x', { afterCursor: 'garbage' })).rejects.toMatchObject({ code: 'JOURNALCTL_FAILED', exitCode: 1 });
    await expect(createJournal(exec).read('x', { lines: -1 })).rejects.toMatchObject({ code: 'SYSTEMD_INVALID_ARGUMENT' });
  });

  function fakeSpawn(lines: string[], endByItself: boolean): { spawn: StreamSpawn; spawned: (readonly string[])[]; stops: () => number } {
    const spawned: (readonly string[])[] = [];
    let stops = 0;
    const spawn: StreamSpawn = (_command, args) => {
      spawned.push(args);
      let release: (exit: StreamExit) => void = () => undefined;
      const done = new Promise<StreamExit>((r) => {
        release = r;
      });
      const proc: StreamProcess = {
        pid: 1,
        done,
        lines: (async function* () {
          for (const l of lines) yield l;
          if (endByItself) {
            release({ exitCode: 1, signal: undefined, stderr: 'boom' });
            return;
          }
          await done; // a follower only ends when stopped
        })(),
        stop: async () => {
          stops += 1;
          release({ exitCode: undefined, signal: 'SIGTERM', stderr: '' });
          return done;
        },
      };
      return proc;
    };
    return { spawn, spawned, stops: () => stops };
  }

  it('follows entries until aborted, then stops the child', async () => {
    const fake = fakeSpawn([JOURNAL_LINE, '', JOURNAL_LINE.replace('hello; world ; x=1', 'second')], false);
    const j = createJournal(fakeExec(() => ({})).exec, { spawn: fake.spawn });
    const ac = new AbortController();
    const got: string[] = [];
    for await (const e of j.follow('kipx.service', { signal: ac.signal, afterCursor: 'c1' })) {
      got.push(e.message);
      if (got.length === 2) ac.abort();
    }
    expect(got).toEqual(['hello; world ; x=1', 'second']);
    expect(fake.spawned[0]).toEqual(['--unit', 'kipx.service', '--output=json', '--all', '--no-pager', '--quiet', '--follow', '--after-cursor=c1']);
    expect(fake.stops()).toBeGreaterThan(0);
  });
  it('starts at new entries without a cursor and stops the child when the consumer breaks', async () => {
    const fake = fakeSpawn([JOURNAL_LINE], false);
    const j = createJournal(fakeExec(() => ({})).exec, { spawn: fake.spawn });
    for await (const e of j.follow('kipx.service', { signal: new AbortController().signal })) {
      expect(e.pid).toBe(59);
      break;
    }
    expect(fake.spawned[0]?.at(-1)).toBe('--lines=0');
    expect(fake.stops()).toBe(1);
  });
  it('raises when journalctl ends by itself, and does not start when already aborted', async () => {
    const fake = fakeSpawn([], true);
    const j = createJournal(fakeExec(() => ({})).exec, { spawn: fake.spawn });
    const it = j.follow('kipx.service', { signal: new AbortController().signal })[Symbol.asyncIterator]();
    await expect(it.next()).rejects.toMatchObject({ code: 'JOURNALCTL_FAILED', exitCode: 1 });
    const ac = new AbortController();
    ac.abort();
    const before = fake.spawned.length;
    for await (const _ of j.follow('kipx.service', { signal: ac.signal })) throw new Error('unexpected entry');
    expect(fake.spawned.length).toBe(before);
  });
});
