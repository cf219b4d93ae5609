// The GPT-2 tokenizer against the 626 fixture cases (plain and special), and the documented
// behaviours: BOM kept on decode, lone surrogates as U+FFFD, 5000-character words, loading from
// model folders (OpenAI and Hugging Face file names).

import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Tokenizer } from '../src/tokenizer/index.ts';
import { loadCases } from './tokenizer/arbitraries.ts';

const tok = Tokenizer.default();
const cases = loadCases();
const WEIGHTS = new URL('../weights/', import.meta.url);

describe('fixture cases', () => {
  it('has all 626 cases', () => {
    expect(cases.length).toBe(626);
    expect(cases.filter((c) => c.special).length).toBe(11);
  });

  it('encodes every case exactly', () => {
    const wrong: string[] = [];
    for (const c of cases) {
      const ids = tok.encode(c.text, { allowedSpecial: c.special ? 'all' : 'none' });
      if (JSON.stringify(ids) !== JSON.stringify(c.ids)) wrong.push(`${c.kind}: ${JSON.stringify(c.text).slice(0, 80)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('decodes every case exactly, and counts its tokens', () => {
    for (const c of cases) {
      expect(tok.decode(c.ids)).toBe(c.text);
      expect(tok.countTokens(c.text, { allowedSpecial: c.special ? 'all' : 'none' })).toBe(c.ids.length);
    }
  });

  it('encodes special-as-text cases as plain text by default, in encode and encodeOrdinary', () => {
    for (const c of cases.filter((x) => !x.special)) {
      expect(tok.encodeOrdinary(c.text)).toEqual(c.ids);
    }
    for (const c of cases.filter((x) => x.kind === 'special-as-text').slice(0, 3)) {
      expect(tok.encode(c.text)).toEqual(c.ids);
    }
  });
});

describe('API', () => {
  it('knows GPT-2 sizes and the end-of-text token', () => {
    expect(tok.vocabSize).toBe(50257);
    expect(tok.eotId).toBe(50256);
    expect(tok.specialTokens.get('<|endoftext|>')).toBe(50256);
    expect(Tokenizer.default()).toBe(tok); // cached
  });

  it('encodes the examples in its header', () => {
    expect(tok.encode('hello world')).toEqual([31373, 995]);
    expect(tok.encode('a<|endoftext|>b')).toEqual([64, 27, 91, 437, 1659, 5239, 91, 29, 65]);
    expect(tok.encode('a<|endoftext|>b', { allowedSpecial: 'all' })).toEqual([64, 50256, 65]);
    expect(tok.encode('a<|endoftext|>b', { allowedSpecial: ['<|endoftext|>'] })).toEqual([64, 50256, 65]);
    expect(tok.encode('<|endoftext|><|endoftext|>', { allowedSpecial: 'all' })).toEqual([50256, 50256]);
    expect(tok.countTokens('a<|endoftext|>b', { allowedSpecial: 'all' })).toBe(3);
    expect(tok.encode('')).toEqual([]);
  });

  it('rejects unknown special tokens and non-strings', () => {
    expect(() => tok.encode('x', { allowedSpecial: ['<|fim|>'] })).toThrow(/unknown special token "<\|fim\|>"/);
    expect(() => tok.encode(42 as unknown as string)).toThrow(TypeError);
  });

  it('gives token bytes as copies', () => {
    expect(Array.from(tok.tokenToBytes(995))).toEqual([...Buffer.from(' world')]);
    expect(new TextDecoder().decode(tok.tokenToBytes(50256))).toBe('<|endoftext|>');
    const b = tok.tokenToBytes(995);
    b[0] = 0;
    expect(tok.tokenToBytes(995)[0]).toBe(0x20);
    expect(Array.from(tok.decodeBytes([31373, 995]))).toEqual([...Buffer.from('hello world')]);
    expect(tok.decodeBytes(new Uint32Array([31373]))).toEqual(new Uint8Array(Buffer.from('hello')));
  });
});

describe('pitfalls', () => {
  it('keeps a leading BOM on decode (TextDecoder would drop it)', () => {
    const ids = tok.encode('\ufeffhello');
    expect(tok.decode(ids)).toBe('\ufeffhello');
    const sd = tok.streamDecoder();
    expect(ids.map((id) => sd.push(id)).join('') + sd.flush()).toBe('\ufeffhello');
  });

  it('treats U+0085 as whitespace and U+FEFF as not, like Python regex', () => {
    // the two examples from the fixture README that JS `\s` gets wrong
    for (const text of ['a \u0085b', ' \ufeffb']) {
      const c = cases.find((x) => x.text === text && !x.special);
      expect(c).toBeDefined();
      expect(tok.encode(text)).toEqual(c?.ids);
    }
  });

  it('encodes a lone surrogate as U+FFFD, as TextEncoder does', () => {
    for (const [bad, good] of [['a\ud800b', 'a\ufffdb'], ['\udc00', '\ufffd'], ['x\ud83d', 'x\ufffd'], ['\ude00\ud83d', '\ufffd\ufffd']]) {
      expect(tok.encode(bad)).toEqual(tok.encode(good));
      expect(tok.decode(tok.encode(bad))).toBe(good);
      expect(Array.from(tok.decodeBytes(tok.encode(bad)))).toEqual(Array.from(new TextEncoder().encode(bad)));
    }
  });

  it('encodes 5000-character words quickly and exactly', () => {
    for (const c of cases.filter((x) => x.text.length === 5000)) {
      const t0 = performance.now();
      expect(tok.encode(c.text)).toEqual(c.ids);
      expect(performance.now() - t0).toBeLessThan(1000);
    }
    expect(cases.filter((x) => x.text.length === 5000).length).toBe(2);
  });

  it('takes linear time on a single 1 MB word', () => {
    tok.encode('ab'.repeat(1000)); // warm up the long-word path
    const word = 'ab'.repeat(500_000);
    const t0 = performance.now();
    const ids = tok.encode(word);
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(tok.decode(ids)).toBe(word);
  });
});

describe('word cache', () => {
  it('stays within its fixed size whatever the input', () => {
    const small = Tokenizer.fromFiles(new URL('encoder.json', WEIGHTS), new URL('vocab.bpe', WEIGHTS), { cacheSize: 100, cacheMaxWord: 16 });
    const before = small.cacheStats();
    const words = Array.from({ length: 5000 }, (_, i) => `w${i.toString(36)}x`).join(' ');
    const ids = small.encode(words);
    const after = small.cacheStats();
    expect(after.entries).toBeLessThanOrEqual(100);
    expect(after.bytes).toBe(before.bytes);
    expect(ids).toEqual(tok.encode(words));
    // a word longer than cacheMaxWord is not stored, and still encodes the same
    small.clearCache();
    expect(small.encode('abcdefghijklmnopqrstuvwxyz')).toEqual(tok.encode('abcdefghijklmnopqrstuvwxyz'));
    expect(small.cacheStats().entries).toBe(0);
  });

  it('has a default size of a few MB', () => {
    const s = tok.cacheStats();
    expect(s.maxEntries).toBe(65536);
    expect(s.bytes).toBeLessThan(8 * 1024 * 1024);
  });
});

describe('loading from a folder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpt2ts-tok-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads encoder.json + vocab.bpe, and Hugging Face vocab.json + merges.txt', () => {
    const openai = join(dir, 'openai');
    const hf = join(dir, 'hf');
    mkdirSync(openai);
    mkdirSync(hf);
    copyFileSync(new URL('encoder.json', WEIGHTS), join(openai, 'encoder.json'));
    copyFileSync(new URL('vocab.bpe', WEIGHTS), join(openai, 'vocab.bpe'));
    copyFileSync(new URL('encoder.json', WEIGHTS), join(hf, 'vocab.json'));
    copyFileSync(new URL('vocab.bpe', WEIGHTS), join(hf, 'merges.txt'));
    for (const d of [openai, hf]) {
      const t = Tokenizer.fromDir(d);
      expect(t.encode('hello world')).toEqual([31373, 995]);
      expect(Tokenizer.fromModel(d).encode('héllo')).toEqual(tok.encode('héllo'));
    }
    expect(Tokenizer.fromDir(WEIGHTS).encode("it's")).toEqual([270, 338]);
  });

  it('fromModel falls back to the default for a folder without tokenizer files', () => {
    const bare = join(dir, 'bare');
    mkdirSync(bare);
    writeFileSync(join(bare, 'model.safetensors'), '');
    expect(Tokenizer.fromModel(bare)).toBe(Tokenizer.default());
    expect(Tokenizer.fromModel(join(bare, 'model.safetensors'))).toBe(Tokenizer.default());
    expect(() => Tokenizer.fromModel(join(dir, 'nowhere'))).toThrow(/model path not found: .*nowhere/);
    expect(() => Tokenizer.fromDir(bare)).toThrow(/no tokenizer in .*bare: encoder.json \(or vocab.json\) not found/);
  });
});
