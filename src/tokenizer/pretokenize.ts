// The split pattern of pattern.ts as a hand-written scanner over UTF-16 code units: it returns
// where the pre-token starting at `i` ends, exactly as the regex would match there, without
// allocating match objects. The alternatives, in the regex's order:
//
//   1. 's 't 're 've 'm 'll 'd          lowercase contractions
//   2-4. ' '? then a run of one class   letters \p{L}+, numbers \p{N}+, or "other" [^\s\p{L}\p{N}]+
//   5. \s+(?!\S)                        a whitespace run not followed by a non-space: at the end
//                                       of the text the whole run, else the run minus its last
//                                       character (which then starts the next pre-token)
//   6. \s+                              otherwise (a run of one): that one character
//
// Surrogate pairs are one code point; a lone surrogate counts as "other", the class of U+FFFD
// that it becomes in UTF-8. `end` is treated as the end of the text (special tokens cut there).

import { ASCII_CLASS, OTHER, SPACE, classOf } from './unicode-class.ts';

/** End (exclusive) of the run of class `k` that starts at `j`. */
function runEnd(text: string, j: number, end: number, k: number): number {
  while (j < end) {
    const c = text.charCodeAt(j);
    if (c < 128) {
      if (ASCII_CLASS[c] !== k) break;
      j++;
    } else if (c >= 0xd800 && c <= 0xdbff && j + 1 < end && isLow(text.charCodeAt(j + 1))) {
      if (classOf(((c - 0xd800) << 10) + (text.charCodeAt(j + 1) - 0xdc00) + 0x10000) !== k) break;
      j += 2;
    } else {
      if (classOf(c) !== k) break; // BMP character or lone surrogate (OTHER)
      j++;
    }
  }
  return j;
}

function isLow(d: number): boolean {
  return d >= 0xdc00 && d <= 0xdfff;
}

/** Class of the code point at j (j < end). */
function classAt(text: string, j: number, end: number): number {
  const c = text.charCodeAt(j);
  if (c < 128) return ASCII_CLASS[c];
  if (c >= 0xd800 && c <= 0xdbff && j + 1 < end && isLow(text.charCodeAt(j + 1))) {
    return classOf(((c - 0xd800) << 10) + (text.charCodeAt(j + 1) - 0xdc00) + 0x10000);
  }
  return classOf(c);
}

/** End (exclusive) of the pre-token that starts at i, for i < end. */
export function preTokenEnd(text: string, i: number, end: number): number {
  const c = text.charCodeAt(i);
  if (c === 0x27 && i + 1 < end) {
    // alternative 1: 's 't 'm 'd, then 're 've 'll
    const d = text.charCodeAt(i + 1);
    if (d === 0x73 || d === 0x74 || d === 0x6d || d === 0x64) return i + 2;
    if (i + 2 < end) {
      const e = text.charCodeAt(i + 2);
      if ((e === 0x65 && (d === 0x72 || d === 0x76)) || (d === 0x6c && e === 0x6c)) return i + 3;
    }
    return runEnd(text, i + 1, end, OTHER); // "'" is itself "other"
  }
  let k: number;
  let start = i;
  if (c === 0x20 && i + 1 < end) {
    // alternatives 2-4 with their optional leading space, unless the next character is a space too
    k = classAt(text, i + 1, end);
    if (k !== SPACE) start = i + 1;
  } else {
    k = c < 128 ? ASCII_CLASS[c] : classAt(text, i, end);
  }
  if (k !== SPACE) return runEnd(text, start, end, k);
  // alternatives 5 and 6 (every White_Space character is one UTF-16 unit)
  const j = runEnd(text, i, end, SPACE);
  if (j === end || j - i === 1) return j;
  return j - 1;
}

/** The pre-tokens of text[start, end) (for tests and teaching; encoding walks the ends directly). */
export function splitPreTokens(text: string, start = 0, end = text.length): string[] {
  const out: string[] = [];
  for (let i = start; i < end; ) {
    const j = preTokenEnd(text, i, end);
    out.push(text.slice(i, j));
    i = j;
  }
  return out;
}

/**
 * The last k in [from, to) where text[k] is whitespace and text[k-1] is not, or -1. Such a k is
 * always a pre-token boundary whatever follows (no pre-token runs from a non-space into a space),
 * so text can be encoded in two parts there: the stream encoder cuts its input only at these.
 */
export function lastSafeCut(text: string, from: number, to: number): number {
  for (let k = to - 1; k >= Math.max(from, 1); k--) {
    const c = text.charCodeAt(k);
    if ((c < 128 ? ASCII_CLASS[c] : classOf(c)) !== SPACE) continue;
    const b = text.charCodeAt(k - 1);
    if ((b < 128 ? ASCII_CLASS[b] : classOf(b)) !== SPACE) return k;
  }
  return -1;
}
