import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createJournal,
  createSystemd,
  execMainStartMonotonicUsec,
  execMainStartTimestampUsec,
  MAIN_PROCESS_PROPERTIES,
  mainPid,
  parseEnvironmentFiles,
  parseExecCommands,
  SystemdCommandError,
  type Journal,
  type JournalEntry,
  type Systemd,
} from '../../agent/systemd/index.ts';
import { bootNode, ensureBaseImage, type NspawnNode } from '../../scripts/nspawn/index.ts';

const UNIT = 'kip-echo.service';
// In a unit file `$$` is a literal `$` and `\\` a backslash: sh receives `$$` and `\001`.
const UNIT_FILE = `[Unit]
Description=kip systemd adapter test unit
[Service]
EnvironmentFile=-/etc/default/kip-echo
ExecStart=/bin/sh -c 'echo "kip-echo hello pid=$$$$ greeting=$GREETING"; printf "kip-echo bin\\\\001ary\\\\n"; exec sleep infinity'
`;

async function poll<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('systemd adapter against a real systemd (nspawn node)', () => {
  let tmp = '';
  let node: NspawnNode | undefined;
  let systemd: Systemd;
  let journal: Journal;
  let firstPid = 0;

  const n = (): NspawnNode => {
    if (node === undefined) throw new Error('node not booted');
    return node;
  };

  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'kip-systemd-test-'));
    const base = await ensureBaseImage();
    node = await bootNode({ name: 'kip-sd-test', base, workDir: join(tmp, 'node') });
    await node.waitForSystemd(90_000);
    await writeFile(join(node.root, 'etc/default/kip-echo'), 'GREETING=hi\n');
    await writeFile(join(node.root, 'etc/systemd/system', UNIT), UNIT_FILE);
    // The adapter runs exactly as in production; only the Exec (and stream spawner) enter the node.
    systemd = createSystemd(node.exec);
    journal = createJournal(node.exec, { spawn: node.spawn });
  }, 20 * 60_000);

  afterAll(async () => {
    await node?.stop();
    if (tmp !== '') await rm(tmp, { recursive: true, force: true });
  }, 120_000);

  it('starts a unit and shows ExecStart, EnvironmentFiles and the main process', async () => {
    await systemd.daemonReload();
    expect(await systemd.isActive(UNIT)).toBe('inactive');
    await systemd.start(UNIT);
    expect(await systemd.isActive(UNIT)).toBe('active');
    const props = await systemd.show(UNIT, ['ExecStart', 'EnvironmentFiles', 'ActiveState', ...MAIN_PROCESS_PROPERTIES]);
    expect(props.ActiveState).toBe('active');
    const [cmd, ...more] = parseExecCommands(props.ExecStart ?? '');
    expect(more).toEqual([]);
    expect(cmd?.path).toBe('/bin/sh');
    expect(cmd?.argv.slice(0, 3)).toEqual(['/bin/sh', '-c', 'echo']);
    expect(parseEnvironmentFiles(props.EnvironmentFiles ?? '')).toEqual([{ path: '/etc/default/kip-echo', ignoreErrors: true }]);
    const pid = mainPid(props);
    expect(pid).toBeGreaterThan(1);
    firstPid = pid ?? 0;
    expect(cmd?.pid).toBe(firstPid);
    const startedUsec = execMainStartTimestampUsec(props);
    expect(startedUsec).toBeDefined();
    const skewMs = Math.abs(Number((startedUsec ?? 0n) / 1000n) - Date.now());
    expect(skewMs).toBeLessThan(120_000);
    expect(execMainStartMonotonicUsec(props)).toBeGreaterThan(0n);
  });

  it('reads the unit journal, with byte-array messages, cursors and since', async () => {
    const hello = `kip-echo hello pid=${firstPid} greeting=hi`;
    const entries = await poll('the unit output in the journal', 30_000, async () => {
      const got = await journal.read(UNIT, { lines: 50 });
      return got.some((e) => e.message === hello) && got.some((e) => e.message.startsWith('kip-echo bin')) ? got : undefined;
    });
    const helloEntry = entries.find((e) => e.message === hello);
    expect(helloEntry?.pid).toBe(firstPid);
    expect(helloEntry?.unit).toBe(UNIT);
    expect(helloEntry?.fields._SYSTEMD_UNIT).toBe(UNIT);
    expect(entries.find((e) => e.message.startsWith('kip-echo bin'))?.message).toBe('kip-echo bin\u0001ary');
    // systemd's own "Started ..." message about the unit is matched too, attributed through UNIT=.
    expect(entries.some((e) => e.pid === 1 && e.unit === UNIT)).toBe(true);
    const last = entries.at(-1);
    if (last === undefined) throw new Error('no entries');
    expect(await journal.read(UNIT, { afterCursor: last.cursor })).toEqual([]);
    expect(await journal.read(UNIT, { sinceUsec: last.realtimeUsec + 1n })).toEqual([]);
    const since = await journal.read(UNIT, { sinceUsec: last.realtimeUsec });
    expect(since.map((e) => e.cursor)).toContain(last.cursor);
    expect((await journal.read(UNIT, { lines: 1 })).map((e) => e.cursor)).toEqual([last.cursor]);
  });

  it('follows the journal: a restart shows up as new entries, abort ends journalctl in the node', async () => {
    const [last] = await journal.read(UNIT, { lines: 1 });
    if (last === undefined) throw new Error('no entries');
    const ac = new AbortController();
    const seen: JournalEntry[] = [];
    let sawNewHello: (pid: number) => void = () => undefined;
    const newHello = new Promise<number>((r) => {
      sawNewHello = r;
    });
    const reader = (async () => {
      for await (const e of journal.follow(UNIT, { signal: ac.signal, afterCursor: last.cursor })) {
        seen.push(e);
        const m = /^kip-echo hello pid=(\d+) /.exec(e.message);
        if (m?.[1] !== undefined && Number(m[1]) !== firstPid) sawNewHello(Number(m[1]));
      }
    })();
    try {
      // journalctl is running inside the node before we cause the new entries.
      await poll('journalctl --follow inside the node', 30_000, async () =>
        (await n().exec('pgrep', ['-x', 'journalctl'], { timeoutMs: 20_000 })).exitCode === 0 ? true : undefined,
      );
      await systemd.restart(UNIT);
      const newPid = mainPid(await systemd.show(UNIT, ['MainPID']));
      expect(newPid).toBeDefined();
      expect(newPid).not.toBe(firstPid);
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no new entry within 30 s')), 30_000));
      expect(await Promise.race([newHello, timeout])).toBe(newPid);
      expect(seen.every((e) => e.realtimeUsec >= last.realtimeUsec)).toBe(true);
      expect(seen.map((e) => e.cursor)).not.toContain(last.cursor);
    } finally {
      ac.abort();
      await reader;
    }
    await poll('journalctl to end inside the node', 10_000, async () =>
      (await n().exec('pgrep', ['-x', 'journalctl'], { timeoutMs: 20_000 })).exitCode === 1 ? true : undefined,
    );
  });

  it('stops the unit', async () => {
    await systemd.stop(UNIT);
    expect(await systemd.isActive(UNIT)).toBe('inactive');
    expect(mainPid(await systemd.show(UNIT, ['MainPID']))).toBeUndefined();
  });

  it('raises typed errors from real systemctl and journalctl failures', async () => {
    const err = await systemd.start('kip-missing.service').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SystemdCommandError);
    expect(err).toMatchObject({ code: 'SYSTEMCTL_FAILED', unit: 'kip-missing.service', exitCode: 5 });
    expect((err as SystemdCommandError).stderr).toContain('not found');
    await expect(journal.read(UNIT, { afterCursor: 'garbage' })).rejects.toMatchObject({ code: 'JOURNALCTL_FAILED', exitCode: 1 });
    expect(await systemd.show('kip-missing.service', ['LoadState'])).toEqual({ LoadState: 'not-found' });
  });
});
