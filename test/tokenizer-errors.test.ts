// Bad tokenizer files and bad ids each give one clear error that names the file (and line) or
// the id. Also: a merge list that is not well-ordered still encodes exactly (encoder.py path).

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BYTE_TO_CHAR, Tokenizer } from '../src/tokenizer/index.ts';

const WEIGHTS = new URL('../weights/', import.meta.url);
const ENCODER = readFileSync(new URL('encoder.json', WEIGHTS), 'utf8');
const MERGES = readFileSync(new URL('vocab.bpe', WEIGHTS), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'gpt2ts-tokerr-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
/** Write encoder.json / vocab.bpe texts to fresh files and load them. */
function load(encoder: string, merges: string): Tokenizer {
  const d = join(dir, String(n++));
  mkdirSync(d);
  writeFileSync(join(d, 'encoder.json'), encoder);
  writeFileSync(join(d, 'vocab.bpe'), merges);
  return Tokenizer.fromDir(d);
}
const encoderWith = (edit: (o: Record<string, unknown>) => void): string => {
  const o = JSON.parse(ENCODER) as Record<string, unknown>;
  edit(o);
  return JSON.stringify(o);
};
const mergesWith = (lines: string[]): string => `#version: 0.2\n${lines.join('\n')}\n`;

describe('missing and corrupt files', () => {
  it('names a missing file', () => {
    const missing = join(dir, 'nope', 'encoder.json');
    expect(() => Tokenizer.fromFiles(missing, new URL('vocab.bpe', WEIGHTS))).toThrow(`tokenizer file not found: ${missing}`);
    expect(() => Tokenizer.fromFiles(new URL('encoder.json', WEIGHTS), join(dir, 'x.bpe'))).toThrow(/tokenizer file not found: .*x\.bpe/);
    expect(() => Tokenizer.fromFiles(dir, new URL('vocab.bpe', WEIGHTS))).toThrow(/is a directory/);
  });

  const encoderCases: Array<[string, string, RegExp]> = [
    ['not JSON', '{"a": 0,', /encoder\.json: not valid JSON/],
    ['truncated', ENCODER.slice(0, 5000), /encoder\.json: not valid JSON/],
    ['an array', '[1, 2]', /encoder\.json: expected a JSON object mapping token strings to ids/],
    ['a string id', encoderWith((o) => (o['!'] = '0')), /encoder\.json: token "!" has id "0"; ids must be integers/],
    ['a fractional id', encoderWith((o) => (o['!'] = 0.5)), /token "!" has id 0\.5/],
    ['a negative id', encoderWith((o) => (o['!'] = -1)), /token "!" has id -1/],
    ['a repeated id', encoderWith((o) => (o['!'] = 1)), /encoder\.json: id 1 is used by both/],
    ['a gap in the ids', encoderWith((o) => (o['!'] = 60000)), /encoder\.json: 50257 tokens but ids go up to 60000 \(id 0 is missing\)/],
    ['too few tokens', '{"a": 0}', /encoder\.json: only 1 tokens/],
    ['a token outside the byte alphabet', encoderWith((o) => { delete o['<|endoftext|>']; o['hello world'] = 50256; }), /encoder\.json: token "hello world" \(id 50256\) is not spelled in GPT-2's byte alphabet/],
    ['no <|endoftext|>', encoderWith((o) => delete o['<|endoftext|>']), /encoder\.json: no <\|endoftext\|> token/],
  ];
  for (const [what, text, err] of encoderCases) {
    it(`encoder.json with ${what}`, () => {
      expect(() => load(text, MERGES)).toThrow(err);
    });
  }

  it('encoder.json missing a byte token', () => {
    // rename the token of byte 0x21 "!" (id 0) to a string that is no single byte
    const text = encoderWith((o) => { delete o['!']; o['!zq!'] = 0; });
    expect(() => load(text, MERGES)).toThrow(/encoder\.json: no token for byte 0x21/);
  });

  const mergeCases: Array<[string, string, RegExp]> = [
    ['no merges', '#version: 0.2\n', /vocab\.bpe: no merges found/],
    ['three parts on a line', mergesWith(['Ġ t', 'a b c']), /vocab\.bpe line 3: expected two tokens separated by one space, got "a b c"/],
    ['one part on a line', mergesWith(['Ġt']), /vocab\.bpe line 2: expected two tokens separated by one space/],
    ['an unknown token', mergesWith(['Ġ t', 'Ġ 中']), /vocab\.bpe line 3: token "中" is not in .*encoder\.json/],
    ['an unknown merged token', mergesWith(['Ġ t', 'Ġt Ġt']), /vocab\.bpe line 3: merged token "ĠtĠt" is not in/],
    ['a repeated merge', mergesWith(['Ġ t', 'h e', 'Ġ t']), /vocab\.bpe line 4: merge "Ġ t" repeats line 2/],
    ['a JSON file by mistake', ENCODER, /vocab\.bpe line 1: expected two tokens separated by one space/],
  ];
  for (const [what, text, err] of mergeCases) {
    it(`vocab.bpe with ${what}`, () => {
      expect(() => load(ENCODER, text)).toThrow(err);
    });
  }

  it('accepts CRLF line ends and blank lines in vocab.bpe', () => {
    const t = load(ENCODER, MERGES.replace(/\n/g, '\r\n') + '\r\n\r\n');
    expect(t.encode('hello world')).toEqual([31373, 995]);
  });
});

describe('bad ids', () => {
  const tok = Tokenizer.default();
  it('decode names an out-of-range id and its position', () => {
    expect(() => tok.decode([31373, 50257])).toThrow(RangeError);
    expect(() => tok.decode([31373, 50257])).toThrow('token id 50257 at position 1 is out of range (ids are integers 0..50256)');
    expect(() => tok.decode([-1])).toThrow('token id -1 at position 0 is out of range');
  });
  it('decode names a non-integer id', () => {
    expect(() => tok.decode([1.5])).toThrow('token id 1.5 at position 0 is not an integer');
    expect(() => tok.decode([Number.NaN])).toThrow(/token id NaN at position 0 is not an integer/);
    expect(() => tok.decodeBytes(['7' as unknown as number])).toThrow(/token id 7 at position 0 is not an integer/);
  });
  it('tokenToBytes and the stream decoder check ids too', () => {
    expect(() => tok.tokenToBytes(50257)).toThrow(RangeError);
    expect(() => tok.streamDecoder().push(1e9)).toThrow(/token id 1000000000 is out of range/);
  });
});

describe('a merge list that is not well-ordered', () => {
  it('is encoded with encoder.py semantics', () => {
    // "ab c" is ranked before "a b", which makes "ab": encoder.py merges a+b first (the only
    // ranked pair), then ab+c
    const tokens: Record<string, number> = {};
    for (let b = 0; b < 256; b++) tokens[String.fromCharCode(BYTE_TO_CHAR[b])] = b;
    tokens.ab = 256;
    tokens.abc = 257;
    tokens['<|endoftext|>'] = 258;
    const t = load(JSON.stringify(tokens), mergesWith(['ab c', 'a b']));
    expect(t.encode('abc abx')).toEqual([257, 0x20, 256, 120]); // here byte b has id b
    expect(t.decode(t.encode('abc abx'))).toBe('abc abx');
  });
});
