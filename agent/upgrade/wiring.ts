/**
 * Adapters from the sibling modules to the upgrade's ports: agent/systemd (systemctl and
 * journalctl) and agent/kubelet (`--version`, flag migration planner).
 */
import type { Exec } from '../../lib/exec.ts';
import { DEFAULT_PATCH_MARKERS, detectKubeletPatch, listKubeletFlags, nodeBinaryFs, planFlagMigration, readKubeletVersion, StreamSearcher } from '../kubelet/index.ts';
import { execMainStartTimestampUsec, parseEnvironmentFiles, parseExecCommands, parsePid, type Journal, type Systemd } from '../systemd/index.ts';
import { componentFromHelp } from '../components/identity.ts';
import type { FlagMigrationPort, JournalPort, KubeletBinaryPort, SystemdPort } from './ports.ts';

export const UNIT_PROPERTIES = [
  'NeedDaemonReload',
  'ActiveState',
  'SubState',
  'MainPID',
  'ExecMainStartTimestamp',
  'NRestarts',
  'FragmentPath',
  'DropInPaths',
  'EnvironmentFiles',
  'PrivateTmp',
  'TemporaryFileSystem',
  'RootDirectory',
  'RootImage',
  'InaccessiblePaths',
  'BindPaths',
  'BindReadOnlyPaths',
  'ProtectHome',
  'ExecStart',
] as const;

const list = (v: string | undefined): string[] => (v ?? '').split(/\s+/).filter((x) => x !== '');

export function systemdPort(systemd: Systemd): SystemdPort {
  return {
    async unitInfo(unit) {
      const p = await systemd.show(unit, UNIT_PROPERTIES);
      const exec = parseExecCommands(p.ExecStart ?? '')[0];
      return {
        activeState: p.ActiveState ?? 'unknown',
        subState: p.SubState ?? 'unknown',
        mainPid: parsePid(p.MainPID ?? '') ?? 0,
        execMainStartUsec: Number(execMainStartTimestampUsec(p) ?? 0n),
        nRestarts: Number.parseInt(p.NRestarts ?? '0', 10) || 0,
        fragmentPath: p.FragmentPath ?? '',
        dropInPaths: (p.DropInPaths ?? '').split(/\s+/).filter((s) => s !== ''),
        environmentFiles: parseEnvironmentFiles(p.EnvironmentFiles ?? '').map((e) => e.path),
        privateTmp: p.PrivateTmp === 'yes',
        mountOptions: {
          temporaryFileSystem: list(p.TemporaryFileSystem),
          rootDirectory: p.RootDirectory ?? '',
          rootImage: p.RootImage ?? '',
          inaccessiblePaths: list(p.InaccessiblePaths),
          bindPaths: [...list(p.BindPaths), ...list(p.BindReadOnlyPaths)],
          protectHome: p.ProtectHome ?? 'no',
        },
        execStart: exec ? [...exec.argv] : [],
        needDaemonReload: p.NeedDaemonReload === 'yes',
      };
    },
    stop: (unit) => systemd.stop(unit),
    start: (unit) => systemd.start(unit),
    daemonReload: () => systemd.daemonReload(),
  };
}

export function journalPort(journal: Journal): JournalPort {
  return {
    async tail(unit, lines) {
      return (await journal.read(unit, { lines })).map((e) => e.message);
    },
  };
}

/**
 * `isPatched` looks for the markers a real Go build of the patch contains (agent/kubelet/inspect.ts,
 * DEFAULT_PATCH_MARKERS), never the skip file's path: the patch builds that path at run time, so
 * the literal is in no real binary (issue 8, defect 2).
 */
export function kubeletBinaryPort(exec: Exec, timeoutMs = 15_000, markers: readonly string[] = DEFAULT_PATCH_MARKERS): KubeletBinaryPort {
  return {
    version: async (path) => (await readKubeletVersion(path, exec, timeoutMs)).version.raw,
    isPatched: async (path) => (await detectKubeletPatch(path, nodeBinaryFs, markers)).patched,
    patchScanner: () => {
      const searchers = markers.map((m) => new StreamSearcher(m));
      let all = false;
      return {
        push: (chunk) => {
          if (!all) all = searchers.reduce((found, s) => s.push(chunk) && found, true);
        },
        get patched() {
          return all;
        },
      };
    },
    // The usage line of `--help` names the program (agent/components/identity.ts).
    program: async (path) => {
      const r = await exec(path, ['--help'], { timeoutMs, killGraceMs: 1_000 });
      return r.timedOut ? undefined : componentFromHelp(`${r.stdout}\n${r.stderr}`);
    },
  };
}

/**
 * agent/kubelet's planner: full new content of each changed unit/env file, or a refusal. The
 * flags the staged binary accepts (its `--help`) enable the unknown-flag check; when `--help`
 * gives nothing usable the check is skipped and the plan says so in its notes.
 */
export function flagMigrationPort(exec: Exec, helpTimeoutMs = 15_000): FlagMigrationPort {
  return {
    async plan(input) {
      const envFiles: Record<string, string> = {};
      for (const f of input.environmentFiles) envFiles[f.path] = f.content;
      const notes: string[] = [];
      let targetFlags: Set<string> | undefined;
      if (input.targetBinary) {
        try {
          targetFlags = await listKubeletFlags(input.targetBinary, exec, helpTimeoutMs);
        } catch (err) {
          notes.push(`unknown-flag check skipped: ${err instanceof Error ? err.message : String(err)}`);
        }
      } else {
        notes.push('unknown-flag check skipped: no staged target binary');
      }
      const plan = planFlagMigration({
        from: input.fromVersion,
        to: input.toVersion,
        units: input.unitFiles,
        envFiles,
        overrides: input.allowDroppedFlags,
        ...(targetFlags ? { targetFlags } : {}),
      });
      return {
        edits: plan.files.map((f) => ({ path: f.path, content: f.after })),
        notes: [...plan.changes.map((c) => `${c.action} ${c.subject} in ${c.definedIn}: ${c.reason}`), ...plan.warnings, ...notes],
      };
    },
  };
}
