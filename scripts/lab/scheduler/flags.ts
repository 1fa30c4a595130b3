/**
 * Command-line parsing shared by the lab scheduler and controller-manager: Go pflag style
 * (`--name=value`, `--name value`, bare boolean `--name`), Go durations ("40s", "5m0s", "1h2m", "500ms")
 * and the lab's `--lab-kube-version=vX.Y.Z`.
 */
import { InvalidInputError } from '../../../lib/errors.ts';

export function parseFlags(argv: readonly string[], booleans: ReadonlySet<string> = new Set()): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (!arg.startsWith('--')) throw new InvalidInputError('LAB_FLAG_UNEXPECTED', `unexpected argument ${arg}`, { arg });
    const eq = arg.indexOf('=');
    if (eq >= 0) {
      out.set(arg.slice(2, eq), arg.slice(eq + 1));
      continue;
    }
    const name = arg.slice(2);
    const next = argv[i + 1];
    if (booleans.has(name) || next === undefined || next.startsWith('--')) {
      out.set(name, 'true');
    } else {
      out.set(name, next);
      i++;
    }
  }
  return out;
}

const UNIT_MS: Readonly<Record<string, number>> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go time.Duration string to milliseconds. */
export function parseGoDuration(text: string, flag = 'duration'): number {
  const t = text.trim();
  if (t === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(t)) !== null) {
    total += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? Number.NaN);
    pos = re.lastIndex;
  }
  if (pos === 0 || pos !== t.length || !Number.isFinite(total)) throw new InvalidInputError('LAB_FLAG_BAD_DURATION', `--${flag}: invalid duration "${text}"`, { flag, text });
  return total;
}

export function parseNumberFlag(text: string, flag: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidInputError('LAB_FLAG_BAD_NUMBER', `--${flag}: invalid number "${text}"`, { flag, text });
  return n;
}

export function parseBoolFlag(text: string, flag: string): boolean {
  if (text === 'true' || text === '1') return true;
  if (text === 'false' || text === '0') return false;
  throw new InvalidInputError('LAB_FLAG_BAD_BOOL', `--${flag}: invalid boolean "${text}"`, { flag, text });
}

export interface KubeVersion {
  readonly gitVersion: string;
  readonly major: number;
  readonly minor: number;
}

export function parseKubeVersion(text: string | undefined): KubeVersion {
  const m = /^v(\d+)\.(\d+)\.(\d+)$/.exec(text ?? '');
  if (!m) throw new InvalidInputError('LAB_BAD_KUBE_VERSION', `--lab-kube-version must look like v1.13.12, got ${JSON.stringify(text)}`, { text });
  return { gitVersion: text ?? '', major: Number(m[1]), minor: Number(m[2]) };
}
