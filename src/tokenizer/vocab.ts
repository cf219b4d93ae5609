// Reading and checking GPT-2's two tokenizer files, and building the tables encoding needs.
//   encoder.json (HF: vocab.json)  {"token string": id, ...}, token strings in the byte alphabet
//   vocab.bpe    (HF: merges.txt)  "#version: 0.2", then one merge "left right" per line, rank order
// Every problem is one Error that names the file (and the line for vocab.bpe).

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BYTE_TO_CHAR, CHAR_TO_BYTE } from './bytes-unicode.ts';
import { readEncoderJsonFast } from './encoder-json.ts';
import { NO_MERGE, PairTable } from './pair-table.ts';
import { TokenIndex } from './token-index.ts';

export const ENDOFTEXT = '<|endoftext|>';

export interface Vocab {
  /** number of tokens; ids are 0..size-1 */
  size: number;
  /** bytes of token i are tokenBytes[tokenOffsets[i] .. tokenOffsets[i+1]) */
  tokenBytes: Uint8Array;
  tokenOffsets: Uint32Array; // (size+1)
  /** byteToken[b] = id of the one-byte token for byte b */
  byteToken: Int32Array; // (256)
  /** merge number r (its rank): left + right → result */
  mergeLeft: Int32Array; // (M)
  mergeRight: Int32Array; // (M)
  mergeResult: Int32Array; // (M)
  /** (left, right) → rank */
  pairs: PairTable;
  /** (256·256) rank of the pair of one-byte tokens for bytes (a, b) at [a·256 + b], or NO_MERGE */
  bytePairRank: Int32Array;
  /**
   * Every merge's parts are made only by lower-ranked merges. Then merging the lowest-ranked pair
   * one occurrence at a time (leftmost first) equals encoder.py's "all occurrences per rank", and
   * the linear-time long-word path applies. GPT-2's list has this property; a list without it
   * falls back to the literal encoder.py algorithm.
   */
  wellOrdered: boolean;
  /** special token strings → ids (GPT-2: only <|endoftext|>) */
  specials: Map<string, number>;
}

export type PathLike = string | URL;

export function pathString(p: PathLike): string {
  return typeof p === 'string' ? p : p.protocol === 'file:' ? fileURLToPath(p) : p.href;
}

/** Read a tokenizer file as UTF-8, with a clear error when it is missing or unreadable. */
export function readTokenizerFile(p: PathLike): string {
  try {
    return readFileSync(p, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`tokenizer file not found: ${pathString(p)}`);
    if (code === 'EISDIR') throw new Error(`tokenizer file ${pathString(p)} is a directory`);
    throw new Error(`cannot read tokenizer file ${pathString(p)}: ${(e as Error).message}`);
  }
}

