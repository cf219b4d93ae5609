// Shared inputs for the tokenizer tests: the fixture cases and fast-check string generators
// that hit the split pattern's edges (every White_Space character, contractions, controls,
// astral characters, marks) far more often than uniform random code points would.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';

export interface Case {
  text: string;
  ids: number[];
  special?: boolean;
  kind: string;
}

export function loadCases(): Case[] {
  const text = readFileSync(new URL('../fixtures/tokenizer/cases.jsonl', import.meta.url), 'utf8');
  return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Case);
}

/** Every code point with the Unicode White_Space property (what Python's `\s` matches). */
export const WHITE_SPACE = [
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x85, 0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005,
  0x2006, 0x2007, 0x2008, 0x2009, 0x200a, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
].map((c) => String.fromCodePoint(c));

/** Pieces that sit on the pattern's edges. */
const PIECES = [
  ...WHITE_SPACE, ' ', ' ', '  ', '\r\n', '\ufeff', '\u200b', '\u180e',
  "'", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", '’s', "''",
  'a', 'Z', 'hello', 'world', 'é', 'ß', 'Ω', 'я', '中文', 'ﾊ', 'ا', 'ِ', 'क्', 'ไ', '\u0301', 'x\u0301\u0302',
  '0', '42', '٣', '¼', '²', 'Ⅻ', '.', '!', '...', '@', '#', '&amp;', '<', '|', '<|endoftext|>', '-',
  '\u0000', '\u0007', '\b', '\u001b[31m', '\u007f', '\u0080', '\u009f',
  '😀', '👩‍💻', '👍🏽', '🇯🇵', '1️⃣', '\u{10000}', '\u{10ffff}', '𝐀', '𠀀', '\ufffd', '\uffff', '\ue000',
];

/** Well-formed strings built from the edge pieces, mixed with arbitrary code points. */
export const edgyString: fc.Arbitrary<string> = fc
  .array(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...PIECES) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 3 }) }), { maxLength: 24 })
  .map((parts) => parts.join(''));

/** Any well-formed string (every code point, astral included). */
export const anyString: fc.Arbitrary<string> = fc.string({ unit: 'binary', maxLength: 40 });

/** Strings that may contain lone surrogates. */
export const utf16String: fc.Arbitrary<string> = fc
  .array(fc.oneof(fc.constantFrom('\ud800', '\udfff', '\udc00', '\ud83d', 'a', ' ', '😀', "'"), fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c))), { maxLength: 16 })
  .map((p) => p.join(''));
