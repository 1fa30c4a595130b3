/**
 * The run journal: one JSON file per run under `<stateDir>/runs/`, and `<stateDir>/current-run`
 * naming the current or last run. Every write is atomic (temp, fsync, rename, fsync dir).
 */
import path from 'node:path';
import { Codes, InvalidInputError, KipError } from './errors.ts';
import type { FileSystem } from './fs.ts';
import type { BackupManifest, RunRecord } from './types.ts';

const RUN_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function validateRunId(runId: string): void {
  if (!RUN_ID_RE.test(runId)) {
    throw new InvalidInputError(Codes.RUN_ID_INVALID, 'run_id must be 1-128 characters of [A-Za-z0-9._-], starting with a letter or digit', { runId });
  }
}

function parseJson<T>(raw: string, file: string, check: (v: unknown) => v is T): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new KipError(Codes.STATE_CORRUPT, `${file} is not valid JSON`, { file }, { cause: err });
  }
  if (!check(parsed)) throw new KipError(Codes.STATE_CORRUPT, `${file} does not hold what kip-agent wrote`, { file });
  return parsed;
}

function isRunRecord(v: unknown): v is RunRecord {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return o.schema === 1 && typeof o.runId === 'string' && typeof o.phase === 'string' && Array.isArray(o.events);
}

function isManifest(v: unknown): v is BackupManifest {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o.runId === 'string' && Array.isArray(o.entries) && Array.isArray(o.execStart) && typeof o.oldStartUnixSec === 'number';
}

export class RunStore {
  constructor(
    private readonly fs: FileSystem,
    private readonly stateDir: string,
  ) {}

  private runFile(runId: string): string {
    return path.join(this.stateDir, 'runs', `${runId}.json`);
  }

  backupDir(runId: string): string {
    return path.join(this.stateDir, 'backups', runId);
  }

  async init(): Promise<void> {
    await this.fs.mkdirp(path.join(this.stateDir, 'runs'));
    await this.fs.mkdirp(path.join(this.stateDir, 'backups'));
    await this.fs.mkdirp(path.join(this.stateDir, 'binaries'));
  }

  async load(runId: string): Promise<RunRecord | undefined> {
    const file = this.runFile(runId);
    const raw = await this.fs.readText(file);
    return raw === undefined ? undefined : parseJson(raw, file, isRunRecord);
  }

  async save(record: RunRecord): Promise<void> {
    await this.fs.writeAtomic(this.runFile(record.runId), `${JSON.stringify(record, null, 1)}\n`);
  }

  /** Every run id with a journal file (temp files of an interrupted write are not runs). */
  async listIds(): Promise<string[]> {
    const names = await this.fs.list(path.join(this.stateDir, 'runs'));
    return names.filter((n) => n.endsWith('.json') && !n.startsWith('.')).map((n) => n.slice(0, -'.json'.length));
  }

  async currentId(): Promise<string | undefined> {
    const raw = await this.fs.readText(path.join(this.stateDir, 'current-run'));
    const id = raw?.trim();
    return id ? id : undefined;
  }

  async setCurrent(runId: string): Promise<void> {
    await this.fs.writeAtomic(path.join(this.stateDir, 'current-run'), runId);
  }

  async loadManifest(runId: string): Promise<BackupManifest | undefined> {
    const file = path.join(this.backupDir(runId), 'manifest.json');
    const raw = await this.fs.readText(file);
    return raw === undefined ? undefined : parseJson(raw, file, isManifest);
  }

  async saveManifest(manifest: BackupManifest): Promise<void> {
    await this.fs.writeAtomic(path.join(this.backupDir(manifest.runId), 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
  }
}
