/**
 * The patched kubelet's side of the skip-file contract (github.com/cloudusers/
 * UpdateKubeletVersionIgnoreContainerRestart, as issue 3 records it): read once at start-up;
 * `<version>,<unix seconds>`, spaces ignored, exactly two comma-separated fields; a missing file
 * is created with the kubelet's own version (which then skips nothing); any read or parse error
 * disables skipping. The comparison is a plain string inequality of versions.
 */
export type SkipState =
  | { readonly kind: 'history'; readonly historyVersion: string; readonly recordedAt: string }
  | { readonly kind: 'created'; readonly ownVersion: string }
  | { readonly kind: 'disabled'; readonly reason: string };

export interface SkipFileFs {
  readFile(path: string): Promise<string>;
  writeFile(path: string, content: string): Promise<void>;
}

export function parseSkipFileContent(content: string): { version: string; time: string } | undefined {
  const fields = content.replace(/ /g, '').split(',');
  if (fields.length !== 2) return undefined;
  const [version, time] = fields as [string, string];
  if (version === '') return undefined;
  return { version, time };
}

export async function readSkipStateAtStart(fs: SkipFileFs, path: string, ownVersion: string, startedAtUnixSeconds: number): Promise<SkipState> {
  let content: string;
  try {
    content = await fs.readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      try {
        await fs.writeFile(path, `${ownVersion},${startedAtUnixSeconds}`);
      } catch (writeErr) {
        return { kind: 'disabled', reason: `cannot write ${path}: ${(writeErr as Error).message}` };
      }
      return { kind: 'created', ownVersion };
    }
    return { kind: 'disabled', reason: `cannot read ${path}: ${(err as Error).message}` };
  }
  const parsed = parseSkipFileContent(content);
  if (!parsed) return { kind: 'disabled', reason: `${path} does not hold exactly "<version>,<time>": ${JSON.stringify(content)}` };
  return { kind: 'history', historyVersion: parsed.version, recordedAt: parsed.time };
}

/**
 * The patch's rule in syncPod: skip the hash comparison for a container that started before
 * this kubelet did, while this kubelet's version differs from the recorded history version.
 */
export function skipsHashCheck(state: SkipState | undefined, ownVersion: string, kubeletStartedAtMs: number, containerStartedAtMs: number): boolean {
  if (!state || state.kind !== 'history') return false;
  return ownVersion !== state.historyVersion && containerStartedAtMs < kubeletStartedAtMs;
}
