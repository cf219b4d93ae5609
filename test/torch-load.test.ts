// PyTorch checkpoints (test/fixtures/torch/, written by test/oracle/write_bin_fixtures.py with torch.save):
// both formats load to parameters and logits *bitwise* equal to the safetensors fixtures they were made
// from — tied and untied heads, a transposed (non-contiguous) tensor, a storage offset, F16/BF16, shards,
// an odd shape — and every storage dtype, stride pattern and shared storage reads as torch wrote it.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/cpu/backend.ts';
import { loadModelFiles } from '../src/io/model.ts';
import { SafetensorsFile, type TensorToWrite, writeSafetensors } from '../src/io/safetensors.ts';
import { TorchCheckpoint } from '../src/io/torch/checkpoint.ts';
import { crc32, crc32Js } from '../src/io/torch/crc32.ts';
import { GPT2Model } from '../src/model/model.ts';
import { fixtureDir, fixtureInputs } from './helpers/fixtures.ts';
import { readZipEntries, writeZip } from './torch-helpers.ts';

const TORCH = fixtureDir('torch');
const tmp = mkdtempSync(join(tmpdir(), 'gpt2ts-torch-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);

/** bitwise equality of two float arrays, with the first differing index on failure */
function expectBitwise(a: Float32Array, b: Float32Array, label: string): void {
  expect(a.length, label).toBe(b.length);
  const x = bits(a), y = bits(b);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) throw new Error(`${label}: element ${i} differs: ${a[i]} vs ${b[i]}`);
}

async function logits(path: string, set: string): Promise<Float32Array> {
  const { params } = loadModelFiles(path);
  return (await new GPT2Model(new CpuBackend(), params).forward(fixtureInputs(set).input_ids)).logits;
}

/** parameters and logits of two model paths are bitwise equal */
async function expectSameModel(binPath: string, stPath: string, set: string): Promise<void> {
  const a = loadModelFiles(binPath), b = loadModelFiles(stPath);
  expect(a.params.untiedHead).toBe(b.params.untiedHead);
  expectBitwise(a.params.data, b.params.data, `${binPath} parameters`);
  expectBitwise(await logits(binPath, set), await logits(stPath, set), `${binPath} logits`);
}

describe('pytorch_model.bin loads exactly like the safetensors it was made from', () => {
  for (const set of ['gpt2-tiny', 'odd-3head']) {
    for (const fmt of ['zip', 'legacy']) {
      it(`${set}, ${fmt} format, tied head (a .bin-only folder)`, async () => {
        const dir = join(TORCH, `${set}-${fmt}`);
        await expectSameModel(dir, fixtureDir(set), set);
        const { source } = loadModelFiles(dir);
        expect(source.files).toEqual([join(dir, 'pytorch_model.bin')]);
        expect(source.lmHeadTied).toBe(true);
        // the mask buffers are recognised and ignored, as in safetensors files
        expect(source.ignored.filter((n) => n.endsWith('attn.bias')).length).toBeGreaterThan(0);
        expect(source.ignored.filter((n) => n.endsWith('attn.masked_bias')).length).toBeGreaterThan(0);
      });
    }
  }

  it.each(['zip', 'legacy'])('untied head (lm_head = -wte), %s format', async (fmt) => {
    // the reference: the tiny safetensors weights plus lm_head.weight = -wte (negation is exact)
    const st = SafetensorsFile.open(join(fixtureDir('gpt2-tiny'), 'model.safetensors'));
    const tensors: Record<string, TensorToWrite> = {};
    for (const n of st.names()) tensors[n] = { dtype: 'F32', shape: st.info(n).shape, data: st.readF32(n).slice() };
    st.close();
    const wte = tensors['wte.weight'];
    tensors['lm_head.weight'] = { dtype: 'F32', shape: wte.shape, data: (wte.data as Float32Array).map((x) => -x) };
    const ref = join(tmp, `untied-${fmt}`);
    mkdirSync(ref);
    writeSafetensors(join(ref, 'model.safetensors'), tensors, { format: 'pt' });
    writeFileSync(join(ref, 'config.json'), readFileSync(join(TORCH, `gpt2-tiny-untied-${fmt}`, 'config.json')));
    await expectSameModel(join(TORCH, `gpt2-tiny-untied-${fmt}`), ref, 'gpt2-tiny');
    expect(loadModelFiles(join(TORCH, `gpt2-tiny-untied-${fmt}`)).params.untiedHead).toBe(true);
  });

  it('F16 (zip) and BF16 (legacy) checkpoints equal the F16/BF16 safetensors', async () => {
    const half = join(TORCH, 'gpt2-tiny-half');
    await expectSameModel(join(half, 'pytorch_model.f16.bin'), join(fixtureDir('gpt2-tiny'), 'model.f16.safetensors'), 'gpt2-tiny');
    await expectSameModel(join(half, 'pytorch_model.bf16.bin'), join(fixtureDir('gpt2-tiny'), 'model.bf16.safetensors'), 'gpt2-tiny');
  });

  it('a sharded checkpoint (pytorch_model.bin.index.json)', async () => {
    const dir = join(TORCH, 'gpt2-tiny-sharded');
    await expectSameModel(dir, fixtureDir('gpt2-tiny'), 'gpt2-tiny');
    expect(loadModelFiles(dir).source.files.map((f) => f.slice(dir.length + 1))).toEqual([
      'pytorch_model-00001-of-00002.bin', 'pytorch_model-00002-of-00002.bin']);
  });

  it('a folder with both formats prefers model.safetensors', () => {
    const dir = join(tmp, 'both');
    mkdirSync(dir);
    for (const f of ['config.json', 'model.safetensors']) writeFileSync(join(dir, f), readFileSync(join(fixtureDir('gpt2-tiny'), f)));
    writeFileSync(join(dir, 'pytorch_model.bin'), 'not read');
    expect(loadModelFiles(dir).source.files).toEqual([join(dir, 'model.safetensors')]);
  });

  it.each([['deflated', { deflate: true }], ['zip64', { zip64: true }], ['deflated zip64', { deflate: true, zip64: true }]] as const)(
    'the zip checkpoint re-packed %s loads the same', async (_label, opts) => {
      const src = join(TORCH, 'gpt2-tiny-zip', 'pytorch_model.bin');
      const dir = join(tmp, `repack-${_label.replace(' ', '-')}`);
      mkdirSync(dir);
      writeFileSync(join(dir, 'pytorch_model.bin'), writeZip(readZipEntries(src), opts));
      writeFileSync(join(dir, 'config.json'), readFileSync(join(TORCH, 'gpt2-tiny-zip', 'config.json')));
      await expectSameModel(dir, fixtureDir('gpt2-tiny'), 'gpt2-tiny');
    });
});

describe('TorchCheckpoint', () => {
  interface Expected { shape: number[]; stride: number[]; offset: number; values: string[] }
  const expected = JSON.parse(readFileSync(join(TORCH, 'misc', 'dtypes.json'), 'utf8')) as Record<string, Expected>;

  for (const fmt of ['zip', 'legacy'] as const) {
    it(`reads every dtype, stride pattern, scalar and empty tensor as torch wrote them (${fmt})`, () => {
      const c = TorchCheckpoint.open(join(TORCH, 'misc', `dtypes.${fmt}.bin`));
      try {
        expect(c.format).toBe(fmt);
        expect(c.version).toBe(fmt === 'zip' ? 3 : null);
        expect(c.names()).toEqual(Object.keys(expected)); // state dict order kept
        for (const [name, e] of Object.entries(expected)) {
          const info = c.info(name);
          expect(info.shape, name).toEqual(e.shape);
          expect(info.stride, name).toEqual(e.stride);
          if (['I64', 'I32', 'U8', 'BOOL'].includes(info.dtype)) {
            expect(Array.from(c.read(name) as ArrayLike<number | bigint>, (x) => String(x)), name).toEqual(e.values);
            expect(() => c.readF32(name)).toThrow(/not a float dtype/);
          } else {
            expect(Array.from(c.readF32(name)), name).toEqual(e.values.map(Number));
          }
        }
        expect(c.info('i64').dtype).toBe('I64');
        expect(c.info('f16').dtype).toBe('F16');
        expect(c.info('bf16').dtype).toBe('BF16');
        expect(c.sameData('shared_a', 'shared_b')).toBe(true);
        expect(c.sameData('shared_a', 'f32_step')).toBe(false);
        expect(() => c.info('nope')).toThrow(/no tensor "nope" \(has "f32_permuted"/);
      } finally {
        c.close();
      }
    });
  }

  it('the tied lm_head is the same storage as wte; the non-contiguous and offset views are described', () => {
    const c = TorchCheckpoint.open(join(TORCH, 'gpt2-tiny-zip', 'pytorch_model.bin'));
    expect(c.sameData('lm_head.weight', 'transformer.wte.weight')).toBe(true);
    expect(c.info('transformer.h.0.attn.c_attn.weight')).toMatchObject({ shape: [64, 192], stride: [1, 64], offset: 0 });
    expect(c.info('transformer.h.1.attn.c_attn.bias')).toMatchObject({ shape: [192], offset: 5 });
    expect(c.info('transformer.h.0.attn.bias')).toMatchObject({ dtype: 'U8', shape: [1, 1, 64, 64] });
    c.close();
    expect(() => c.readF32('transformer.wte.weight')).toThrow(/closed/);
  });

  it('a single .bin file takes config.json from its folder', () => {
    const { source, config } = loadModelFiles(join(TORCH, 'odd-3head-legacy', 'pytorch_model.bin'));
    expect(source.configFrom).toBe(join(TORCH, 'odd-3head-legacy', 'config.json'));
    expect(config.nHead).toBe(3);
  });

  it('the JS CRC-32 fallback equals zlib', () => {
    const data = readFileSync(join(TORCH, 'misc', 'dtypes.zip.bin'));
    expect(crc32Js(data)).toBe(crc32(data));
    expect(crc32Js(data.subarray(100), crc32Js(data.subarray(0, 100)))).toBe(crc32(data));
    expect(crc32Js(new TextEncoder().encode('123456789'))).toBe(0xcbf43926); // the standard check value
  });
});
