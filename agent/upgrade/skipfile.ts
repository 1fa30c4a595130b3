import type { SkipFileInfo } from './types.ts';

/**
 * The skip file read by the patched kubelet: `<version>,<unix seconds>`. Parsed exactly as the
 * patch reads it (kubernetes-1.9.1.IgnoreContainerRestart.patch, pkg/kubelet/cache_version/
 * cache_version.go GetFileContent, repository cloudusers/UpdateKubeletVersionIgnoreContainerRestart):
 * `strings.Replace(str, " ", "", -1)` removes every space, `strings.Split(str, ",")` must give
 * exactly two fields or the file is ignored, the first field becomes the history version
 * whatever it holds (an empty one included), and a time that `strconv.ParseInt` rejects (a
 * trailing newline, say) is only logged. The patch then skips the hash check of a container when
 * the history version differs from the running kubelet's and the container started before that
 * kubelet (containerChanged in kuberuntime_manager.go): the file's time takes no part, so a file
 * with an unreadable time still works. Pure parsing and formatting; I/O lives elsewhere.
 */
export function parseSkipFile(path: string, raw: string | undefined): SkipFileInfo {
  if (raw === undefined) return { path, present: false, valid: false, version: '', unixSeconds: 0, raw: '', problem: '' };
  const compact = raw.replace(/ /g, '');
  const fields = compact.split(',');
  if (fields.length !== 2) {
    return { path, present: true, valid: false, version: '', unixSeconds: 0, raw, problem: `expected exactly one comma ("<version>,<unix seconds>"), found ${fields.length - 1}: the patched kubelet ignores the file and skips nothing` };
  }
  const [version, seconds] = fields as [string, string];
  const unixSeconds = /^\d+$/.test(seconds) ? Number(seconds) : 0;
  return { path, present: true, valid: true, version, unixSeconds, raw, problem: '' };
}

export function formatSkipFile(version: string, unixSeconds: number): string {
  return `${version},${Math.floor(unixSeconds)}`;
}
