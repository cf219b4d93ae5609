// Properties of the tokenizer over generated strings (fast-check): the scanner splits exactly as
// the regex, decode inverts encode, encode is pure, countTokens agrees, encoding splits at
// pre-token boundaries, the streaming encoder/decoder equal the one-shot calls, and the fast BPE
// paths equal encoder.py's algorithm.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Tokenizer, splitPreTokens, splitReference } from '../src/tokenizer/index.ts';
import { bpeLong, bpeReference, bpeSmall, makeBucketHeads } from '../src/tokenizer/bpe.ts';
import { bytesToTokenString, tokenStringToBytes } from '../src/tokenizer/bytes-unicode.ts';
import { loadVocab } from '../src/tokenizer/vocab.ts';
import { WHITE_SPACE, anyString, edgyString, utf16String } from './tokenizer/arbitraries.ts';

const tok = Tokenizer.default();
const v = loadVocab(new URL('../weights/encoder.json', import.meta.url), new URL('../weights/vocab.bpe', import.meta.url));
const RUNS = { numRuns: 400 };
const wellFormed = fc.oneof(edgyString, anyString);

describe('split pattern', () => {
  it('WHITE_SPACE lists exactly the code points of \\p{White_Space}', () => {
    const re = /^\p{White_Space}$/u;
    const found: string[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp++) if (re.test(String.fromCodePoint(cp))) found.push(String.fromCodePoint(cp));
    expect(found).toEqual(WHITE_SPACE);
  });

  it('the scanner splits exactly as the regex (including lone surrogates)', () => {
    fc.assert(fc.property(fc.oneof(wellFormed, utf16String), (s) => {
      expect(splitPreTokens(s)).toEqual(splitReference(s));
    }), { numRuns: 2000 });
  });

  it('JavaScript \\s would split differently (the pitfall the pattern avoids)', () => {
    const jsS = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
    const text = 'a \u0085b';
    expect(Array.from(text.matchAll(jsS), (m) => m[0])).not.toEqual(splitReference(text));
  });
});

describe('encode / decode', () => {
  it('round-trips every well-formed string', () => {
    fc.assert(fc.property(wellFormed, (s) => {
      expect(tok.decode(tok.encode(s))).toBe(s);
    }), RUNS);
  });

  it('round-trips every White_Space character, alone and between letters', () => {
    for (const w of WHITE_SPACE) {
      for (const s of [w, w + w, `a${w}b`, `a ${w}b`, `${w} a`, `a${w}`, `${w}\ufeff`]) expect(tok.decode(tok.encode(s))).toBe(s);
    }
  });

  it('round-trips every control character and astral plane sample', () => {
    let s = '';
    for (let c = 0; c < 0x20; c++) s += String.fromCharCode(c) + 'x';
    for (let c = 0x7f; c <= 0x9f; c++) s += String.fromCharCode(c);
    for (let p = 1; p <= 16; p++) s += String.fromCodePoint(p * 0x10000, p * 0x10000 + 0xfffd);
    expect(tok.decode(tok.encode(s))).toBe(s);
  });

  it('maps lone surrogates to U+FFFD: decode(encode(s)) === s.toWellFormed()', () => {
    fc.assert(fc.property(utf16String, (s) => {
      const wf = Buffer.from(s, 'utf8').toString('utf8'); // lone surrogates → U+FFFD
      expect(tok.encode(s)).toEqual(tok.encode(wf));
      expect(tok.decode(tok.encode(s))).toBe(wf);
    }), RUNS);
  });

  it('is a pure function of the text (same ids from a fresh tokenizer, cold or warm cache)', () => {
    const fresh = Tokenizer.fromFiles(new URL('../weights/encoder.json', import.meta.url), new URL('../weights/vocab.bpe', import.meta.url), { cacheSize: 4 });
    fc.assert(fc.property(wellFormed, (s) => {
      const a = tok.encode(s);
      expect(tok.encode(s)).toEqual(a);
      expect(fresh.encode(s)).toEqual(a);
    }), RUNS);
  });

  it('countTokens equals the length of encode', () => {
    fc.assert(fc.property(wellFormed, fc.boolean(), (s, special) => {
      const opts = { allowedSpecial: special ? ('all' as const) : ('none' as const) };
      expect(tok.countTokens(s, opts)).toBe(tok.encode(s, opts).length);
    }), RUNS);
  });

  it('encoding a concatenation at a pre-token boundary equals the concatenated encodings', () => {
    // every boundary but one kind: right after a whitespace run of 2+ that is followed by a
    // non-space. There the regex splits the run's last character off (\s+(?!\S) looks one past
    // the cut), while the prefix alone ends in the whole run (see the next test).
    const ws = /^\p{White_Space}$/u;
    fc.assert(fc.property(wellFormed, fc.nat(), (s, pick) => {
      const pieces = splitReference(s);
      const cut = pieces.slice(0, pick % (pieces.length + 1)).join('').length;
      fc.pre(!(cut >= 2 && cut < s.length && ws.test(s[cut - 1]) && ws.test(s[cut - 2]) && !ws.test(s[cut])));
      expect(tok.encode(s)).toEqual([...tok.encode(s.slice(0, cut)), ...tok.encode(s.slice(cut))]);
    }), { numRuns: 1000 });
  });

  it('the one exception: a cut after a whitespace run of 2+ that a non-space follows', () => {
    const s = ' \u2000’s';
    expect(splitReference(s)).toEqual([' ', '\u2000', '’', 's']);
    expect(splitReference(' \u2000')).toEqual([' \u2000']);
    expect(tok.encode(s)).not.toEqual([...tok.encode(' \u2000'), ...tok.encode('’s')]);
    // cutting just before the whitespace is always safe (what the stream encoder does)
    expect(tok.encode('ab \u2000cd')).toEqual([...tok.encode('ab'), ...tok.encode(' \u2000cd')]);
  });

  it('with allowedSpecial, <|endoftext|> is 50256 between the plain encodings of the pieces', () => {
    fc.assert(fc.property(fc.array(wellFormed, { minLength: 1, maxLength: 4 }), (parts) => {
      const text = parts.join('<|endoftext|>');
      // a piece may itself end in '<|endoftext|' and start a new special; only check clean joins
      fc.pre(text.split('<|endoftext|>').length === parts.length);
      const expected = parts.flatMap((p, i) => (i === 0 ? tok.encode(p) : [50256, ...tok.encode(p)]));
      expect(tok.encode(text, { allowedSpecial: 'all' })).toEqual(expected);
    }), RUNS);
  });
});

