/** systemctl and journalctl for the agent: the only place in kip that spawns them. */
export { createSystemd, systemdChildEnv, type Systemd, type SystemdOptions } from './systemd.ts';
export { createJournal, type Journal, type JournalFollowOptions, type JournalOptions, type JournalReadOptions } from './journal.ts';
export { createExecaStreamSpawn, execaStreamSpawn, type StreamExit, type StreamProcess, type StreamSpawn, type StreamSpawnOptions } from './stream.ts';
export {
  assertUnitName,
  execMainStartMonotonicUsec,
  execMainStartTimestampUsec,
  mainPid,
  MAIN_PROCESS_PROPERTIES,
  parseEnvironmentFiles,
  parseExecCommands,
  parseJournalLine,
  parseMonotonicUsec,
  parsePid,
  parseShowOutput,
  parseTimestampUsec,
  type EnvironmentFile,
  type ExecCommand,
  type JournalEntry,
} from './parse.ts';
export { JournalCommandError, SystemdArgumentError, SystemdCommandError, SystemdParseError } from './errors.ts';
