// Reading tweets from the four kinds of file, told apart by content (never by extension):
//   tweets.js  a Twitter/X archive's data/tweets.js: `window.YTD.tweets.part0 = [ {"tweet": {...}}, ... ]`
//   json       a bare JSON array of the same elements (or of tweet objects, or of strings)
//   jsonl      one JSON record per line: {"text": ...}, {"full_text": ...}, {"tweet": {...}} or a string
//   csv        RFC 4180 with a header row that names a `text` (or `full_text`) column; a first line
//              of bare comma-separated names without one is an error, not plain text
//   text       one tweet per non-empty line (so a tweet cannot hold a line break); the rules of
//              clean.ts apply as to any other format ("RT @" lines are retweets, entities decoded)
// Detection looks at the start only: '[' then a value → json; `name.name = [` → tweets.js;
// '{' → jsonl; a header naming a text column → csv; anything else → text. ReadOptions.format
// overrides it.
// Every text is returned as stored: archives HTML-escape `&`, `<`, `>`, and clean.ts decodes them.

import { readFileSync } from 'node:fs';
import { CsvSyntaxError, parseCsv } from './csv.ts';
import { TweetDataError, lineColumn } from './errors.ts';
import { JsonScanError, findJsonError, scanJsonValue, skipJsonWs } from './json-scan.ts';

export type TweetFormat = 'tweets.js' | 'json' | 'jsonl' | 'csv' | 'text';

export interface RawTweet {
  /** the text as stored in the file (HTML-escaped in archives) */
  text: string;
  /** the record has a non-null `retweeted_status` (API dumps; archives never do) */
  retweetedStatus: boolean;
  /** the tweet id as a decimal string (19 digits do not fit a JS number), when the file has one */
  id?: string;
  /** `created_at` as written, when the file has it */
  createdAt?: string;
}

export interface ParsedTweets {
  file: string;
  format: TweetFormat;
  tweets: RawTweet[];
}

export interface ReadOptions {
  /** skip detection and read as this format */
  format?: TweetFormat;
}

