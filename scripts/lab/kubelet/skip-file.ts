/**
 * The patched kubelet's side of the skip-file contract, modelled line by line on the patch
 * (github.com/cloudusers/UpdateKubeletVersionIgnoreContainerRestart,
 * kubernetes-1.9.1.IgnoreContainerRestart.patch, package pkg/kubelet/cache_version):
 *
 * - `SubCachVersion` runs once, at the end of NewMainKubelet. The path is built at run time,
 *   `fmt.Sprintf("/%s/%s", "tmp", "cache.version.save")`.
 * - `PathExists`: a stat error other than "not exist" sets ExceptionTriggered (skipping off).
 * - file exists -> `GetFileContent`: a read error sets ExceptionTriggered; the content has every
 *   space removed (`strings.Replace(str, " ", "", -1)`, nothing else: a newline stays), is split
 *   on ","; not exactly 2 fields -> return early, leaving current_version at DEFAULT_CACHEVERSION
 *   "v0.0.0", so CheckValidity is false. Otherwise history_version = field 0 (an EMPTY field is
 *   kept as the history version "", which differs from any real version: skipping is on);
 *   field 1 through strconv.ParseInt(.., 10, 64), a parse error only logged (history time stays
 *   946656000); then current_version = version.Get().String() and current_version_start_time =
 *   time.Now().Unix() (whole seconds).
 * - file missing -> `PersistVersion`: current = history = own version, both times now, and the
 *   file written as "%s,%d" (a write error sets ExceptionTriggered).
 * - `CheckValidity`: !ExceptionTriggered && CurrentVersion() != "v0.0.0".
 * - `containerChanged` (kuberuntime_manager.go): when valid, `rt := containerStatus.StartedAt.Unix()`
 *   and `CurrentVersion() != HistoryVersion() && rt < CurrentVersionStartTime()` -> the hash is not
 *   compared. Unix seconds, strict "<", the container's START time (not its creation time); only
 *   reached for containers the runtime reports running (computePodActions restarts any other).
 */

export const DEFAULT_CACHEVERSION = 'v0.0.0';
export const DEFAULT_STARTTIME = 946656000;

/** The patch's CacheVersion after SubCachVersion, plus what happened (for logs and tests). */
export interface CacheVersion {
  readonly currentVersion: string;
  readonly currentStartUnix: number;
  readonly historyVersion: string;
  readonly historyStartUnix: number;
  readonly exceptionTriggered: boolean;
  /** How the state came about, in the patch's terms. */
  readonly source: 'read' | 'persisted' | 'malformed' | 'stat-error' | 'read-error' | 'write-error';
  readonly detail?: string;
}

export interface SkipFileFs {
  /** Resolves false for a missing file; rejects for any other stat error. */
  exists(path: string): Promise<boolean>;
  readFile(path: string): Promise<string>;
  writeFile(path: string, content: string): Promise<void>;
}

const defaults = (source: CacheVersion['source'], exceptionTriggered: boolean, detail?: string): CacheVersion => ({
  currentVersion: DEFAULT_CACHEVERSION, currentStartUnix: DEFAULT_STARTTIME, historyVersion: DEFAULT_CACHEVERSION, historyStartUnix: DEFAULT_STARTTIME,
  exceptionTriggered, source, ...(detail !== undefined ? { detail } : {}),
});

/** Go's strconv.ParseInt(s, 10, 64): optional sign, decimal digits only, within int64. */
export function parseGoInt64(s: string): number | undefined {
  if (!/^[+-]?\d+$/.test(s)) return undefined;
  const n = BigInt(s);
  if (n > 9223372036854775807n || n < -9223372036854775808n) return undefined;
  return Number(n);
}

/** GetFileContent's parse of the file content; undefined where the patch returns early. */
export function parseSkipFileContent(content: string): { version: string; time: number | undefined } | undefined {
  const fields = content.replace(/ /g, '').split(',');
  if (fields.length !== 2) return undefined;
  const [version, time] = fields as [string, string];
  return { version, time: parseGoInt64(time) };
}

/** SubCachVersion: what the patched kubelet holds after start-up. */
export async function readCacheVersionAtStart(fs: SkipFileFs, path: string, ownVersion: string, nowUnix: number): Promise<CacheVersion> {
  let exists: boolean;
  try {
    exists = await fs.exists(path);
  } catch (err) {
    return defaults('stat-error', true, (err as Error).message);
  }
  if (!exists) {
    let exceptionTriggered = false;
    let detail: string | undefined;
    try {
      await fs.writeFile(path, `${ownVersion},${nowUnix}`);
    } catch (err) {
      exceptionTriggered = true;
      detail = (err as Error).message;
    }
    return {
      currentVersion: ownVersion, currentStartUnix: nowUnix, historyVersion: ownVersion, historyStartUnix: nowUnix,
      exceptionTriggered, source: exceptionTriggered ? 'write-error' : 'persisted', ...(detail !== undefined ? { detail } : {}),
    };
  }
  let content: string;
  try {
    content = await fs.readFile(path);
  } catch (err) {
    return defaults('read-error', true, (err as Error).message);
  }
  const parsed = parseSkipFileContent(content);
  if (!parsed) return defaults('malformed', false, JSON.stringify(content));
  return {
    currentVersion: ownVersion, currentStartUnix: nowUnix, historyVersion: parsed.version, historyStartUnix: parsed.time ?? DEFAULT_STARTTIME,
    exceptionTriggered: false, source: 'read',
  };
}

export function checkValidity(v: CacheVersion): boolean {
  return !v.exceptionTriggered && v.currentVersion !== DEFAULT_CACHEVERSION;
}

/** Go's time.Time.Unix() of a CRI nanosecond timestamp: seconds, rounded toward -infinity. */
export function unixSeconds(ns: bigint): number {
  const s = ns / 1_000_000_000n;
  return Number(ns < 0n && s * 1_000_000_000n !== ns ? s - 1n : s);
}

/** The patch's branch in containerChanged: true when the hash is not compared for this container. */
export function skipsHashCheck(v: CacheVersion | undefined, containerStartedAtNs: bigint): boolean {
  if (!v || !checkValidity(v)) return false;
  return v.currentVersion !== v.historyVersion && unixSeconds(containerStartedAtNs) < v.currentStartUnix;
}
