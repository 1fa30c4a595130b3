import type { SkipFileInfo } from './types.ts';

/**
 * The skip file read by the patched kubelet (issue 3): `<version>,<unix seconds>`, spaces ignored,
 * exactly one comma, no trailing newline. Pure parsing and formatting; I/O lives in the machine.
 */
export function parseSkipFile(path: string, raw: string | undefined): SkipFileInfo {
  if (raw === undefined) return { path, present: false, valid: false, version: '', unixSeconds: 0, raw: '', problem: '' };
  const bad = (problem: string): SkipFileInfo => ({ path, present: true, valid: false, version: '', unixSeconds: 0, raw, problem });
  // The patch strips spaces only: a newline would end up inside the time field.
  const compact = raw.replace(/ /g, '');
  const fields = compact.split(',');
  if (fields.length !== 2) return bad(`expected exactly one comma ("<version>,<unix seconds>"), found ${fields.length - 1}`);
  const [version, seconds] = fields as [string, string];
  if (!/^v\d+\.\d+\.\d+\S*$/.test(version)) return bad(`the version field ${JSON.stringify(version)} is not a kubelet version`);
  if (!/^\d+$/.test(seconds)) return bad(`the time field ${JSON.stringify(seconds)} is not unix seconds (a trailing newline counts)`);
  return { path, present: true, valid: true, version, unixSeconds: Number(seconds), raw, problem: '' };
}

export function formatSkipFile(version: string, unixSeconds: number): string {
  return `${version},${Math.floor(unixSeconds)}`;
}
