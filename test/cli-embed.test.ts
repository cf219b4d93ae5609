// `gpt2ts embed`: arguments, stdin lines, JSONL, --out safetensors, errors with nothing left behind.

import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../src/io/safetensors.ts';
import { loadModel } from '../src/model/model.ts';
import { runCli } from './helpers/cli.ts';
import { expectClose } from './helpers/fixtures.ts';
import { writeRandomModel } from './helpers/models.ts';

const tmp = mkdtempSync(join(tmpdir(), 'gpt2ts-embcli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const model = writeRandomModel(join(tmp, 'rand'));
const texts = ['the first text', '', 'a much longer second text, with more tokens in it', 'x'];

interface Line { index: number; tokens: number; embedding: number[] }

describe('gpt2ts embed', () => {
  it('arguments, stdin lines and JSONL give the same vectors as the API, in input order', async () => {
    const api = await loadModel(model);
    const want = await api.embed(texts, { normalize: true });
    api.dispose();
    const viaArgs = await runCli(['embed', ...texts, '--model', model, '--normalize', '--batch-size', '2']);
    const viaLines = await runCli(['embed', '--model', model, '--normalize'], texts.join('\n') + '\n');
    const viaJsonl = await runCli(['embed', '--model', model, '--normalize', '--jsonl'], texts.map((t) => JSON.stringify({ text: t })).join('\n'));
    for (const r of [viaArgs, viaLines, viaJsonl]) {
      expect(r.stderr).toBe('');
      const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Line);
      expect(lines.map((l) => l.index)).toEqual([0, 1, 2, 3]);
      expect(lines[1].tokens).toBe(1);
      expectClose(Float32Array.from(lines.flatMap((l) => l.embedding)), want.data, 1e-6, 0, 'cli vs api');
    }
  });

  it('--out writes a safetensors file (pooled, and ragged for pooling none)', async () => {
    const out = join(tmp, 'v.safetensors');
    const r = await runCli(['embed', ...texts, '--model', model, '--out', out, '--pooling', 'last']);
    expect(r.code).toBe(0);
    const f = SafetensorsFile.open(out);
    expect(f.info('embeddings').shape).toEqual([4, 32]);
    const api = await loadModel(model);
    expectClose(f.readF32('embeddings'), (await api.embed(texts, { pooling: 'last' })).data, 1e-6, 0, 'last');
    f.close();
    const out2 = join(tmp, 'tokens.safetensors');
    await runCli(['embed', ...texts, '--model', model, '--out', out2, '--pooling', 'none']);
    const g = SafetensorsFile.open(out2);
    const lengths = Array.from(g.read('lengths') as BigInt64Array, Number);
    const none = await api.embed(texts, { pooling: 'none' });
    expect(lengths).toEqual(none.lengths);
    const rows = (none.toArray() as number[][][]).flat(2);
    expect(g.info('embeddings').shape).toEqual([lengths.reduce((a, b) => a + b, 0), 32]);
    expectClose(g.readF32('embeddings'), rows, 1e-6, 0, 'none');
    g.close();
    api.dispose();
  });

  it('a malformed JSONL line is named and nothing is left behind', async () => {
    const out = join(tmp, 'bad.safetensors');
    const r = await runCli(['embed', '--model', model, '--jsonl', '--out', out], '{"text": "ok"}\n{"text": 5}\n');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('gpt2ts: line 2: "text" must be a string, got 5\n');
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(tmp).filter((f) => f.includes('.tmp'))).toEqual([]);
    const j = await runCli(['embed', '--model', model, '--jsonl'], '{"text": "ok"}\n{"text": \n');
    expect(j.stderr).toMatch(/^gpt2ts: line 2: not valid JSON/);
  });

  const bad: [string, string[], RegExp][] = [
    ['bad pooling', ['--pooling', 'max', 'a'], /--pooling must be one of mean, last, first, none/],
    ['bad layer', ['--layer', 'top', 'a'], /--layer must be ln_f or an integer/],
    ['bad --out', ['--out', 'v.json', 'a'], /--out must end in \.safetensors/],
    ['zero batch', ['--batch-size', '0', 'a'], /--batch-size must be between 1 and 4096/],
    ['jsonl with args', ['--jsonl', 'a'], /--jsonl reads stdin/],
  ];
  it.each(bad)('%s', async (_l, args, re) => {
    const r = await runCli(['embed', '--model', model, ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(re);
  });

  it('a text beyond n_positions names its input position; --truncate cuts it', async () => {
    const long = 'word '.repeat(99) + 'word';
    const r = await runCli(['embed', 'short', long, '--model', model]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/text 2 has 100 tokens, more than n_positions 64/);
    const t = await runCli(['embed', 'short', long, '--model', model, '--truncate']);
    expect(t.code).toBe(0);
    expect((JSON.parse(t.stdout.trim().split('\n')[1]) as Line).tokens).toBe(64);
  });
});
