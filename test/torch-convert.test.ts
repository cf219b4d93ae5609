// `gpt2ts convert IN OUT.safetensors`: the output loads in our loader with the same parameters, and in
// Python (the oracle's safetensors reader, test/oracle/gpt2_reference.py) with every tensor bitwise equal
// to what torch.load gives for the input .bin, under GPT2LMHeadModel's names.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { configToHF } from '../src/config.ts';
import { loadModelFiles } from '../src/io/model.ts';
import { SafetensorsFile, f16BitsToF32, f32ToF16Bits } from '../src/io/safetensors.ts';
import { runCli } from './helpers/cli.ts';
import { fixtureDir } from './helpers/fixtures.ts';

const TORCH = fixtureDir('torch');
const ORACLE = join(import.meta.dirname, 'oracle');
const PY = '/usr/bin/python3';
const hasTorch = spawnSync(PY, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
const tmp = mkdtempSync(join(tmpdir(), 'gpt2ts-convert-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const same = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
let n = 0;
const outDir = () => {
  const d = join(tmp, `o${n++}`);
  mkdirSync(d);
  return d;
};

async function convert(input: string, output: string, ...flags: string[]): Promise<string> {
  const r = await runCli(['convert', input, output, ...flags]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout;
}

describe('gpt2ts convert', () => {
  it.each(['gpt2-tiny-zip', 'gpt2-tiny-legacy', 'gpt2-tiny-untied-legacy', 'odd-3head-zip', 'gpt2-tiny-sharded'])('%s → safetensors with the same parameters', async (name) => {
    const src = join(TORCH, name);
    const out = join(outDir(), 'model.safetensors');
    const said = await convert(src, out);
    expect(said).toMatch(/model\.safetensors \(\d+ tensors, [\d,]+ parameters, f32, (separate lm_head|lm_head tied to wte)\); also wrote config\.json/);
    const a = loadModelFiles(src), b = loadModelFiles(out);
    expect(same(a.params.data, b.params.data)).toBe(true);
    expect(b.params.untiedHead).toBe(a.params.untiedHead);
    expect(b.source.configFrom).toBe(join(out, '..', 'config.json'));
    expect(JSON.parse(readFileSync(join(out, '..', 'config.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(configToHF(a.config))));
    // HF layout: GPT2LMHeadModel names, lm_head only when untied, format=pt
    const st = SafetensorsFile.open(out);
    expect(st.metadata).toEqual({ format: 'pt' });
    expect(st.names().every((k) => k.startsWith('transformer.') || k === 'lm_head.weight')).toBe(true);
    expect(st.names().includes('lm_head.weight')).toBe(a.params.untiedHead);
    st.close();
  });

  it('--dtype f16 rounds every weight to F16', async () => {
    const out = join(outDir(), 'model.safetensors');
    await convert(join(TORCH, 'gpt2-tiny-zip'), out, '--dtype', 'f16');
    const a = loadModelFiles(join(TORCH, 'gpt2-tiny-zip')).params.data;
    expect(same(loadModelFiles(out).params.data, f16BitsToF32(f32ToF16Bits(a)))).toBe(true);
    const st = SafetensorsFile.open(out);
    expect(st.info('transformer.wte.weight').dtype).toBe('F16');
    st.close();
  });

  it('keeps an existing config.json in the output folder; copies tokenizer files otherwise', async () => {
    const d = outDir();
    writeFileSync(join(d, 'config.json'), '{"keep": true}');
    expect(await convert(join(TORCH, 'gpt2-tiny-zip'), join(d, 'm.safetensors'))).not.toMatch(/also wrote/);
    expect(readFileSync(join(d, 'config.json'), 'utf8')).toBe('{"keep": true}');
    const src = outDir();
    for (const f of ['config.json', 'pytorch_model.bin']) writeFileSync(join(src, f), readFileSync(join(TORCH, 'gpt2-tiny-zip', f)));
    writeFileSync(join(src, 'vocab.json'), '{}');
    writeFileSync(join(src, 'merges.txt'), '#version: 0.2\n');
    const d2 = outDir();
    expect(await convert(src, join(d2, 'model.safetensors'))).toMatch(/also wrote config\.json, vocab\.json, merges\.txt/);
    expect(existsSync(join(d2, 'merges.txt'))).toBe(true);
  });

  it.each([
    [['x', 'y.bin'], 2, /the output must be a \.safetensors file/],
    [['x'], 2, /give an input model and an output/],
    [['x', '/no/such/dir/m.safetensors'], 2, /the output folder \/no\/such\/dir does not exist/],
    [[join(TORCH, 'malicious', 'os-system.zip.bin'), join(tmp, 'evil.safetensors')], 1, /refuses global "posix\.system"/],
    [[join(fixtureDir('gpt2-tiny'), 'model.safetensors'), join(fixtureDir('gpt2-tiny'), 'model.safetensors')], 2, /is the input file/],
  ] as const)('errors: %j', async (args, code, re) => {
    const r = await runCli(['convert', ...args]);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(re);
  });

  it.skipIf(!hasTorch)('Python reads the output (oracle reader) bitwise equal to torch.load of the input', async () => {
    for (const name of ['gpt2-tiny-zip', 'gpt2-tiny-untied-legacy', 'odd-3head-legacy']) {
      const out = join(outDir(), 'model.safetensors');
      await convert(join(TORCH, name), out);
      const script = `
import sys, numpy as np, torch
sys.path.insert(0, sys.argv[3])
from gpt2_reference import read_safetensors
t, meta, _ = read_safetensors(sys.argv[2])
sd = torch.load(sys.argv[1])
assert meta == {"format": "pt"}, meta
want = {k: v for k, v in sd.items() if not k.endswith((".attn.bias", ".attn.masked_bias"))}
if want["lm_head.weight"].data_ptr() == want["transformer.wte.weight"].data_ptr():
    del want["lm_head.weight"]   # tied: HF's safetensors layout stores it once, as wte
assert sorted(t) == sorted(want), (sorted(set(t) ^ set(want)))
for k, v in want.items():
    a = v.contiguous().numpy()
    assert t[k].dtype == a.dtype and t[k].shape == a.shape and np.array_equal(t[k].view(np.uint32), a.view(np.uint32)), k
print("ok", len(t))
`;
      const py = spawnSync(PY, ['-c', script, join(TORCH, name, 'pytorch_model.bin'), out, ORACLE], { encoding: 'utf8' });
      expect(py.status, py.stderr).toBe(0);
      expect(py.stdout).toMatch(/^ok \d+/);
    }
  });
});
