// A strict RFC 8259 JSON scanner that validates without building values. JSON.parse's messages
// differ between V8 versions and rarely give a line, so the readers use this to (1) split a
// top-level array into elements, each then handed to JSON.parse, and (2) find the exact offset
// of a syntax error for a "line L, column C" message.

const MAX_DEPTH = 512; // deeper nesting than any tweet; also keeps the recursion off the stack limit

export class JsonScanError extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(reason);
    this.name = 'JsonScanError';
  }
}

/** index of the first non-whitespace character at or after i (JSON whitespace: space \t \n \r) */
export function skipJsonWs(s: string, i: number): number {
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
  }
  return i;
}

/** Scans one JSON value starting exactly at i; returns the index just after it. */
export function scanJsonValue(s: string, i: number, depth = 0): number {
  if (i >= s.length) throw new JsonScanError(i, 'unexpected end of input, expected a value');
  const c = s[i];
  if (c === '{' || c === '[') {
    if (depth >= MAX_DEPTH) throw new JsonScanError(i, `nesting deeper than ${MAX_DEPTH} levels`);
    return c === '{' ? scanObject(s, i, depth + 1) : scanArray(s, i, depth + 1);
  }
  if (c === '"') return scanString(s, i);
  if (c === '-' || (c >= '0' && c <= '9')) return scanNumber(s, i);
  for (const lit of ['true', 'false', 'null']) {
    if (s.startsWith(lit, i)) return i + lit.length;
  }
  throw unexpected(s, i, 'a value');
}

/** Offset and reason of the first syntax error in s[start, end) as one JSON value, or null. */
export function findJsonError(s: string, start = 0, end = s.length): JsonScanError | null {
  const t = end === s.length ? s : s.slice(0, end);
  try {
    const after = skipJsonWs(t, scanJsonValue(t, skipJsonWs(t, start)));
    return after < t.length ? new JsonScanError(after, 'unexpected text after the JSON value') : null;
  } catch (e) {
    if (e instanceof JsonScanError) return e;
    throw e;
  }
}

function scanObject(s: string, i: number, depth: number): number {
  i = skipJsonWs(s, i + 1);
  if (s[i] === '}') return i + 1;
  for (;;) {
    if (s[i] !== '"') throw unexpected(s, i, 'a "quoted" member name');
    i = skipJsonWs(s, scanString(s, i));
    if (s[i] !== ':') throw unexpected(s, i, "':' after the member name");
    i = skipJsonWs(s, scanJsonValue(s, skipJsonWs(s, i + 1), depth));
    if (s[i] === '}') return i + 1;
    if (s[i] !== ',') throw unexpected(s, i, "',' or '}' after an object member");
    i = skipJsonWs(s, i + 1);
  }
}

function scanArray(s: string, i: number, depth: number): number {
  i = skipJsonWs(s, i + 1);
  if (s[i] === ']') return i + 1;
  for (;;) {
    i = skipJsonWs(s, scanJsonValue(s, i, depth));
    if (s[i] === ']') return i + 1;
    if (s[i] !== ',') throw unexpected(s, i, "',' or ']' after an array element");
    i = skipJsonWs(s, i + 1);
  }
}

function scanString(s: string, i: number): number {
  const start = i;
  for (i++; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) return i + 1; // closing "
    if (c < 0x20) throw new JsonScanError(i, 'raw control character (e.g. a line break) inside a string');
    if (c === 0x5c) {
      const e = s[i + 1];
      if (e === 'u') {
        if (!/^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) throw new JsonScanError(i, 'bad \\u escape (needs 4 hex digits)');
        i += 5;
      } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
        i++;
      } else {
        throw new JsonScanError(i, `bad escape \\${e ?? ''} in a string`);
      }
    }
  }
  throw new JsonScanError(start, 'unterminated string');
}

const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

function scanNumber(s: string, i: number): number {
  NUMBER.lastIndex = i;
  if (!NUMBER.test(s)) throw new JsonScanError(i, 'malformed number');
  return NUMBER.lastIndex;
}

function unexpected(s: string, i: number, expected: string): JsonScanError {
  if (i >= s.length) return new JsonScanError(i, `unexpected end of input, expected ${expected}`);
  return new JsonScanError(i, `unexpected ${JSON.stringify(s[i])}, expected ${expected}`);
}
