// GPT-2's pre-tokenizer split pattern, as written in openai/gpt-2 src/encoder.py (Python `regex`):
//
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// In Python's `regex` module `\s` is the Unicode White_Space property. JavaScript's `\s` is not the
// same set (it adds U+FEFF and lacks U+0085), so the JS translation spells it `\p{White_Space}`.
// The contractions are lowercase only ('S is not one). `\p{L}` / `\p{N}` follow the JS engine's
// Unicode version (Node 20 with ICU 78: Unicode 17; the fixtures avoid code points whose class
// changed after Unicode 15.0).
//
// This regex is the specification; encoding uses the equivalent hand-written scanner in
// pretokenize.ts (same splits, no match objects), and the tests check the two agree.

/** The pattern exactly as in encoder.py (Python `regex` syntax). */
export const GPT2_SPLIT_PATTERN_PY = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;

/** The same pattern in JavaScript syntax (`u` flag): `\s` → `\p{White_Space}`, `\S` → `\P{White_Space}`. */
export const GPT2_SPLIT_PATTERN =
  String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+`;

/** The pre-tokens of `text` by the regex itself: the reference the fast scanner is tested against. */
export function splitReference(text: string): string[] {
  return Array.from(text.matchAll(new RegExp(GPT2_SPLIT_PATTERN, 'gu')), (m) => m[0]);
}
