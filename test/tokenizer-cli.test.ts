// `gpt2ts tokenize` through tokenizeCommand.run with fake streams: the output formats, exact
// streaming of stdin (chunks cut anywhere, even inside a UTF-8 character), --decode input forms,
// --jsonl order and error lines, usage errors, --model, and backpressure on a slow stdout.

import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { tokenizeCommand } from '../src/cli/tokenize.ts';
import { type CliIO, UsageError } from '../src/cli/common.ts';
import { Tokenizer } from '../src/tokenizer/index.ts';
import { loadCases } from './tokenizer/arbitraries.ts';

const tok = Tokenizer.default();

interface Run {
  out: string;
  err: unknown;
  maxBuffered: number;
}

/** Run the command with stdin fed in the given chunks; stdout may be slow (ms per write). */
async function run(argv: string[], input: string | Buffer[] | null = null, slowMs = 0): Promise<Run> {
  const chunks = input === null ? [] : typeof input === 'string' ? [Buffer.from(input)] : input;
  let out = '';
  let maxBuffered = 0;
  const stdout = new Writable({
    highWaterMark: 1024,
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString();
      maxBuffered = Math.max(maxBuffered, this.writableLength);
      if (slowMs > 0) setTimeout(cb, slowMs);
      else cb();
    },
  });
  const io: CliIO = {
    stdout,
    stderr: new Writable({ write: (_c, _e, cb) => cb() }),
    stdin: Readable.from(chunks),
    stderrIsTTY: false,
    stdinIsTTY: input === null,
  };
  let err: unknown = null;
  try {
    await tokenizeCommand.run(argv, io);
  } catch (e) {
    err = e;
  }
  return { out, err, maxBuffered };
}

/** Cut a buffer into pieces of pseudo-random sizes 1..max (cutting UTF-8 characters too). */
function chop(buf: Buffer, max: number, seed = 7): Buffer[] {
  const parts: Buffer[] = [];
  let s = seed;
  for (let i = 0; i < buf.length; ) {
    s = (s * 1103515245 + 12345) >>> 0;
    const n = 1 + (s % max);
    parts.push(buf.subarray(i, i + n));
    i += n;
  }
  return parts;
}

const TEXT = loadCases().map((c) => c.text).join('\n') + '\n';

describe('encode', () => {
  it('prints ids, JSON or a count for a TEXT argument', async () => {
    expect((await run(['Hello world'])).out).toBe('15496 995\n');
    expect((await run(['--json', 'Hello world'])).out).toBe('{"ids":[15496,995]}\n');
    expect((await run(['--count', 'Hello world'])).out).toBe('2\n');
    expect((await run(['--count', '--json', 'Hello world'])).out).toBe('{"count":2}\n');
    expect((await run([''])).out).toBe('\n');
  });

  it('treats <|endoftext|> as text unless --special', async () => {
    expect((await run(['a<|endoftext|>b'])).out).toBe('64 27 91 437 1659 5239 91 29 65\n');
    expect((await run(['--special', 'a<|endoftext|>b'])).out).toBe('64 50256 65\n');
  });

  it('encodes stdin exactly however it is chunked (incl. inside characters)', async () => {
    const expected = tok.encode(TEXT);
    for (const max of [1, 7, 4096]) {
      const r = await run(['--json'], chop(Buffer.from(TEXT), max));
      expect(JSON.parse(r.out).ids).toEqual(expected);
    }
    const plain = await run([], chop(Buffer.from(TEXT), 300));
    expect(plain.out).toBe(`${expected.join(' ')}\n`);
    expect((await run(['--count'], chop(Buffer.from(TEXT), 1000))).out).toBe(`${expected.length}\n`);
    const withSpecial = 'x<|endoftext|>y <|endoftext|>';
    expect((await run(['--special'], chop(Buffer.from(withSpecial), 3))).out).toBe(`${tok.encode(withSpecial, { allowedSpecial: 'all' }).join(' ')}\n`);
  });

  it('keeps the trailing newline and a BOM of piped input (the text is exact)', async () => {
    expect((await run([], 'hi\n')).out).toBe('5303 198\n');
    const bom = '\ufeffhi';
    expect((await run(['--json'], bom)).out).toBe(`{"ids":${JSON.stringify(tok.encode(bom))}}\n`);
  });

  it('round-trips through --decode', async () => {
    const text = '\ufeffHello, wörld 😀\r\n\tend\n';
    const ids = (await run([], chop(Buffer.from(text), 3))).out;
    expect((await run(['--decode'], ids)).out).toBe(text);
  });
});

describe('--decode', () => {
  it('reads ids as arguments, comma/space lists or a JSON array, and prints the exact text', async () => {
    expect((await run(['--decode', '15496', '995'])).out).toBe('Hello world');
    expect((await run(['--decode', '15496,995'])).out).toBe('Hello world');
    expect((await run(['--decode', '[15496, 995]'])).out).toBe('Hello world');
    expect((await run(['--decode'], '15496, 995\n')).out).toBe('Hello world');
    expect((await run(['--decode'], '[15496,\n 995]')).out).toBe('Hello world');
    expect((await run(['--decode', '--json', '50256'])).out).toBe('{"text":"<|endoftext|>"}\n');
    expect((await run(['--decode'], '')).out).toBe('');
  });

  it('rejects ids that are not token ids', async () => {
    expect(String((await run(['--decode', '15496 abc'])).err)).toMatch(/--decode: "abc" is not a token id/);
    expect(String((await run(['--decode', '[1, "2"]'])).err)).toMatch(/element 1 of the array is "2"/);
    expect(String((await run(['--decode', '[1, 2'])).err)).toMatch(/not a valid JSON array/);
    expect(String((await run(['--decode', '1 -5'])).err)).toMatch(/"-5" is not a token id/);
    const r = await run(['--decode', '1 50257']);
    expect(r.err).toBeInstanceOf(RangeError);
    expect(String(r.err)).toMatch(/token id 50257 at position 1 is out of range/);
  });
});