/** Parse encoder.json: the token string of each id (index = id). */
export function parseEncoderJson(text: string, name: string): string[] {
  const fast = readEncoderJsonFast(text);
  if (fast !== null && fast.length >= 257 && isDense(fast)) return fast;
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new Error(`${name}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new Error(`${name}: expected a JSON object mapping token strings to ids`);
  }
  const map = obj as Record<string, unknown>;
  const tokens: string[] = [];
  let count = 0;
  // for-in over JSON.parse's own keys (measured 2-3x faster than Object.entries here)
  for (const key in map) {
    const id = map[key];
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) {
      throw new Error(`${name}: token ${JSON.stringify(key)} has id ${JSON.stringify(id)}; ids must be integers ≥ 0`);
    }
    if (tokens[id] !== undefined) throw new Error(`${name}: id ${id} is used by both ${JSON.stringify(tokens[id])} and ${JSON.stringify(key)}`);
    if (id >= 1 << 24) throw new Error(`${name}: token ${JSON.stringify(key)} has id ${id}, too large for a vocabulary`);
    tokens[id] = key;
    count++;
  }
  // distinct ids, as many as tokens: they are 0..count-1 exactly when none is ≥ count
  if (tokens.length !== count) {
    let missing = 0;
    while (tokens[missing] !== undefined) missing++;
    throw new Error(`${name}: ${count} tokens but ids go up to ${tokens.length - 1} (id ${missing} is missing)`);
  }
  if (count < 257) throw new Error(`${name}: only ${count} tokens; a byte-level BPE vocabulary has ≥ 257`);
  return tokens;
}

/** No holes (Array.every would skip them). */
function isDense(tokens: string[]): boolean {
  for (let i = 0; i < tokens.length; i++) if (tokens[i] === undefined) return false;
  return true;
}

/**
 * Build the encoding tables from encoder.json's tokens and vocab.bpe's text, checking that they
 * agree. vocab.bpe: an optional "#version" first line, then "left right" per line (blank lines
 * and CRLF line ends are tolerated); every part and every left+right must be a token.
 */
export function buildVocab(tokens: string[], mergesText: string, encName: string, mergesName: string): Vocab {
  const size = tokens.length;
  let ids: TokenIndex;
  try {
    ids = new TokenIndex(tokens);
  } catch (e) {
    throw new Error(`${encName}: ${(e as Error).message}`);
  }
  const offsets = new Uint32Array(size + 1); // a token string has one character per byte
  for (let id = 0; id < size; id++) {
    if (tokens[id].length === 0) throw new Error(`${encName}: id ${id} is the empty string`);
    offsets[id + 1] = offsets[id] + tokens[id].length;
  }
  const tokenBytes = new Uint8Array(offsets[size]);
  for (let id = 0; id < size; id++) {
    const s = tokens[id];
    for (let i = 0, o = offsets[id]; i < s.length; i++) {
      const c = s.charCodeAt(i);
      const b = c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
      if (b < 0) throw new Error(`${encName}: token ${JSON.stringify(s)} (id ${id}) is not spelled in GPT-2's byte alphabet`);
      tokenBytes[o + i] = b;
    }
  }

  const byteToken = new Int32Array(256);
  for (let b = 0; b < 256; b++) {
    byteToken[b] = ids.get(String.fromCharCode(BYTE_TO_CHAR[b]));
    if (byteToken[b] < 0) throw new Error(`${encName}: no token for byte 0x${b.toString(16).padStart(2, '0')}`);
  }

  // vocab.bpe, walked line by line without splitting: line [ls, le), space at sp
  const text = mergesText;
  let cap = 1;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) cap++;
  let mergeLeft = new Int32Array(cap);
  let mergeRight = new Int32Array(cap);
  let mergeResult = new Int32Array(cap);
  const lineOf = new Int32Array(cap); // 1-based line of each merge, for error messages
  const pairs = new PairTable(cap);
  let M = 0;
  const fail = (lineNo: number, what: string): never => {
    throw new Error(`${mergesName} line ${lineNo}: ${what}`);
  };
  for (let ls = 0, lineNo = 1; ls <= text.length; lineNo++) {
    let le = text.indexOf('\n', ls);
    if (le < 0) le = text.length;
    const next = le + 1;
    if (le > ls && text.charCodeAt(le - 1) === 0x0d) le--; // CRLF
    if (le === ls || (lineNo === 1 && text.startsWith('#version', ls))) {
      ls = next;
      continue;
    }
    const sp = text.indexOf(' ', ls);
    const sp2 = sp < 0 ? -1 : text.indexOf(' ', sp + 1);
    if (sp <= ls || sp >= le - 1 || (sp2 >= 0 && sp2 < le)) {
      fail(lineNo, `expected two tokens separated by one space, got ${JSON.stringify(text.slice(ls, Math.min(le, ls + 80)))}`);
    }
    const left = ids.find(text, ls, sp);
    if (left < 0) fail(lineNo, `token ${JSON.stringify(text.slice(ls, sp))} is not in ${encName}`);
    const right = ids.find(text, sp + 1, le);
    if (right < 0) fail(lineNo, `token ${JSON.stringify(text.slice(sp + 1, le))} is not in ${encName}`);
    const seen = pairs.get(left, right);
    if (seen !== NO_MERGE) fail(lineNo, `merge ${JSON.stringify(text.slice(ls, le))} repeats line ${lineOf[seen]}`);
    const result = ids.find(text, ls, sp, sp + 1, le);
    if (result < 0) fail(lineNo, `merged token ${JSON.stringify(text.slice(ls, sp) + text.slice(sp + 1, le))} is not in ${encName}`);
    mergeLeft[M] = left;
    mergeRight[M] = right;
    mergeResult[M] = result;
    lineOf[M] = lineNo;
    pairs.set(left, right, M);
    M++;
    ls = next;
  }
  if (M === 0) throw new Error(`${mergesName}: no merges found`);
  mergeLeft = mergeLeft.slice(0, M);
  mergeRight = mergeRight.slice(0, M);
  mergeResult = mergeResult.slice(0, M);

  const byteOf = new Int32Array(size).fill(-1);
  for (let b = 0; b < 256; b++) byteOf[byteToken[b]] = b;
  const bytePairRank = new Int32Array(65536).fill(NO_MERGE);
  for (let r = M - 1; r >= 0; r--) {
    const a = byteOf[mergeLeft[r]];
    const b = byteOf[mergeRight[r]];
    if (a >= 0 && b >= 0) bytePairRank[(a << 8) | b] = r;
  }

  // well-ordered: every merge that uses token t comes after every merge that makes t
  const lastMade = new Int32Array(size).fill(-1);
  for (let r = 0; r < M; r++) lastMade[mergeResult[r]] = Math.max(lastMade[mergeResult[r]], r);
  let wellOrdered = true;
  for (let r = 0; r < M && wellOrdered; r++) wellOrdered = lastMade[mergeLeft[r]] < r && lastMade[mergeRight[r]] < r;

  const eot = ids.get(ENDOFTEXT);
  if (eot < 0) throw new Error(`${encName}: no ${ENDOFTEXT} token`);
  const specials = new Map([[ENDOFTEXT, eot]]);
  return { size, tokenBytes, tokenOffsets: offsets, byteToken, mergeLeft, mergeRight, mergeResult, pairs, bytePairRank, wellOrdered, specials };
}

/** Read, parse and check both files. */
export function loadVocab(encoderPath: PathLike, mergesPath: PathLike): Vocab {
  const encName = pathString(encoderPath);
  const mergesName = pathString(mergesPath);
  const tokens = parseEncoderJson(readTokenizerFile(encoderPath), encName);
  return buildVocab(tokens, readTokenizerFile(mergesPath), encName, mergesName);
}
