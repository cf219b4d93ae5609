// Loading Hugging Face GPT-2 files: folders, shards, single files with and without config.json,
// the quirks of real checkpoints, and a clear error for each kind of broken model.

import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configToHF } from '../src/config.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { inferConfig, loadModelFiles } from '../src/io/model.ts';
import { SafetensorsFile, type TensorToWrite, writeSafetensors } from '../src/io/safetensors.ts';
import { GPT2Model } from '../src/model/model.ts';
import { expectClose, fixtureDir, fixtureExpected, fixtureInputs } from './helpers/fixtures.ts';

const tmp = mkdtempSync(join(tmpdir(), 'gpt2ts-load-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const tiny = fixtureDir('gpt2-tiny');
const exp = fixtureExpected('gpt2-tiny');
const ids = fixtureInputs('gpt2-tiny').input_ids;

/** the tiny model's tensors, as a writable record */
function tinyTensors(): Record<string, TensorToWrite> {
  const f = SafetensorsFile.open(tiny + 'model.safetensors');
  const out: Record<string, TensorToWrite> = {};
  for (const n of f.names()) out[n] = { dtype: 'F32', shape: f.info(n).shape, data: f.readF32(n) };
  f.close();
  return out;
}

let dirCount = 0;
/** a fresh folder with these tensors (and the tiny config.json unless config is null) */
function folder(tensors: Record<string, TensorToWrite>, config: object | null = JSON.parse(JSON.stringify(configToHF(loadModelFiles(tiny).config)))): string {
  const dir = join(tmp, `m${dirCount++}`);
  mkdirSync(dir);
  writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  if (config) writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

async function logitsOf(path: string): Promise<Float32Array> {
  const { params } = loadModelFiles(path);
  return (await new GPT2Model(new CpuBackend(), params).forward(ids)).logits;
}

describe('model paths', () => {
  it('a folder, the .safetensors file inside it, and a file without config.json (shapes inferred) agree', async () => {
    const want = exp.readF32('logits');
    expectClose(await logitsOf(tiny), want, 1e-4, 0, 'folder');
    expectClose(await logitsOf(tiny + 'model.safetensors'), want, 1e-4, 0, 'file');
    const lone = join(tmp, 'lone');
    mkdirSync(lone);
    copyFileSync(tiny + 'model.safetensors', join(lone, 'weights.safetensors'));
    const loaded = loadModelFiles(join(lone, 'weights.safetensors'));
    expect(loaded.source.configFrom).toBe('inferred from tensor shapes');
    // C = 64 is not a GPT-2 family width: n_head = C / 64 = 1, so inference gives a different model;
    // with the head count known, the inferred shape is right
    expect([loaded.config.vocabSize, loaded.config.nPositions, loaded.config.nEmbd, loaded.config.nLayer]).toEqual([512, 64, 64, 2]);
  });

  it('inferConfig uses the GPT-2 family head counts', () => {
    const shapes = new Map<string, number[]>([['wte.weight', [50257, 768]], ['wpe.weight', [1024, 768]], ['h.0.ln_1.weight', [768]], ['h.1.ln_1.weight', [768]], ['h.0.mlp.c_fc.weight', [768, 3072]]]);
    const c = inferConfig(shapes, 'x');
    expect([c.nHead, c.nLayer, c.nInner, c.vocabSize, c.nPositions]).toEqual([12, 2, 3072, 50257, 1024]);
    expect(() => inferConfig(new Map([['wte.weight', [10, 30]], ['wpe.weight', [8, 30]], ['h.0.ln_1.weight', [30]], ['h.0.mlp.c_fc.weight', [30, 120]]]), 'x.safetensors'))
      .toThrow(/cannot infer n_head for n_embd 30; put a config.json next to the weights/);
  });

  it('sharded: model.safetensors.index.json and its shards', async () => {
    const t = tinyTensors();
    const dir = join(tmp, 'sharded');
    mkdirSync(dir);
    const names = Object.keys(t).sort();
    const half = Math.ceil(names.length / 2);
    const shards = [names.slice(0, half), names.slice(half)];
    const weightMap: Record<string, string> = {};
    shards.forEach((group, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      writeSafetensors(join(dir, file), Object.fromEntries(group.map((n) => [n, t[n]])));
      for (const n of group) weightMap[n] = file;
    });
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
    copyFileSync(tiny + 'config.json', join(dir, 'config.json'));
    expectClose(await logitsOf(dir), exp.readF32('logits'), 1e-4, 0, 'sharded');
    expect(loadModelFiles(dir).source.files).toHaveLength(2);
  });
});

describe('quirks of real GPT-2 files', () => {
  it('transformer. prefix, attn.masked_bias scalars and an lm_head.weight equal to wte', async () => {
    const t = tinyTensors();
    const q: Record<string, TensorToWrite> = {};
    for (const [n, v] of Object.entries(t)) q[`transformer.${n}`] = v;
    q['transformer.h.0.attn.masked_bias'] = { dtype: 'F32', shape: [], data: Float32Array.of(-1e4) };
    q['transformer.h.1.attn.masked_bias'] = { dtype: 'F32', shape: [], data: Float32Array.of(-1e4) };
    q['lm_head.weight'] = t['wte.weight'];
    const dir = folder(q);
    const loaded = loadModelFiles(dir);
    expect(loaded.params.untiedHead).toBe(false);
    expect(loaded.source.lmHeadTied).toBe(true);
    expect(loaded.source.ignored.sort()).toEqual(['transformer.h.0.attn.masked_bias', 'transformer.h.1.attn.masked_bias']);
    expectClose(await logitsOf(dir), exp.readF32('logits'), 1e-4, 0, 'prefixed');
  });

  it('an lm_head.weight that differs from wte is its own matrix', async () => {
    const t = tinyTensors();
    const wte = t['wte.weight'].data as Float32Array;
    const head = wte.map((x, i) => x * (1 + (i % 7) / 10));
    const dir = folder({ ...t, 'lm_head.weight': { dtype: 'F32', shape: [512, 64], data: head } });
    const { params } = loadModelFiles(dir);
    expect(params.untiedHead).toBe(true);
    expect(params.config.tieWordEmbeddings).toBe(false);
    const out = await new GPT2Model(new CpuBackend(), params).forward(ids);
    // logits = ln_f(x) · lm_headᵀ, with ln_f unchanged (the head is only used at the end)
    const lnf = exp.readF32('hidden.ln_f');
    const N = lnf.length / 64;
    const want = new Float64Array(N * 512);
    for (let r = 0; r < N; r++) for (let v = 0; v < 512; v++) {
      let s = 0;
      for (let k = 0; k < 64; k++) s += lnf[r * 64 + k] * head[v * 64 + k];
      want[r * 512 + v] = s;
    }
    expectClose(out.logits, want, 1e-4, 0, 'untied head logits');
  });
});

describe('broken models: one clear error each', () => {
  const t = tinyTensors();
  const without = (name: string): Record<string, TensorToWrite> => Object.fromEntries(Object.entries(t).filter(([n]) => n !== name));
  const cfg = (over: object): object => ({ ...JSON.parse(JSON.stringify(configToHF(loadModelFiles(tiny).config))), ...over });
  const cases: [string, () => string, RegExp][] = [
    ['missing tensor', () => folder(without('h.1.mlp.c_fc.bias')), /missing tensor "h\.1\.mlp\.c_fc\.bias" \(expected shape \[256\]\)/],
    ['wrong shape', () => folder({ ...t, 'h.0.attn.c_attn.bias': { dtype: 'F32', shape: [190], data: new Float32Array(190) } }), /"h\.0\.attn\.c_attn\.bias" has shape \[190\], the config expects \[192\]/],
    ['config disagrees with the weights', () => folder(t, cfg({ n_embd: 128 })), /"wte\.weight" has shape \[512, 64\], the config expects \[512, 128\]/],
    ['integer weights', () => folder({ ...t, 'ln_f.bias': { dtype: 'I32', shape: [64], data: new Int32Array(64) } }), /"ln_f\.bias" has dtype I32; weights must be F32, F16, BF16 or F64/],
    ['unexpected tensor', () => folder({ ...t, 'h.2.ln_1.weight': { dtype: 'F32', shape: [64], data: new Float32Array(64) } }), /unexpected tensor "h\.2\.ln_1\.weight" for a GPT-2 with 2 layers/],
    ['n_embd not divisible by n_head', () => folder(t, cfg({ n_head: 5 })), /n_embd \(64\) must be divisible by n_head \(5\)/],
    ['unsupported activation', () => folder(t, cfg({ activation_function: 'relu' })), /activation_function "relu" is not supported/],
    ['not gpt2', () => folder(t, cfg({ model_type: 'llama' })), /model_type is "llama", only "gpt2" is supported/],
    ['config not JSON', () => { const d = folder(t); writeFileSync(join(d, 'config.json'), '{'); return d; }, /config\.json: not valid JSON/],
    ['folder without weights', () => { const d = join(tmp, `empty${dirCount++}`); mkdirSync(d); return d; }, /has no model\.safetensors or model\.safetensors\.index\.json/],
    ['not a safetensors file', () => { const p = join(tmp, 'x.bin'); writeFileSync(p, 'hello'); return p; }, /neither a folder nor a \.safetensors file/],
    ['truncated file', () => {
      const d = folder(t);
      const p = join(d, 'model.safetensors');
      writeFileSync(p, readFileSync(p).subarray(0, 3000));
      return d;
    }, /model\.safetensors: tensor "[^"]+": .*truncated file\?/],
    ['index points at a missing shard', () => {
      const d = join(tmp, `idx${dirCount++}`);
      mkdirSync(d);
      writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'wte.weight': 'model-00001-of-00002.safetensors' } }));
      return d;
    }, /shard model-00001-of-00002\.safetensors is missing/],
    ['index escapes the folder', () => {
      const d = join(tmp, `idx${dirCount++}`);
      mkdirSync(d);
      writeFileSync(join(d, 'model.safetensors.index.json'), JSON.stringify({ weight_map: { 'wte.weight': '../x.safetensors' } }));
      return d;
    }, /must be a file name in the same folder/],
  ];
  it.each(cases)('%s', (_label, make, re) => {
    const path = make();
    expect(() => loadModelFiles(path)).toThrow(re);
  });
});
