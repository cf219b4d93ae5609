// A model's task_specific_params["text-generation"] (the huggingtweets defaults): the pure mapping from
// a config, the length arithmetic, and `gpt2ts generate` using them — the <|endoftext|> prefix,
// min/max length counted with the prompt, the newline cut — with --no-prefix / --no-cut /
// --no-task-defaults to turn them off, from a safetensors folder and from a pytorch_model.bin one.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeConfig } from '../src/config.ts';
import { cutAtFirstNewline, newTokenLimits, taskDefaults } from '../src/generate/task-defaults.ts';
import { SafetensorsFile, type TensorToWrite, writeSafetensors } from '../src/io/safetensors.ts';
import { runCli } from './helpers/cli.ts';
import { writeRandomModel } from './helpers/models.ts';

const tmp = mkdtempSync(join(tmpdir(), 'gpt2ts-task-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** what huggingtweets models carry in config.json */
const HUGGINGTWEETS = { 'text-generation': { do_sample: true, max_length: 160, min_length: 10, prefix: '<|endoftext|>', temperature: 1.0, top_p: 0.95 } };
const EOT = 50256, NEWLINE = 198;

describe('taskDefaults (pure)', () => {
  it('huggingtweets: prefix, sampling, lengths and the newline cut', () => {
    expect(taskDefaults(makeConfig({ taskSpecificParams: HUGGINGTWEETS }))).toEqual({
      source: 'task_specific_params["text-generation"]', doSample: true, temperature: 1, topP: 0.95,
      maxLength: 160, minLength: 10, prefix: '<|endoftext|>', cutAtNewline: true,
    });
  });

  it("GPT-2's own config (do_sample, max_length 50, no prefix) is not cut; no params gives null", () => {
    expect(taskDefaults(makeConfig({ taskSpecificParams: { 'text-generation': { do_sample: true, max_length: 50 } } })))
      .toEqual({ source: 'task_specific_params["text-generation"]', doSample: true, maxLength: 50, cutAtNewline: false });
    expect(taskDefaults(makeConfig())).toBeNull();
    expect(taskDefaults(makeConfig({ taskSpecificParams: { summarization: { max_length: 5 } } }))).toBeNull();
  });

  it.each([
    [{ top_p: 1.5 }, /top_p must be in \(0, 1\], got 1\.5/],
    [{ temperature: 0 }, /temperature must be a positive number/],
    [{ max_length: '160' }, /max_length must be an integer ≥ 1, got "160"/],
    [{ do_sample: 'yes' }, /do_sample must be true or false/],
    [{ prefix: 3 }, /prefix must be a string/],
  ])('rejects %j', (params, re) => {
    expect(() => taskDefaults(makeConfig({ taskSpecificParams: { 'text-generation': params } }))).toThrow(re);
  });

  it('newTokenLimits counts the prompt (prefix included) in max_length and min_length, within n_positions', () => {
    const d = taskDefaults(makeConfig({ taskSpecificParams: HUGGINGTWEETS }));
    expect(newTokenLimits(d, 4, 1024)).toEqual({ maxNewTokens: 156, minNewTokens: 6 });
    expect(newTokenLimits(d, 12, 1024)).toEqual({ maxNewTokens: 148, minNewTokens: 0 });
    expect(newTokenLimits(d, 4, 64)).toEqual({ maxNewTokens: 60, minNewTokens: 6 });
    expect(newTokenLimits(d, 200, 1024)).toEqual({ maxNewTokens: 1, minNewTokens: 0 });
    expect(newTokenLimits(null, 4, 1024)).toEqual({ maxNewTokens: 50, minNewTokens: 0 });
    expect(newTokenLimits({ source: 's', cutAtNewline: false, maxLength: 10, maxNewTokens: 7 }, 4, 1024).maxNewTokens).toBe(7);
  });

  it('cutAtFirstNewline', () => {
    expect(cutAtFirstNewline(' hello world\nsecond\nthird')).toBe(' hello world');
    expect(cutAtFirstNewline('\nx')).toBe('');
    expect(cutAtFirstNewline('no newline')).toBe('no newline');
  });
});

/** a random full-vocabulary model with huggingtweets' config.json; `newlines`: the model always says "\n" */
function huggingtweetsModel(name: string, newlines = false): string {
  const dir = writeRandomModel(join(tmp, name), { taskSpecificParams: HUGGINGTWEETS, nPositions: 64 }, 3);
  if (newlines) {
    // ln_f outputs the constant v (weight 0, bias v), and wte[198] = 10 v: the "\n" logit dominates
    const f = SafetensorsFile.open(join(dir, 'model.safetensors'));
    const t: Record<string, TensorToWrite> = {};
    for (const n of f.names()) t[n] = { dtype: 'F32', shape: f.info(n).shape, data: f.readF32(n).slice() };
    f.close();
    const C = t['ln_f.bias'].shape[0];
    const v = Float32Array.from({ length: C }, (_, i) => (i % 2 ? 1 : -1));
    (t['ln_f.weight'].data as Float32Array).fill(0);
    (t['ln_f.bias'].data as Float32Array).set(v);
    (t['wte.weight'].data as Float32Array).set(v.map((x) => 10 * x), NEWLINE * C);
    writeSafetensors(join(dir, 'model.safetensors'), t, { format: 'pt' });
  }
  return dir;
}

interface GenJson { prompt_ids: number[]; prompt: string; task_defaults?: { source: string; prefix: boolean; cut: boolean }; sequences: { ids: number[]; text: string }[] }

async function gen(args: string[]): Promise<GenJson> {
  const r = await runCli(['generate', ...args, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as GenJson;
}

describe('gpt2ts generate with a huggingtweets-like model', () => {
  const dir = huggingtweetsModel('ht');
  const nl = huggingtweetsModel('ht-newline', true);

  it('puts <|endoftext|> before the prompt, hides it in the text, and counts it in the lengths', async () => {
    const j = await gen(['My dream is', '--model', dir, '--seed', '1', '-n', '4']);
    expect(j.prompt_ids[0]).toBe(EOT);
    expect(j.prompt).toBe('My dream is');
    expect(j.task_defaults).toEqual({ source: 'task_specific_params["text-generation"]', prefix: true, cut: true });
    const promptLen = j.prompt_ids.length;
    for (const s of j.sequences) {
      // max_length 160, clipped by n_positions 64; min_length 10: no eos before 10 - promptLen new tokens
      expect(s.ids.length).toBeLessThanOrEqual(64 - promptLen);
      expect(s.ids.slice(0, 10 - promptLen)).not.toContain(EOT);
      expect(s.text).not.toContain('\n');
    }
  });

  it('--no-prefix and --no-task-defaults', async () => {
    const a = await gen(['My dream is', '--model', dir, '--seed', '1', '--no-prefix']);
    expect(a.prompt_ids[0]).not.toBe(EOT);
    expect(a.task_defaults?.prefix).toBe(false);
    const b = await gen(['My dream is', '--model', dir, '--seed', '1', '--no-task-defaults']);
    expect(b.task_defaults).toBeUndefined();
    expect(b.prompt_ids[0]).not.toBe(EOT);
    expect(b.sequences[0].ids.length).toBeLessThanOrEqual(50); // the usual default, not max_length
  });

  it('cuts each sample at its first newline (streamed and --json); --no-cut keeps it', async () => {
    const streamed = await runCli(['generate', 'My dream is', '--model', nl, '--seed', '2', '--max-new-tokens', '5']);
    expect(streamed.code, streamed.stderr).toBe(0);
    expect(streamed.stdout).toBe('My dream is\n');
    const cut = await gen(['My dream is', '--model', nl, '--seed', '2', '--max-new-tokens', '5']);
    expect(cut.sequences[0].ids[0]).toBe(NEWLINE);
    expect(cut.sequences[0].text).toBe('');
    const kept = await gen(['My dream is', '--model', nl, '--seed', '2', '--max-new-tokens', '5', '--no-cut']);
    expect(kept.sequences[0].text.startsWith('\n')).toBe(true);
    const keptStream = await runCli(['generate', 'My dream is', '--model', nl, '--seed', '2', '--max-new-tokens', '5', '--no-cut']);
    expect(keptStream.stdout.startsWith('My dream is\n')).toBe(true);
    expect(keptStream.stdout.length).toBeGreaterThan('My dream is\n'.length);
  });

  it('explicit flags win over the model defaults', async () => {
    const j = await gen(['My dream is', '--model', dir, '--seed', '1', '--max-new-tokens', '3', '--greedy']);
    expect(j.sequences[0].ids).toHaveLength(3);
  });

  const PY = '/usr/bin/python3';
  const hasTorch = spawnSync(PY, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
  it.skipIf(!hasTorch)('a pytorch_model.bin folder (saved by torch) generates exactly like the safetensors folder', async () => {
    const binDir = join(tmp, 'ht-bin');
    // torch.save of the same weights, GPT2LMHeadModel names, tied lm_head, with the same config.json
    const script = `
import sys, json, collections, torch
sys.path.insert(0, ${JSON.stringify(join(import.meta.dirname, 'oracle'))})
from gpt2_reference import read_safetensors
src, dst = sys.argv[1], sys.argv[2]
w, _, _ = read_safetensors(src + "/model.safetensors")
sd = collections.OrderedDict(("transformer." + k, torch.from_numpy(v.copy())) for k, v in w.items())
sd["lm_head.weight"] = sd["transformer.wte.weight"]
import os; os.makedirs(dst, exist_ok=True)
torch.save(sd, dst + "/pytorch_model.bin")
open(dst + "/config.json", "w").write(open(src + "/config.json").read())
`;
    const py = spawnSync(PY, ['-c', script, dir, binDir], { encoding: 'utf8' });
    expect(py.status, py.stderr).toBe(0);
    const args = ['My dream is', '--seed', '7', '-n', '3'];
    expect(await gen([...args, '--model', binDir])).toEqual(await gen([...args, '--model', dir]));
  });
});