/** `window.YTD.tweets.part0 = [` — a dotted JS name, '=', then an array or object */
const ARCHIVE_PREFIX = /^[A-Za-z_$][\w$]*(?:\.[\w$]+)+\s*=\s*[[{]/;
/** a JSON array starts with '[' then (after whitespace) a value that opens like a record */
const JSON_ARRAY = /^\[[ \t\r\n]*[{"[\]]/;
/** column names that hold the tweet text (compared trimmed, case-insensitively) */
const TEXT_COLUMNS = ['full_text', 'text'];
/** a first line that looks like a CSV header: two or more bare identifiers */
const HEADER_LIKE = /^[A-Za-z_][A-Za-z0-9_]*(?:,[A-Za-z_][A-Za-z0-9_]*)+\r?$/;

/** The format of a file's content (BOM already removed). */
export function detectFormat(content: string): TweetFormat {
  const start = skipJsonWs(content, 0);
  const head = content.slice(start, start + 4096);
  if (JSON_ARRAY.test(head)) return 'json';
  if (ARCHIVE_PREFIX.test(head)) return 'tweets.js';
  if (head.startsWith('{')) return 'jsonl';
  const firstLine = content.slice(0, lineEnd(content, 0));
  if (textColumn(firstLine) >= 0 || HEADER_LIKE.test(firstLine)) return 'csv';
  return 'text';
}

/** Reads a tweets file (UTF-8, optional BOM). Errors name the file and the line or record. */
export function readTweetsFile(path: string, opts: ReadOptions = {}): ParsedTweets {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new TweetDataError(path, {}, `cannot read the file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return parseTweets(decodeUtf8(bytes, path), path, opts);
}

/** Parses the content of a tweets file; `file` names it in errors. */
export function parseTweets(content: string, file = '<input>', opts: ReadOptions = {}): ParsedTweets {
  if (content.charCodeAt(0) === 0xfeff) content = ' ' + content.slice(1); // BOM → space keeps offsets
  const format = opts.format ?? detectFormat(content);
  const tweets = format === 'tweets.js' || format === 'json'
    ? readJsonArray(content, file, format)
    : format === 'jsonl' ? readJsonl(content, file)
    : format === 'csv' ? readCsv(content, file)
    : readText(content);
  return { file, format, tweets };
}

/** Strict UTF-8 decoding; a bad byte is reported with its line. */
export function decodeUtf8(bytes: Uint8Array, file: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    const bad = firstBadUtf8(bytes);
    let line = 1;
    for (let i = 0; i < bad; i++) if (bytes[i] === 0x0a) line++;
    const hex = bytes[bad]?.toString(16).padStart(2, '0') ?? 'end';
    throw new TweetDataError(file, { line }, `not UTF-8 text (byte 0x${hex} at offset ${bad}); save the file as UTF-8`);
  }
}

// --- tweets.js and JSON arrays ---------------------------------------------------------------

function readJsonArray(content: string, file: string, format: TweetFormat): RawTweet[] {
  let i = skipJsonWs(content, 0);
  if (format === 'tweets.js') {
    // as the archive's own loader (and the brief) say: drop everything up to the first '='
    const eq = content.indexOf('=');
    if (eq < 0) throw new TweetDataError(file, { line: 1 }, "no '=' found: not a tweets.js archive file");
    i = skipJsonWs(content, eq + 1);
  }
  if (content[i] !== '[') throw jsonError(content, file, new JsonScanError(i, `expected a JSON array '[' of tweets`));
  const tweets: RawTweet[] = [];
  i = skipJsonWs(content, i + 1);
  if (content[i] === ']') return endOfArray(content, file, i + 1, tweets);
  for (;;) {
    const start = i;
    let end: number;
    try {
      end = scanJsonValue(content, i, 1);
    } catch (e) {
      throw e instanceof JsonScanError ? jsonError(content, file, e) : e;
    }
    const record = tweets.length + 1;
    const tweet = toRawTweet(JSON.parse(content.slice(start, end)));
    if (typeof tweet === 'string') throw new TweetDataError(file, { record, ...lineOnly(content, start) }, tweet);
    tweets.push(tweet);
    i = skipJsonWs(content, end);
    if (content[i] === ']') return endOfArray(content, file, i + 1, tweets);
    if (content[i] !== ',') {
      throw jsonError(content, file, new JsonScanError(i, i >= content.length ? "unexpected end of file, the array is not closed with ']'" : `unexpected ${JSON.stringify(content[i])}, expected ',' or ']' after a tweet`));
    }
    i = skipJsonWs(content, i + 1);
  }
}

function endOfArray(content: string, file: string, i: number, tweets: RawTweet[]): RawTweet[] {
  i = skipJsonWs(content, i);
  if (content[i] === ';') i = skipJsonWs(content, i + 1); // a JS statement may end with ';'
  if (i < content.length) throw jsonError(content, file, new JsonScanError(i, 'unexpected text after the array of tweets'));
  return tweets;
}

function jsonError(content: string, file: string, e: JsonScanError): TweetDataError {
  return new TweetDataError(file, lineColumn(content, e.offset), `invalid JSON: ${e.reason}`);
}

function lineOnly(content: string, offset: number): { line: number } {
  return { line: lineColumn(content, offset).line };
}

/**
 * A tweet from one JSON record: {"tweet": {...}} (archives since 2020), a bare tweet object
 * (older archives, API dumps) or a string. The text is `full_text` (complete in extended mode),
 * else `text`. Returns an error message (a string) when there is no text.
 */
function toRawTweet(value: unknown): RawTweet | string {
  if (typeof value === 'string') return { text: value, retweetedStatus: false };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return `expected a tweet object or a string, found ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`;
  }
  const outer = value as Record<string, unknown>;
  const inner = outer.tweet;
  const t = inner !== null && typeof inner === 'object' && !Array.isArray(inner) ? (inner as Record<string, unknown>) : outer;
  const text = t.full_text !== undefined ? t.full_text : t.text;
  if (typeof text !== 'string') {
    const keys = Object.keys(t).slice(0, 8).join(', ');
    return text === undefined
      ? `no "full_text" or "text" field in the tweet (it has: ${keys || 'no fields'})`
      : `the tweet's text is ${text === null ? 'null' : typeof text}, not a string`;
  }
  const tweet: RawTweet = { text, retweetedStatus: t.retweeted_status !== undefined && t.retweeted_status !== null };
  // archives write ids as strings; a numeric id is kept only while it is exact
  const id = t.id_str ?? t.id;
  if (typeof id === 'string') tweet.id = id;
  else if (typeof id === 'number' && Number.isSafeInteger(id)) tweet.id = String(id);
  if (typeof t.created_at === 'string') tweet.createdAt = t.created_at;
  return tweet;
}

// --- JSONL -------------------------------------------------------------------------------------

function readJsonl(content: string, file: string): RawTweet[] {
  const tweets: RawTweet[] = [];
  let line = 0;
  for (let start = 0; start < content.length; ) {
    const end = lineEnd(content, start);
    const text = content.slice(start, end).replace(/\r$/, '');
    start = end + 1;
    line++;
    if (text.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      const e = findJsonError(text) ?? new JsonScanError(0, 'not a JSON value');
      throw new TweetDataError(file, { line, column: e.offset + 1 }, `invalid JSON: ${e.reason}`);
    }
    const tweet = toRawTweet(value);
    if (typeof tweet === 'string') throw new TweetDataError(file, { record: tweets.length + 1, line }, tweet);
    tweets.push(tweet);
  }
  return tweets;
}

// --- CSV ---------------------------------------------------------------------------------------

function readCsv(content: string, file: string): RawTweet[] {
  const tweets: RawTweet[] = [];
  let col = -1;
  let idCol = -1;
  let dateCol = -1;
  let width = 0;
  try {
    for (const rec of parseCsv(content)) {
      if (col < 0) {
        col = rec.fields.findIndex((f) => TEXT_COLUMNS.includes(f.trim().toLowerCase()));
        if (col < 0) throw new TweetDataError(file, { line: rec.line }, `the CSV header has no "text" column (columns: ${rec.fields.join(', ')})`);
        // prefer full_text over text when both are there, as for JSON
        const full = rec.fields.findIndex((f) => f.trim().toLowerCase() === 'full_text');
        if (full >= 0) col = full;
        const names = rec.fields.map((f) => f.trim().toLowerCase());
        idCol = names.includes('id_str') ? names.indexOf('id_str') : names.indexOf('id');
        dateCol = names.indexOf('created_at');
        width = rec.fields.length;
        continue;
      }
      if (rec.fields.length !== width) {
        throw new TweetDataError(file, { record: tweets.length + 1, line: rec.line }, `the row has ${rec.fields.length} fields, the header has ${width}${rec.fields.length <= col ? ' (no text field)' : ''}`);
      }
      const tweet: RawTweet = { text: rec.fields[col], retweetedStatus: false };
      if (idCol >= 0) tweet.id = rec.fields[idCol];
      if (dateCol >= 0) tweet.createdAt = rec.fields[dateCol];
      tweets.push(tweet);
    }
  } catch (e) {
    if (e instanceof CsvSyntaxError) throw new TweetDataError(file, { line: e.line, column: e.column }, `invalid CSV: ${e.message}`);
    throw e;
  }
  return tweets;
}

/** index of the text column named in a CSV header line, or -1 */
function textColumn(headerLine: string): number {
  try {
    for (const rec of parseCsv(headerLine)) return rec.fields.findIndex((f) => TEXT_COLUMNS.includes(f.trim().toLowerCase()));
  } catch {
    // not CSV
  }
  return -1;
}

// --- plain text --------------------------------------------------------------------------------

/** one tweet per line; lines of only whitespace are skipped; a trailing CR is dropped */
function readText(content: string): RawTweet[] {
  const tweets: RawTweet[] = [];
  for (let start = 0; start < content.length; ) {
    const end = lineEnd(content, start);
    const text = content.slice(start, end).replace(/\r$/, '');
    start = end + 1;
    if (text.trim() !== '') tweets.push({ text, retweetedStatus: false });
  }
  return tweets;
}

function lineEnd(s: string, from: number): number {
  const i = s.indexOf('\n', from);
  return i < 0 ? s.length : i;
}

/** offset of the first byte that breaks UTF-8 (overlongs, surrogates and > U+10FFFF included) */
function firstBadUtf8(b: Uint8Array): number {
  for (let i = 0; i < b.length; ) {
    const c = b[i];
    const n = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (n < 0) return i;
    const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    for (let k = 1; k <= n; k++) {
      const d = b[i + k];
      if (d === undefined || d < (k === 1 ? lo : 0x80) || d > (k === 1 ? hi : 0xbf)) return i + k;
    }
    i += n + 1;
  }
  return b.length;
}
