/**
 * How a kip error travels over gRPC (both sides import this): the gRPC status code says what
 * kind of failure it is, and two trailing metadata entries carry the stable kip code and a JSON
 * object of details.
 *
 * The details travel under a `-bin` key (grpc-js sends its value base64-encoded), because a
 * text metadata value must be printable ASCII and grpc-js throws on anything else: a detail
 * holding one `é` used to kill the agent from inside its error path (issue 8, defect 9). Values
 * are bounded so the trailers stay far below grpc-js's 8 KiB default metadata limit
 * (`grpc.max_metadata_size`) even for a 10 kB run id.
 */
export const ERROR_CODE_KEY = 'kip-error-code';
/** JSON object of details, UTF-8 bytes. */
export const ERROR_DETAILS_BIN_KEY = 'kip-error-details-bin';
/** The text key older agents used (printable-ASCII JSON only); read as a fallback. */
export const ERROR_DETAILS_KEY = 'kip-error-details';

/** Longest string kept in one detail value, and in the status message. */
export const MAX_DETAIL_STRING = 256;
export const MAX_STATUS_MESSAGE = 1_024;
/** Upper bound of the encoded details (bytes, before base64). */
export const MAX_DETAILS_BYTES = 2_048;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** `s` with lone surrogates as U+FFFD: grpc-js's encodeURI of the status message throws on them. */
export function wellFormed(s: string): string {
  return s.replace(LONE_SURROGATE, '\ufffd');
}

/** `s` well formed and cut to `max` characters (with a note of the cut). */
export function boundText(s: string, max: number): string {
  const w = wellFormed(s);
  if (w.length <= max) return w;
  return `${wellFormed(w.slice(0, max))}... (${w.length - max} more characters)`;
}

/** A copy of `v` in which every string is bounded and depth and breadth are limited. */
function boundValue(v: unknown, depth: number): unknown {
  if (typeof v === 'string') return boundText(v, MAX_DETAIL_STRING);
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return v.toString();
  if (depth >= 4) return '(nested too deep)';
  if (Array.isArray(v)) return v.slice(0, 20).map((x) => boundValue(x, depth + 1));
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>).slice(0, 30)) out[boundText(k, 64)] = boundValue(x, depth + 1);
    return out;
  }
  return String(v);
}

/** Encodes details for the `-bin` trailer: never throws, never exceeds MAX_DETAILS_BYTES. */
export function encodeErrorDetails(details: Readonly<Record<string, unknown>>): Buffer {
  let json: string;
  try {
    json = JSON.stringify(boundValue(details, 0)) ?? '{}';
  } catch (err) {
    json = JSON.stringify({ unserializable: boundText(String(err), MAX_DETAIL_STRING) });
  }
  const bytes = Buffer.from(json, 'utf8');
  if (bytes.length <= MAX_DETAILS_BYTES) return bytes;
  return Buffer.from(JSON.stringify({ truncated: true, keys: Object.keys(details).slice(0, 30).map((k) => boundText(k, 64)) }), 'utf8');
}

/** Decodes what encodeErrorDetails wrote (or an old agent's text value). */
export function decodeErrorDetails(raw: Buffer | string | undefined): Record<string, unknown> {
  if (raw === undefined) return {};
  const text = typeof raw === 'string' ? raw : raw.toString('utf8');
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    return { unparsedDetails: text };
  } catch (parseErr) {
    return { unparsedDetails: text, parseError: String(parseErr) };
  }
}

/** A metadata text value grpc-js accepts (printable ASCII): everything else as \uXXXX. */
export function asciiMetadataValue(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
