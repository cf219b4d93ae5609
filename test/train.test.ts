// The fine-tuner end to end: a Hugging Face folder with card and loss curve; bit-exact resume after
// a killed process and after Ctrl-C; a clear stop on a non-finite loss; bad inputs.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeConfig } from '../src/config.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { loadModelFiles } from '../src/io/model.ts';
import { GPT2Model } from '../src/model/model.ts';
import { Params, randomParams } from '../src/params.ts';
import { TRAIN_DEFAULTS, blockOrder, runTraining } from '../src/train/trainer.ts';
import { repoRoot, runCli } from './helpers/cli.ts';
import { expectClose, fixtureDir } from './helpers/fixtures.ts';
import { writeRandomModel } from './helpers/models.ts';

const tmp = mkdtempSync(join(tmpdir(), 'gpt2ts-train-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const base = writeRandomModel(join(tmp, 'base'), { nEmbd: 16, nHead: 2, nPositions: 32 });
// two small archives (JSONL) cut from the fixtures: enough for the 6000-character minimum
const data = ['unixsage', 'grandmasaid'].map((u) => {
  const lines = readFileSync(join(fixtureDir('tweets'), u, 'tweets.jsonl'), 'utf8').split('\n').slice(0, 70);
  const d = join(tmp, 'data', u);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, 'tweets.jsonl'), lines.join('\n') + '\n');
  return join(d, 'tweets.jsonl');
});
const common = ['--data', ...data, '--model', base, '--epochs', '1', '--block-size', '16', '--batch-size', '2', '--lr', '1e-3', '--seed', '3'];

