// Embeddings: fixture values, padding invariance in any batch, normalization, layers, errors.

import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/cpu/backend.ts';
import { embedDefaults, embedIds } from '../src/embed/embed.ts';
import { loadModelFiles } from '../src/io/model.ts';
import { GPT2Model, loadModel } from '../src/model/model.ts';
import { FIXTURE_SETS, expectClose, fixtureDir, fixtureExpected, fixtureInputs } from './helpers/fixtures.ts';
import { writeRandomModel } from './helpers/models.ts';

const tmp = mkdtempSync(join(tmpdir(), 'gpt2ts-embed-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function fixtureModel(set: string): GPT2Model<Float32Array, Int32Array> {
  const { params } = loadModelFiles(fixtureDir(set));
  return new GPT2Model(new CpuBackend(), params);
}

describe.each(FIXTURE_SETS)('embeddings of %s', (set) => {
  const m = fixtureModel(set);
  const inp = fixtureInputs(set);
  const exp = fixtureExpected(set);
  const rows = inp.padded.input_ids.map((r, b) => r.slice(0, inp.padded.lengths[b]));
  const o = (x: Parameters<typeof embedDefaults>[0]) => embedDefaults(x, m.config.nLayer);

  it('embed.mean and embed.last of the padded batch (1e-4)', async () => {
    const mean = await embedIds(m.backend, m.device, rows, o({ pooling: 'mean' }));
    expectClose(mean.data, exp.readF32('embed.mean'), 1e-4, 0, 'embed.mean');
    const last = await embedIds(m.backend, m.device, rows, o({ pooling: 'last', batchSize: 1 }));
    expectClose(last.data, exp.readF32('embed.last'), 1e-4, 0, 'embed.last');
    expect(mean.dims).toEqual([rows.length, m.config.nEmbd]);
  });

  it("pooling 'none' rows agree with hidden.ln_f; layer 0 is hidden.embeddings", async () => {
    const none = await embedIds(m.backend, m.device, inp.input_ids, o({ pooling: 'none' }));
    expectClose(none.data, exp.readF32('hidden.ln_f'), 1e-4, 0, 'none vs hidden.ln_f');
    const emb = await embedIds(m.backend, m.device, inp.input_ids, o({ pooling: 'none', layer: 0 }));
    expectClose(emb.data, exp.readF32('hidden.embeddings'), 1e-5, 0, 'layer 0');
    if (m.config.nLayer > 1) {
      const l1 = await embedIds(m.backend, m.device, inp.input_ids, o({ pooling: 'none', layer: 1 }));
      expectClose(l1.data, exp.readF32('hidden.block.0'), 1e-5, 0, 'layer 1 = block 0');
    }
  });
});

describe('padding invariance and normalization', () => {
  const m = fixtureModel('gpt2-tiny');
  const o = (x: Parameters<typeof embedDefaults>[0]) => embedDefaults(x, m.config.nLayer);
  const seqArb = fc.array(fc.integer({ min: 0, max: 511 }), { minLength: 1, maxLength: 20 });

  it('property: a text embeds the same alone or inside any batch, at any position, any batch size', async () => {
    await fc.assert(fc.asyncProperty(seqArb, fc.array(seqArb, { maxLength: 6 }), fc.nat(), fc.integer({ min: 1, max: 7 }),
      fc.constantFrom('mean', 'last', 'first', 'none') as fc.Arbitrary<'mean' | 'last' | 'first' | 'none'>,
      async (text, others, at, batchSize, pooling) => {
        const pos = at % (others.length + 1);
        const batch = [...others.slice(0, pos), text, ...others.slice(pos)];
        const alone = await embedIds(m.backend, m.device, [text], o({ pooling }));
        const inBatch = await embedIds(m.backend, m.device, batch, o({ pooling, batchSize }));
        const C = m.config.nEmbd;
        const per = pooling === 'none' ? inBatch.dims[1] * C : C;
        const mine = inBatch.data.subarray(pos * per, pos * per + (pooling === 'none' ? text.length * C : C));
        expectClose(mine, alone.data.subarray(0, mine.length), 1e-5, 0, `text at ${pos} of ${batch.length}, batch ${batchSize}, ${pooling}`);
      }), { numRuns: 40 });
  });

  it('normalized vectors have norm 1 (every token vector too)', async () => {
    const batch = [[1, 2, 3], [4], [5, 6, 7, 8, 9, 10]];
    for (const pooling of ['mean', 'last', 'none'] as const) {
      const e = await embedIds(m.backend, m.device, batch, o({ pooling, normalize: true }));
      const arr = e.toArray();
      const vecs = pooling === 'none' ? (arr as number[][][]).flat() : (arr as number[][]);
      expect(vecs.length).toBe(pooling === 'none' ? 10 : 3);
      for (const v of vecs) expect(Math.abs(Math.hypot(...v) - 1)).toBeLessThan(1e-6);
    }
  });
});

describe('the embed API with text', () => {
  const dir = writeRandomModel(join(tmp, 'rand'));

  it('loadModel + embed: three lines, input order kept, empty text = <|endoftext|>', async () => {
    const model = await loadModel(dir);
    const texts = ['the longest text of the three, by far', 'short', '', 'mid length text'];
    const e = await model.embed(texts, { pooling: 'mean', normalize: true, batchSize: 2 });
    expect(e.dims).toEqual([4, 32]);
    expect(e.lengths[2]).toBe(1);
    for (const [i, t] of texts.entries()) {
      const one = await model.embed([t], { pooling: 'mean', normalize: true });
      expectClose(e.data.subarray(i * 32, (i + 1) * 32), one.data, 1e-5, 0, `text ${i}`);
    }
    const eot = await model.embed([''], {});
    const viaIds = await embedIds(model.backend, model.device, [[50256]], embedDefaults({}, 1));
    expectClose(eot.data, viaIds.data, 0, 0, 'empty text is eos');
    model.dispose();
  });

  it('bad options and inputs are clear errors', async () => {
    const model = await loadModel(dir);
    await expect(model.embed(['a'], { pooling: 'max' as 'mean' })).rejects.toThrow(/pooling must be mean, last, first or none/);
    await expect(model.embed(['a'], { batchSize: 0 })).rejects.toThrow(/batchSize must be an integer in 1\.\.4096/);
    await expect(model.embed(['a'], { layer: 5 })).rejects.toThrow(/layer must be 'ln_f' or an integer in -2\.\.1/);
    await expect(model.embed([42 as unknown as string])).rejects.toThrow(/texts\[0\] is not a string/);
    const long = 'word '.repeat(99) + 'word';
    await expect(model.embed([long])).rejects.toThrow(/text 0 has 100 tokens, more than n_positions 64 \(use truncation: 'right'\)/);
    const cut = await model.embed([long], { truncation: 'right' });
    expect(cut.lengths[0]).toBe(64);
    expect(() => model.embed('abc' as unknown as string[])).toThrow(/array of strings/);
    model.dispose();
  });
});