describe('streaming', () => {
  it('the stream decoder, concatenated, equals decode (random ids, split characters)', () => {
    // ids biased to the one-byte tokens of 0x80-0xFF: lead and continuation bytes of UTF-8
    // sequences, so characters are split across tokens and many sequences are invalid
    const byteTok = fc.integer({ min: 0x80, max: 0xff }).map((b) => v.byteToken[b]);
    const ids = fc.array(fc.oneof(fc.integer({ min: 0, max: 50256 }), byteTok), { maxLength: 40 });
    fc.assert(fc.property(ids, (xs) => {
      const d = tok.streamDecoder();
      const pieces = xs.map((id) => d.push(id));
      pieces.push(d.flush());
      expect(pieces.join('')).toBe(tok.decode(xs));
      // nothing emitted ends in the middle of a surrogate pair
      for (const p of pieces) expect(/[\ud800-\udbff]$/.test(p)).toBe(false);
    }), { numRuns: 1000 });
  });

  it('the stream decoder emits a multi-byte character only once it is complete', () => {
    const ids = tok.encode('😀'); // 4 bytes over several tokens
    expect(ids.length).toBeGreaterThan(1);
    const d = tok.streamDecoder();
    const out = ids.map((id) => d.push(id));
    expect(out.slice(0, -1).every((s) => s === '')).toBe(true);
    expect(out[out.length - 1]).toBe('😀');
    expect(d.flush()).toBe('');
    // an unfinished character at the end is flushed as U+FFFD, as decode does
    d.push(ids[0]);
    expect(d.flush()).toBe(tok.decode([ids[0]]));
  });

  it('the stream encoder, fed in any chunks, equals encode of the whole text', () => {
    fc.assert(fc.property(wellFormed, fc.array(fc.nat(), { maxLength: 6 }), fc.boolean(), (s, cuts, special) => {
      const opts = { allowedSpecial: special ? ('all' as const) : ('none' as const) };
      const at = [...new Set(cuts.map((c) => c % (s.length + 1)))].sort((a, b) => a - b);
      const enc = tok.streamEncoder(opts);
      const ids: number[] = [];
      let prev = 0;
      for (const c of [...at, s.length]) {
        ids.push(...enc.push(s.slice(prev, c)));
        prev = c;
      }
      ids.push(...enc.flush());
      // chunks may even cut a surrogate pair: the encoder only encodes up to safe cuts
      expect(ids).toEqual(tok.encode(s, opts));
    }), RUNS);
  });
});

describe('BPE implementations', () => {
  const heads = makeBucketHeads(v.mergeResult.length);
  const word = fc.oneof(
    fc.string({ unit: fc.constantFrom('a', 'b'), maxLength: 600 }),
    fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'), maxLength: 600 }),
    fc.string({ unit: fc.constantFrom('a', 'a', 'a', 'h', 'e', '!', '='), maxLength: 600 }),
    fc.string({ unit: 'binary', maxLength: 100 }),
  );

  it('GPT-2 merges are well-ordered (the fast paths apply)', () => {
    expect(v.wellOrdered).toBe(true);
  });

  it('bpeSmall and bpeLong equal encoder.py on random words up to 600 bytes', () => {
    fc.assert(fc.property(word, (w) => {
      const syms = Array.from(Buffer.from(w, 'utf8'), (b) => v.byteToken[b]);
      const ref = bpeReference(syms, v);
      const a = Int32Array.from(syms);
      expect(Array.from(a.subarray(0, bpeSmall(a, a.length, new Int32Array(a.length), v)))).toEqual(ref);
      const b = Int32Array.from(syms);
      expect(Array.from(b.subarray(0, bpeLong(b, b.length, v, heads)))).toEqual(ref);
    }), { numRuns: 300 });
    expect(heads.every((h) => h === -1)).toBe(true); // scratch left clean
  });

  it('byte ↔ unicode tables are inverse', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const s = bytesToTokenString(all);
    expect(s.includes(' ')).toBe(false);
    expect(tokenStringToBytes(s)).toEqual(all);
    expect(tokenStringToBytes('Ġhello')).toEqual(new Uint8Array(Buffer.from(' hello')));
    expect(tokenStringToBytes('\u4e00')).toBeNull();
  });
});