/** the real CLI as a child process (signals need a process) */
function spawnTrain(args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), 'train', ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
}
const exited = (p: ChildProcess): Promise<number | null> => new Promise((r) => p.on('exit', (code, sig) => r(code ?? (sig ? -1 : null))));
async function waitFor(cond: () => boolean, ms = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
const bytes = (dir: string, step: number, f: string): Buffer => readFileSync(join(dir, `checkpoint-${step}`, f));

describe('gpt2ts train', () => {
  it('writes a Hugging Face folder: config with generation defaults, weights, tokenizer, card, loss curve, log', async () => {
    const out = join(tmp, 'full');
    const r = await runCli(['train', ...common, '--out', out, '--validation', '0.2', '--block-size', '32', '--batch-size', '4']);
    expect(r.stderr).toMatch(/unixsage: 70 tweets, \d+ retweets, \d+ short, \d+ kept/);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^trained \d+ steps/);
    for (const f of ['config.json', 'model.safetensors', 'encoder.json', 'vocab.bpe', 'README.md', 'loss.svg', 'trainer_log.jsonl']) expect(existsSync(join(out, f)), f).toBe(true);
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as { task_specific_params: { 'text-generation': Record<string, unknown> } };
    expect(cfg.task_specific_params['text-generation']).toEqual({ do_sample: true, max_length: 160, min_length: 10, prefix: '<|endoftext|>', temperature: 1.0, top_p: 0.95 });
    const card = readFileSync(join(out, 'README.md'), 'utf8');
    expect(card).toMatch(/Tweets downloaded \| 70 +\| 70 +\|/);
    expect(card).toContain('![training and validation loss](loss.svg)');
    expect(readFileSync(join(out, 'loss.svg'), 'utf8')).toMatch(/^<svg[^>]*>[\s\S]*polyline[\s\S]*<\/svg>\n$/);
    const log = readFileSync(join(out, 'trainer_log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number>);
    const steps = log.filter((l) => 'loss' in l);
    expect(steps.map((l) => l.step)).toEqual(steps.map((_, i) => i + 1));
    expect(log.some((l) => 'eval_loss' in l)).toBe(true);
    expect(loadModelFiles(out).params.count).toBe(loadModelFiles(base).params.count);
    const g = await runCli(['generate', 'My dream is', '--model', out, '--max-new-tokens', '5', '--seed', '1']);
    expect(g.code).toBe(0);
    // the folder loads in the PyTorch oracle's reader and gives our logits (float64 reference)
    const ids = [[50256, 3666, 4320, 318, 257, 1332]];
    const ours = (await new GPT2Model(new CpuBackend(), loadModelFiles(out).params).forward(ids)).logits;
    const bin = join(tmp, 'oracle-logits.bin');
    const py = spawnSync('/usr/bin/python3', ['-c', `
import json, sys, torch
sys.path.insert(0, ${JSON.stringify(join(repoRoot, 'test/oracle'))})
from gpt2_reference import read_safetensors, forward
t, _, _ = read_safetensors(${JSON.stringify(join(out, 'model.safetensors'))})
cfg = json.load(open(${JSON.stringify(join(out, 'config.json'))}))
p = {k: torch.from_numpy(v).double() for k, v in t.items()}
forward(p, cfg, torch.tensor(${JSON.stringify(ids)}))['logits'].float().numpy().astype('<f4').tofile(${JSON.stringify(bin)})
`], { encoding: 'utf8' });
    expect(py.stderr).toBe('');
    const ref = new Float32Array(readFileSync(bin).buffer.slice(0));
    expectClose(ours, ref, 1e-4, 0, 'logits of the trained folder vs the PyTorch oracle');
  });

  it('resume after a killed process is bit-exact: 6 steps straight = 3 steps + kill + 3 resumed', async () => {
    const a = join(tmp, 'straight'), b = join(tmp, 'killed');
    expect((await runCli(['train', ...common, '--out', a, '--max-steps', '6'])).code).toBe(0);
    const p = spawnTrain([...common, '--out', b, '--max-steps', '6', '--save-every', '3']);
    await waitFor(() => existsSync(join(b, 'checkpoint-3', 'trainer_state.json')));
    p.kill('SIGKILL');
    await exited(p);
    expect(existsSync(join(b, 'checkpoint-6')), 'the process finished before it was killed').toBe(false);
    const r = await runCli(['train', ...common, '--out', b, '--max-steps', '6', '--resume']);
    expect(r.code).toBe(0);
    expect(bytes(b, 6, 'model.safetensors').equals(bytes(a, 6, 'model.safetensors'))).toBe(true);
    expect(bytes(b, 6, 'optimizer.safetensors').equals(bytes(a, 6, 'optimizer.safetensors'))).toBe(true);
    expect(readdirSync(b).filter((f) => f.includes('.tmp'))).toEqual([]);
  });

  it('Ctrl-C saves a checkpoint and exits 130; resuming finishes the same run', async () => {
    const a = join(tmp, 'straight'), c = join(tmp, 'sigint');
    const p = spawnTrain([...common, '--out', c, '--max-steps', '6']);
    let log = '';
    p.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    await waitFor(() => existsSync(join(c, 'trainer_log.jsonl')) && readFileSync(join(c, 'trainer_log.jsonl'), 'utf8').includes('"step":2'));
    p.kill('SIGINT');
    expect(await exited(p)).toBe(130);
    expect(log).toMatch(/interrupted at step (\d); saved .*checkpoint-\1 \(continue with --resume\)/);
    expect((await runCli(['train', ...common, '--out', c, '--max-steps', '6', '--resume'])).code).toBe(0);
    expect(bytes(c, 6, 'model.safetensors').equals(bytes(a, 6, 'model.safetensors'))).toBe(true);
  });

  it('a non-finite loss stops with a clear message and keeps the last good checkpoint', async () => {
    // token 7's input embedding is NaN (the lm-head is a separate matrix, so only blocks holding
    // token 7 are affected); the block holding it is the 5th in the seeded order
    const cfg = makeConfig({ vocabSize: 50, nPositions: 16, nEmbd: 8, nLayer: 1, nHead: 2, tieWordEmbeddings: false });
    const tied = randomParams(cfg, 1);
    const params = new Params(cfg, true);
    for (const s of tied.specs) params.view(s.name).set(tied.view(s.name));
    params.view('lm_head.weight').set(tied.view('wte.weight'));
    params.view('wte.weight').fill(NaN, 7 * 8, 8 * 8);
    const order = blockOrder(10, 5);
    const train = Array.from({ length: 10 }, (_, i) => Int32Array.from({ length: 8 }, (_, t) => (i === order[4] && t === 3 ? 7 : (i + t) % 7)));
    const dir = join(tmp, 'nan');
    const run = runTraining({ dir, params, train, validation: null, resume: false, identity: {}, settings: { ...TRAIN_DEFAULTS, seed: 5, saveEvery: 1, dropout: 0 } });
    await expect(run).rejects.toThrow(/^training stopped at step 5: non-finite loss \(loss NaN.*\); parameters not updated; the last good checkpoint is .*checkpoint-4$/);
    expect(readdirSync(dir).filter((f) => f.startsWith('checkpoint-')).sort()).toEqual(['checkpoint-3', 'checkpoint-4']);
    expect(readFileSync(join(dir, 'checkpoint-4', 'trainer_state.json'), 'utf8')).toMatch(/"step": 4/);
  });

  const bad: [string, string[], number, RegExp][] = [
    ['no data', ['--out', 'x'], 2, /--data is required/],
    ['no out', ['--data', 'a.js'], 2, /--out is required/],
    ['webgpu', ['--data', 'a.js', '--out', 'x', '--backend', 'webgpu'], 2, /training runs on the cpu backend only/],
    ['bad schedule', ['--data', 'a.js', '--out', 'x', '--schedule', 'step'], 2, /--schedule must be one of constant, linear, cosine/],
    ['missing file', ['--data', '/nonexistent/tweets.js', '--out', join(tmp, 'm'), '--model', base], 1, /nonexistent\/tweets\.js/],
    ['resume without checkpoint', [...common, '--out', join(tmp, 'empty'), '--resume'], 1, /--resume: no checkpoint in/],
    ['resume with other settings', [...common.slice(0, -2), '--seed', '4', '--out', join(tmp, 'straight'), '--resume'], 1, /different settings \(.*seed.*\)/],
  ];
  it.each(bad)('%s', async (_l, args, code, re) => {
    const r = await runCli(['train', ...args]);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(re);
    expect(r.stderr.trim().split('\n').filter((l) => l.startsWith('gpt2ts:'))).toHaveLength(1);
  });
});
