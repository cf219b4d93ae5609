// `gpt2ts generate`: text and id prompts, streaming, JSON, seeds, several sequences, bad flags.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.ts';
import { fixtureDir } from './helpers/fixtures.ts';
import { writeRandomModel } from './helpers/models.ts';

const tmp = mkdtempSync(join(tmpdir(), 'gpt2ts-gen-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const model = writeRandomModel(join(tmp, 'rand'));
const tiny = fixtureDir('gpt2-tiny');

interface GenJson { prompt_ids: number[]; prompt: string; seed: number; sequences: { ids: number[]; text: string }[] }

describe('gpt2ts generate', () => {
  it('continues a text prompt and prints prompt + continuation; the same seed repeats', async () => {
    const a = await runCli(['generate', 'My dream is', '--model', model, '--seed', '7', '--max-new-tokens', '12']);
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    expect(a.stdout.startsWith('My dream is')).toBe(true);
    expect(a.stdout.length).toBeGreaterThan('My dream is'.length + 1);
    const b = await runCli(['generate', 'My dream is', '--model', model, '--seed', '7', '--max-new-tokens', '12']);
    expect(b.stdout).toBe(a.stdout);
  });

  it('--json: ids and text agree with the streamed text', async () => {
    const j = await runCli(['generate', 'Hello', '--model', model, '--seed', '7', '--max-new-tokens', '8', '--json', '--no-stop']);
    const r = JSON.parse(j.stdout) as GenJson;
    expect(r.prompt_ids).toEqual([15496]);
    expect(r.seed).toBe(7);
    expect(r.sequences[0].ids).toHaveLength(8);
    const s = await runCli(['generate', 'Hello', '--model', model, '--seed', '7', '--max-new-tokens', '8', '--no-stop']);
    expect(s.stdout).toBe(`Hello${r.sequences[0].text}\n`);
  });

  it('-n 3 prints three sequences; --greedy is deterministic without a seed', async () => {
    const j = JSON.parse((await runCli(['generate', 'a', '--model', model, '-n', '3', '--max-new-tokens', '5', '--json', '--seed', '1'])).stdout) as GenJson;
    expect(j.sequences).toHaveLength(3);
    const g1 = await runCli(['generate', '--model', tiny, '--prompt-ids', '219,43,101', '--greedy', '--max-new-tokens', '6', '--json']);
    const g2 = await runCli(['generate', '--model', tiny, '--prompt-ids', '[219, 43, 101]', '--greedy', '--max-new-tokens', '6', '--json']);
    expect((JSON.parse(g1.stdout) as GenJson).sequences).toEqual((JSON.parse(g2.stdout) as GenJson).sequences);
  });

  const bad: [string, string[], number, RegExp][] = [
    ['temperature 0', ['--temperature', '0'], 2, /--temperature must be > 0/],
    ['top-p above 1', ['--top-p', '1.5'], 2, /--top-p must be > 0 and ≤ 1/],
    ['negative top-k', ['--top-k=-1'], 2, /--top-k must be between 0/],
    ['non-numeric max-new-tokens', ['--max-new-tokens', 'many'], 2, /--max-new-tokens must be an integer, got "many"/],
    ['prompt and ids', ['hi', '--prompt-ids', '1,2'], 2, /either a PROMPT or --prompt-ids/],
    ['greedy with temperature', ['--greedy', '--temperature', '0.7'], 2, /--temperature has no effect with --greedy/],
    ['greedy with -n', ['--greedy', '-n', '2'], 2, /-n > 1 needs sampling/],
    ['bad ids', ['--prompt-ids', '1,x'], 2, /"x" is not a token id/],
    ['id beyond the vocabulary', ['--prompt-ids', '50257'], 1, /prompt token id 50257 is outside the vocabulary \(0\.\.50256\)/],
    ['too long', ['--max-new-tokens', '64'], 1, /max_new_tokens 64 must be below n_positions 64/],
    ['two prompts', ['a', 'b'], 2, /give the prompt as one argument/],
  ];
  it.each(bad)('%s', async (_l, args, code, re) => {
    const r = await runCli(['generate', '--model', model, ...args]);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(re);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('the embedded default model: no --model, tweet-length text, special tokens never printed', async () => {
    for (const seed of ['1', '2', '3']) {
      const r = await runCli(['generate', 'My dream is', '--seed', seed]);
      expect(r.code).toBe(0);
      expect(r.stdout.startsWith('My dream is')).toBe(true);
      expect(r.stdout).not.toContain('<|endoftext|>');
      expect(r.stdout.trimEnd()).not.toContain('\n'); // cut at the first newline: one tweet
      const j = JSON.parse((await runCli(['generate', 'My dream is', '--seed', seed, '--json'])).stdout) as GenJson;
      expect(j.prompt_ids[0]).toBe(50256); // the huggingtweets <|endoftext|> prefix
      expect(j.sequences[0].text).not.toContain('<|endoftext|>');
      expect(r.stdout).toBe(`My dream is${j.sequences[0].text}\n`);
    }
  });

  it('text that the model vocabulary cannot hold is a clear error', async () => {
    const r = await runCli(['generate', 'hello', '--model', tiny]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/encodes to token id 31373, but this model's vocabulary has 512 tokens/);
  });
});
