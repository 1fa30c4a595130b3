/**
 * A JSON parser that keeps what JSON.parse loses and the kubelet's Go decoder needs: the raw
 * text of numbers (int64 beyond 2^53, and resource.Quantity parses the literal itself), the raw
 * text of strings (Quantity.UnmarshalJSON strips the quotes without unescaping), object keys in
 * order with duplicates, and the offset of every value for error messages. Strings are unescaped
 * as Go's encoding/json does: an unpaired surrogate escape becomes U+FFFD.
 */
import { MalformedJsonError } from './errors.ts';

export type JsonNode =
  | { readonly kind: 'null'; readonly start: number; readonly raw: string }
  | { readonly kind: 'bool'; readonly value: boolean; readonly start: number; readonly raw: string }
  | { readonly kind: 'number'; readonly start: number; readonly raw: string }
  | { readonly kind: 'string'; readonly value: string; readonly start: number; readonly raw: string }
  | { readonly kind: 'array'; readonly items: JsonNode[]; readonly start: number; readonly raw: string }
  | { readonly kind: 'object'; readonly entries: [string, JsonNode][]; readonly start: number; readonly raw: string };

const NUMBER_RE = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

export function parseJson(text: string, sourceName?: string): JsonNode {
  let pos = 0;

  const fail = (message: string, at = pos): never => {
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < at && i < text.length; i++) {
      if (text.charCodeAt(i) === 10) {
        line++;
        lineStart = i + 1;
      }
    }
    throw new MalformedJsonError(message, at, line, at - lineStart + 1, sourceName);
  };

  const skipWs = (): void => {
    for (;;) {
      const c = text.charCodeAt(pos);
      if (c === 32 || c === 9 || c === 10 || c === 13) pos++;
      else return;
    }
  };

  const describe = (at: number): string => (at >= text.length ? 'end of input' : `character ${JSON.stringify(text[at])}`);

  const parseString = (): string => {
    // pos is at the opening quote
    pos++;
    let out = '';
    let chunkStart = pos;
    for (;;) {
      if (pos >= text.length) fail('unterminated string');
      const c = text.charCodeAt(pos);
      if (c === 34) {
        out += text.slice(chunkStart, pos);
        pos++;
        return out;
      }
      if (c < 0x20) fail(`control character U+${c.toString(16).padStart(4, '0')} in string`);
      if (c !== 92) {
        pos++;
        continue;
      }
      out += text.slice(chunkStart, pos);
      const e = text[pos + 1];
      switch (e) {
        case '"': out += '"'; pos += 2; break;
        case '\\': out += '\\'; pos += 2; break;
        case '/': out += '/'; pos += 2; break;
        case 'b': out += '\b'; pos += 2; break;
        case 'f': out += '\f'; pos += 2; break;
        case 'n': out += '\n'; pos += 2; break;
        case 'r': out += '\r'; pos += 2; break;
        case 't': out += '\t'; pos += 2; break;
        case 'u': {
          const hi = readHex4(pos + 2);
          pos += 6;
          if (hi >= 0xd800 && hi < 0xdc00) {
            // Go pairs a high surrogate only with an immediately following low-surrogate escape.
            if (text[pos] === '\\' && text[pos + 1] === 'u') {
              const lo = readHex4(pos + 2);
              if (lo >= 0xdc00 && lo < 0xe000) {
                out += String.fromCharCode(hi, lo);
                pos += 6;
                break;
              }
            }
            out += '\ufffd';
          } else if (hi >= 0xdc00 && hi < 0xe000) {
            out += '\ufffd';
          } else {
            out += String.fromCharCode(hi);
          }
          break;
        }
        default:
          fail(`invalid escape ${JSON.stringify('\\' + (e ?? ''))} in string`);
      }
      chunkStart = pos;
    }
  };

  const readHex4 = (at: number): number => {
    const hex = text.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('invalid \\u escape in string', at);
    return parseInt(hex, 16);
  };

  const parseValue = (depth: number): JsonNode => {
    if (depth > 10_000) fail('nesting too deep');
    skipWs();
    const start = pos;
    const c = text[pos];
    switch (c) {
      case '{': {
        pos++;
        const entries: [string, JsonNode][] = [];
        skipWs();
        if (text[pos] === '}') {
          pos++;
          return { kind: 'object', entries, start, raw: text.slice(start, pos) };
        }
        for (;;) {
          skipWs();
          if (text[pos] !== '"') fail(`expected a string for an object key, found ${describe(pos)}`);
          const key = parseString();
          skipWs();
          if (text[pos] !== ':') fail(`expected ':' after object key, found ${describe(pos)}`);
          pos++;
          entries.push([key, parseValue(depth + 1)]);
          skipWs();
          if (text[pos] === ',') {
            pos++;
            continue;
          }
          if (text[pos] === '}') {
            pos++;
            return { kind: 'object', entries, start, raw: text.slice(start, pos) };
          }
          fail(`expected ',' or '}' in object, found ${describe(pos)}`);
        }
      }
      // falls through (unreachable: the loop returns or throws)
      case '[': {
        pos++;
        const items: JsonNode[] = [];
        skipWs();
        if (text[pos] === ']') {
          pos++;
          return { kind: 'array', items, start, raw: text.slice(start, pos) };
        }
        for (;;) {
          items.push(parseValue(depth + 1));
          skipWs();
          if (text[pos] === ',') {
            pos++;
            continue;
          }
          if (text[pos] === ']') {
            pos++;
            return { kind: 'array', items, start, raw: text.slice(start, pos) };
          }
          fail(`expected ',' or ']' in array, found ${describe(pos)}`);
        }
      }
      // falls through (unreachable)
      case '"': {
        const value = parseString();
        return { kind: 'string', value, start, raw: text.slice(start, pos) };
      }
      case 't':
        if (text.startsWith('true', pos)) {
          pos += 4;
          return { kind: 'bool', value: true, start, raw: 'true' };
        }
        break;
      case 'f':
        if (text.startsWith('false', pos)) {
          pos += 5;
          return { kind: 'bool', value: false, start, raw: 'false' };
        }
        break;
      case 'n':
        if (text.startsWith('null', pos)) {
          pos += 4;
          return { kind: 'null', start, raw: 'null' };
        }
        break;
      default: {
        NUMBER_RE.lastIndex = pos;
        const m = NUMBER_RE.exec(text);
        if (m) {
          pos += m[0].length;
          return { kind: 'number', start, raw: m[0] };
        }
      }
    }
    return fail(`unexpected ${describe(pos)}`);
  };

  // A leading UTF-8 byte order mark is tolerated: editors on some platforms write one.
  if (text.charCodeAt(0) === 0xfeff) pos = 1;
  const root = parseValue(0);
  skipWs();
  if (pos < text.length) fail(`unexpected ${describe(pos)} after the JSON value`);
  return root;
}

/**
 * The value of `key` in a JSON object node; undefined when absent or not an object. A repeated key
 * yields its last value, as Go's decoder (and so the kubelet) reads it.
 */
export function objectField(node: JsonNode | undefined, key: string): JsonNode | undefined {
  if (node?.kind !== 'object') return undefined;
  let found: JsonNode | undefined;
  for (const [k, v] of node.entries) if (k === key) found = v;
  return found;
}

export function stringField(node: JsonNode | undefined, key: string): string | undefined {
  const f = objectField(node, key);
  return f?.kind === 'string' ? f.value : undefined;
}