describe('--jsonl', () => {
  const lines = loadCases().map((c) => c.text);
  const input = lines.map((text) => JSON.stringify({ text })).join('\n') + '\n';

  it('writes one {"ids"} per line, in order, whatever the chunking', async () => {
    const expected = lines.map((t) => `{"ids":[${tok.encode(t).join(',')}]}\n`).join('');
    for (const max of [5, 1000, 1 << 16]) expect((await run(['--jsonl'], chop(Buffer.from(input), max))).out).toBe(expected);
  });

  it('handles CRLF, a last line without newline, a BOM, extra fields, --count and --special', async () => {
    const src = '\ufeff{"text":"a b"}\r\n{"text":"x<|endoftext|>y","id":7}';
    expect((await run(['--jsonl'], src)).out).toBe(`{"ids":[64,275]}\n{"ids":${JSON.stringify(tok.encode('x<|endoftext|>y'))}}\n`);
    expect((await run(['--jsonl', '--special'], src)).out).toBe('{"ids":[64,275]}\n{"ids":[87,50256,88]}\n');
    expect((await run(['--jsonl', '--count'], src)).out).toBe('{"count":2}\n{"count":9}\n');
    expect((await run(['--jsonl'], '')).out).toBe('');
  });

  it('stops at a malformed line with its number, after writing the lines before it', async () => {
    const good = '{"text":"a"}\n{"text":"b"}\n';
    const cases: Array<[string, RegExp]> = [
      ['{"text": "c"', /^line 3: not valid JSON \(/],
      ['{"txt": "c"}', /^line 3: no "text" field$/],
      ['{"text": 3}', /^line 3: "text" is not a string$/],
      ['["c"]', /^line 3: expected a JSON object like \{"text": "\.\.\."\}$/],
      ['', /^line 3: empty line/],
    ];
    for (const [bad, msg] of cases) {
      const r = await run(['--jsonl'], chop(Buffer.from(`${good}${bad}\n{"text":"d"}\n`), 4));
      expect(r.err).toBeInstanceOf(Error);
      expect(r.err).not.toBeInstanceOf(UsageError);
      expect((r.err as Error).message).toMatch(msg);
      expect((r.err as Error).message).not.toContain('\n');
      expect(r.out).toBe('{"ids":[64]}\n{"ids":[65]}\n');
    }
  });

  it('waits for a slow stdout instead of buffering the output', async () => {
    const many = Array.from({ length: 4000 }, (_, i) => JSON.stringify({ text: `${lines[i % lines.length]}` })).join('\n') + '\n';
    const r = await run(['--jsonl'], chop(Buffer.from(many), 1 << 14), 1);
    expect(r.err).toBe(null);
    expect(r.out.split('\n').length).toBe(4001);
    // at most about one 16 KB input chunk's output is ever queued in the stream
    expect(r.maxBuffered).toBeLessThan(200_000);
  });
});

describe('usage', () => {
  const usage: Array<[string[], string | null, RegExp]> = [
    [['--frobnicate', 'x'], null, /frobnicate/],
    [['--decode', '--count', '1'], null, /--decode cannot be combined with --count/],
    [['--decode', '--special', '1'], null, /--decode cannot be combined with --special/],
    [['--jsonl', 'text'], null, /--jsonl reads stdin; do not give TEXT/],
    [['two', 'words'], null, /expected one TEXT argument, got 2/],
    [[], null, /give TEXT, or pipe input on stdin/],
    [['--jsonl'], null, /--jsonl reads JSON lines from stdin/],
    [['--model'], null, /model/],
  ];
  for (const [argv, input, msg] of usage) {
    it(`rejects ${argv.join(' ') || '(no arguments, stdin a terminal)'}`, async () => {
      const r = await run(argv, input);
      expect(r.err).toBeInstanceOf(UsageError);
      expect((r.err as Error).message).toMatch(msg);
    });
  }

  it('has help text with examples', () => {
    expect(tokenizeCommand.name).toBe('tokenize');
    expect(tokenizeCommand.help).toMatch(/Examples:/);
    for (const flag of ['--decode', '--json', '--count', '--special', '--jsonl', '--model']) expect(tokenizeCommand.help).toContain(flag);
  });
});

describe('--model', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gpt2ts-tokcli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('uses a model folder\'s tokenizer files, else the default; a missing path is an error', async () => {
    const hf = join(dir, 'hf');
    mkdirSync(hf);
    copyFileSync(new URL('../weights/encoder.json', import.meta.url), join(hf, 'vocab.json'));
    copyFileSync(new URL('../weights/vocab.bpe', import.meta.url), join(hf, 'merges.txt'));
    expect((await run(['--model', hf, 'Hello world'])).out).toBe('15496 995\n');
    const bare = join(dir, 'bare');
    mkdirSync(bare);
    expect((await run(['--model', bare, 'Hello world'])).out).toBe('15496 995\n');
    const r = await run(['--model', join(dir, 'missing'), 'x']);
    expect(String(r.err)).toMatch(/model path not found/);
    expect(r.err).not.toBeInstanceOf(UsageError);
  });
});
