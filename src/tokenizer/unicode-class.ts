// Character classes of the split pattern, per code point: letter (\p{L}), number (\p{N}),
// whitespace (\p{White_Space}) or other (everything else, including lone surrogates, which
// encode as U+FFFD, itself an "other"). ASCII comes from a fixed table; other code points are
// classified on first sight with the engine's own regex, so the scanner follows exactly the
// Unicode version the regex reference does, and memoised in a 1.1 MB table (bounded: one byte
// per code point, shared by every Tokenizer since it depends only on the JS engine).

export const LETTER = 1;
export const NUMBER = 2;
export const SPACE = 3;
export const OTHER = 4;

const reL = /^\p{L}$/u;
const reN = /^\p{N}$/u;
const reW = /^\p{White_Space}$/u;

function classify(cp: number): number {
  const ch = String.fromCodePoint(cp);
  if (reL.test(ch)) return LETTER;
  if (reN.test(ch)) return NUMBER;
  if (reW.test(ch)) return SPACE;
  return OTHER;
}

/** ASCII_CLASS[c] for c < 128 */
export const ASCII_CLASS: Uint8Array = (() => {
  const t = new Uint8Array(128);
  for (let c = 0; c < 128; c++) t[c] = classify(c);
  return t;
})();

// 0 = not yet classified
const table = new Uint8Array(0x110000);

/** The class of code point cp (0..0x10FFFF); surrogate code points are OTHER. */
export function classOf(cp: number): number {
  const k = table[cp];
  if (k !== 0) return k;
  return (table[cp] = classify(cp));
}
