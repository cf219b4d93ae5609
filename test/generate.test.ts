// Generation semantics: seeds, eos, min/max new tokens, several sequences, truncation, errors.

import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/cpu/backend.ts';
import { loadModelFiles } from '../src/io/model.ts';
import { GPT2Model } from '../src/model/model.ts';
import { Params } from '../src/params.ts';
import { fixtureDir, fixtureInputs } from './helpers/fixtures.ts';

const prompt = fixtureInputs('gpt2-tiny').generation.prompt;

function tinyModel(edit?: (p: Params) => Params): GPT2Model<Float32Array, Int32Array> {
  let { params } = loadModelFiles(fixtureDir('gpt2-tiny'));
  if (edit) params = edit(params);
  return new GPT2Model(new CpuBackend(), params);
}

/** the same weights with another eos id */
function withEos(eos: number): GPT2Model<Float32Array, Int32Array> {
  return tinyModel((p) => new Params({ ...p.config, eosTokenId: eos }, p.untiedHead, p.data));
}

describe('generate', () => {
  it('the same seed gives the same tokens; other seeds differ', async () => {
    const m = tinyModel();
    const a = await m.generate(prompt, { seed: 5, maxNewTokens: 30, stopAtEos: false });
    const b = await m.generate(prompt, { seed: 5, maxNewTokens: 30, stopAtEos: false });
    const c = await m.generate(prompt, { seed: 6, maxNewTokens: 30, stopAtEos: false });
    expect(a.sequences).toEqual(b.sequences);
    expect(a.sequences[0]).toHaveLength(30);
    expect(c.sequences).not.toEqual(a.sequences);
  });

  it('num_return_sequences: independent rows, each reproducible', async () => {
    const m = tinyModel();
    const r = await m.generate(prompt, { seed: 1, numReturnSequences: 4, maxNewTokens: 12, stopAtEos: false, temperature: 2, topK: 0, topP: 1 });
    expect(r.sequences).toHaveLength(4);
    expect(new Set(r.sequences.map((s) => s.join())).size).toBeGreaterThan(1);
    const again = await m.generate(prompt, { seed: 1, numReturnSequences: 4, maxNewTokens: 12, stopAtEos: false, temperature: 2, topK: 0, topP: 1 });
    expect(again.sequences).toEqual(r.sequences);
  });

  it('stops at eos (kept in the output) and min_new_tokens suppresses it', async () => {
    // greedy gpt2-tiny continues with 76: make 76 the eos token
    const m = withEos(76);
    const stop = await m.generate(prompt, { doSample: false, maxNewTokens: 20 });
    expect(stop.sequences[0]).toEqual([76]);
    const min = await m.generate(prompt, { doSample: false, maxNewTokens: 20, minNewTokens: 4, returnLogits: true });
    expect(min.sequences[0].slice(0, 4)).not.toContain(76);
    expect(min.sequences[0].length).toBeGreaterThan(4);
    // the suppressed token had the highest logit at step 0
    const l0 = min.logits[0];
    expect(l0.indexOf(Math.max(...l0))).toBe(76);
  });

  it('rows that finish early are padded internally and stop contributing', async () => {
    const m = withEos(76);
    const r = await m.generate(prompt, { seed: 3, numReturnSequences: 6, maxNewTokens: 15, temperature: 1, topK: 3, topP: 1 });
    for (const s of r.sequences) {
      const at = s.indexOf(76);
      if (at >= 0) expect(at).toBe(s.length - 1);
      else expect(s).toHaveLength(15);
    }
  });

  it('an empty prompt starts from bos', async () => {
    const m = tinyModel();
    const r = await m.generate([], { doSample: false, maxNewTokens: 3 });
    expect(r.prompt).toEqual([m.config.bosTokenId]);
  });

  it('beyond n_positions: an error, or left truncation when asked', async () => {
    const m = tinyModel();
    const long = Array.from({ length: 60 }, (_, i) => i % 500);
    await expect(m.generate(long, { maxNewTokens: 10 })).rejects.toThrow(/prompt \(60 tokens\) \+ max_new_tokens \(10\) exceeds n_positions 64/);
    const r = await m.generate(long, { maxNewTokens: 10, truncation: 'left', doSample: false, stopAtEos: false });
    expect(r.prompt).toEqual(long.slice(6));
    expect(r.sequences[0]).toHaveLength(10);
  });

  it('bad arguments are clear errors', async () => {
    const m = tinyModel();
    await expect(m.generate([1, 512])).rejects.toThrow(/prompt token id 512 is outside the vocabulary \(0\.\.511\)/);
    await expect(m.generate([1.5])).rejects.toThrow(/prompt token id 1\.5/);
    await expect(m.generate([1], { maxNewTokens: 0 })).rejects.toThrow(/max_new_tokens must be an integer ≥ 1/);
    await expect(m.generate([1], { temperature: 0 })).rejects.toThrow(/temperature must be a positive number/);
    await expect(m.generate([1], { topP: 0 })).rejects.toThrow(/top_p must be in \(0, 1\]/);
    await expect(m.generate([1], { doSample: false, numReturnSequences: 2 })).rejects.toThrow(/num_return_sequences > 1 needs sampling/);
    await expect(m.generate([1], { maxNewTokens: 64 })).rejects.toThrow(/must be below n_positions 64/);
  });
});
