// Deterministic benchmark text for the tokenizer, built from files in the repo plus generated
// Unicode (a fixed-seed PRNG), so every run and every peer sees the same input:
//   mixedCorpus(bytes)  tweets (test/fixtures/tweets/*/tweets.jsonl), fixture case texts
//                       (test/fixtures/tokenizer/cases.jsonl), TypeScript from src/, and
//                       generated multi-script words, numbers and emoji, interleaved at random
//   noSpaceWord(bytes)  one run of random lowercase letters: a single pre-token
//   repeatedWord(bytes) "aaaa…": a single pre-token whose merges stack (aa, aaaa, …)

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('../', import.meta.url);

/** mulberry32: a small seeded PRNG in [0, 1) */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function readLinesJson(rel: string, field: string): string[] {
  const text = readFileSync(new URL(rel, ROOT), 'utf8');
  return text.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as Record<string, string>)[field]);
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

// code-point ranges of the generated words: Latin-1 letters, Greek, Cyrillic, Arabic,
// Devanagari, Thai, Hiragana, CJK, Hangul, and astral math letters
const SCRIPTS: Array<[number, number]> = [
  [0xe0, 0xff], [0x3b1, 0x3c9], [0x430, 0x44f], [0x627, 0x64a], [0x915, 0x939],
  [0xe01, 0xe2e], [0x3041, 0x3096], [0x4e00, 0x9fa5], [0xac00, 0xd7a3], [0x1d400, 0x1d433],
];
const EMOJI = ['😀', '🎉', '👍🏽', '❤️', '🇯🇵', '👩‍💻', '🔥', '✨', '🙏', '1️⃣'];
const PUNCT = [' ', ' ', ' ', ' ', ', ', '. ', '! ', '? ', '\n', ' — ', '：', '。', ' «', '» '];

function unicodeParagraph(r: () => number, words: number): string {
  let s = '';
  for (let w = 0; w < words; w++) {
    const x = r();
    if (x < 0.08) s += EMOJI[Math.floor(r() * EMOJI.length)];
    else if (x < 0.16) s += String(Math.floor(r() * 100000));
    else {
      const [lo, hi] = SCRIPTS[Math.floor(r() * SCRIPTS.length)];
      const len = 1 + Math.floor(r() * 8);
      for (let k = 0; k < len; k++) s += String.fromCodePoint(lo + Math.floor(r() * (hi - lo + 1)));
    }
    s += PUNCT[Math.floor(r() * PUNCT.length)];
  }
  return s + '\n';
}

/** At least `bytes` UTF-8 bytes of mixed text: ≈45% tweets and fortunes, 30% code, 25% Unicode. */
export function mixedCorpus(bytes: number, seed = 1): string {
  const r = rng(seed);
  const tweets = [
    ...readLinesJson('test/fixtures/tweets/unixsage/tweets.jsonl', 'text'),
    ...readLinesJson('test/fixtures/tweets/grandmasaid/tweets.jsonl', 'text'),
    ...readLinesJson('test/fixtures/tokenizer/cases.jsonl', 'text'),
  ];
  const code = tsFiles(new URL('src', ROOT).pathname).map((p) => readFileSync(p, 'utf8')).join('\n');
  const parts: string[] = [];
  let total = 0;
  while (total < bytes) {
    const x = r();
    let piece: string;
    if (x < 0.45) {
      piece = '';
      for (let k = 0; k < 8; k++) piece += tweets[Math.floor(r() * tweets.length)] + '\n';
    } else if (x < 0.75) {
      const at = Math.floor(r() * Math.max(1, code.length - 2000));
      piece = code.slice(at, at + 2000) + '\n';
    } else {
      piece = unicodeParagraph(r, 150);
    }
    parts.push(piece);
    total += Buffer.byteLength(piece);
  }
  // a slice of code may cut a surrogate pair: round-trip through UTF-8 makes it U+FFFD
  return Buffer.from(parts.join(''), 'utf8').toString('utf8');
}

/** `bytes` random lowercase ASCII letters: one pre-token. */
export function noSpaceWord(bytes: number, seed = 2): string {
  const r = rng(seed);
  const a = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) a[i] = 97 + Math.floor(r() * 26);
  return Buffer.from(a).toString('latin1');
}

/** `bytes` copies of "a": one pre-token. */
export function repeatedWord(bytes: number): string {
  return 'a'.repeat(bytes);
}
