// Dropout: p = 0 is exactly no dropout; seeded masks are reproducible; kept elements are scaled by
// 1/(1−p) and kept with probability 1−p; the sites and order are HF training mode's; and nothing
// is dropped in eval or generation, whatever the config's *_pdrop. (Dropout gradients are in
// gradcheck.test.ts.)

import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/cpu/backend.ts';
import { dropoutBackward, dropoutForward, fillDropoutMask } from '../src/cpu/dropout.ts';
import { Rng } from '../src/generate/rng.ts';
import { allocActivations } from '../src/model/activations.ts';
import { type DropoutOptions, gpt2Forward, uploadParams } from '../src/model/gpt2.ts';
import { allocKVCache } from '../src/model/kvcache.ts';
import { GPT2Model } from '../src/model/model.ts';
import { Params } from '../src/params.ts';
import { expectClose, fixtureExpected, fixtureInputs } from './helpers/fixtures.ts';
import { fixtureBatch, loadFixtureParams } from './helpers/training.ts';

const SET = 'gpt2-tiny';

/** A training-mode forward of the fixture batch; returns copies of logits and hidden states. */
function trainForward(params: Params, dropout: DropoutOptions | null) {
  const be = new CpuBackend();
  const { B, T, ids } = fixtureBatch(SET);
  const acts = allocActivations(be, params.config, { B, T, perLayer: true, keepHidden: true, allLogits: true, dropout: true });
  const r = gpt2Forward(be, uploadParams(be, params), acts, ids, B, T, { logits: 'all', dropout });
  return { logits: (r.logits as Float32Array).slice(), hidden: r.hidden.map((h) => h.slice()), acts };
}

/** the same bytes (bit-for-bit equality of two float arrays) */
function sameBits(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function withPdrop(params: Params, p: number): Params {
  return new Params({ ...params.config, embdPdrop: p, attnPdrop: p, residPdrop: p }, false, params.data);
}

describe('dropout', () => {
  it('p = 0 (config or override) equals no dropout, bit for bit, and draws nothing', () => {
    const params = loadFixtureParams(SET);
    const off = trainForward(params, null);
    const rng = new Rng(5);
    const before = rng.getState();
    const zero = trainForward(params, { rng }); // the fixture config's pdrop are 0
    const zero2 = trainForward(withPdrop(params, 0.3), { rng, embd: 0, attn: 0, resid: 0 });
    expect(sameBits(zero.logits, off.logits)).toBe(true);
    expect(sameBits(zero2.logits, off.logits)).toBe(true);
    expect(rng.getState()).toEqual(before);
    expect(zero.acts.dropoutUsed).toEqual({ embd: false, attn: false, resid: false });
    expectClose(off.logits, fixtureExpected(SET).readF32('logits'), 1e-4, 0, 'logits');
  });

  it('the same seed gives the same masks and outputs; another seed differs', () => {
    const params = withPdrop(loadFixtureParams(SET), 0.1);
    const a = trainForward(params, { rng: new Rng(42) });
    const b = trainForward(params, { rng: new Rng(42) });
    const c = trainForward(params, { rng: new Rng(43) });
    expect(sameBits(a.logits, b.logits)).toBe(true);
    expect(sameBits(a.acts.buffer, b.acts.buffer)).toBe(true); // every activation and mask
    expect(sameBits(a.logits, c.logits)).toBe(false);
    // a saved RNG state continues the same stream (resume)
    const r1 = new Rng(7);
    trainForward(params, { rng: r1 });
    const saved = r1.getState();
    const next = trainForward(params, { rng: r1 });
    const r2 = new Rng(0);
    r2.setState(saved);
    expect(sameBits(trainForward(params, { rng: r2 }).logits, next.logits)).toBe(true);
  });

  it('mask: kept with probability 1 − p, kept values exactly 1/(1−p), mean ≈ 1', () => {
    for (const p of [0.1, 0.5, 0.9]) {
      const n = 200_000;
      const m = new Float32Array(n);
      fillDropoutMask(m, n, p, new Rng(1));
      const keep = Math.fround(1 / (1 - p));
      let kept = 0, sum = 0, other = 0;
      for (const x of m) {
        if (x !== 0 && x !== keep) other++;
        if (x !== 0) kept++;
        sum += x;
      }
      expect(other).toBe(0);
      const sd = Math.sqrt(n * p * (1 - p));
      expect(Math.abs(kept - n * (1 - p))).toBeLessThan(5 * sd);
      expect(Math.abs(sum / n - 1)).toBeLessThan((5 * sd * keep) / n);
    }
    expect(() => fillDropoutMask(new Float32Array(1), 1, 1, new Rng(1))).toThrow(/\[0, 1\)/);
    // forward scales, backward routes the gradient through the same mask (accumulating)
    const mask = Float32Array.of(0, 2, 2);
    const out = new Float32Array(3);
    dropoutForward(out, Float32Array.of(1, 2, 3), mask, 3);
    expect(Array.from(out)).toEqual([0, 4, 6]);
    const d = Float32Array.of(1, 1, 1);
    dropoutBackward(d, Float32Array.of(5, 5, 5), mask, 3);
    expect(Array.from(d)).toEqual([1, 11, 11]);
  });

  it('sites as in HF training mode, masks drawn in order: embeddings, then per block attn probs, attn.c_proj, mlp.c_proj', () => {
    const params = loadFixtureParams(SET);
    const cfg = params.config;
    const { B, T } = fixtureBatch(SET);
    const C = cfg.nEmbd, NH = cfg.nHead, BT = B * T;
    const exp = fixtureExpected(SET);
    // embeddings only: hidden[0] is the embedding times the first mask drawn
    const e = trainForward(params, { rng: new Rng(3), embd: 0.5, attn: 0, resid: 0 });
    const m = new Float32Array(BT * C);
    fillDropoutMask(m, BT * C, 0.5, new Rng(3));
    const emb = exp.readF32('hidden.embeddings');
    expectClose(e.hidden[0], emb.map((x, i) => x * m[i]), 0, 0, 'dropped embeddings');
    expect(Array.from(e.acts.embdDrop ?? [])).toEqual(Array.from(m));
    // attention only: embeddings untouched, block 0's probability mask is the first draw
    const a = trainForward(params, { rng: new Rng(3), embd: 0, attn: 0.5, resid: 0 });
    expectClose(a.hidden[0], emb, 1e-5, 0, 'embeddings without embd dropout');
    const am = new Float32Array(B * NH * T * T);
    fillDropoutMask(am, am.length, 0.5, new Rng(3));
    expect(Array.from(a.acts.layers[0].attDrop ?? [])).toEqual(Array.from(am));
    expect(a.acts.dropoutUsed).toEqual({ embd: false, attn: true, resid: false });
    // residual only: attn.c_proj's mask first, then mlp.c_proj's
    const r = trainForward(params, { rng: new Rng(3), embd: 0, attn: 0, resid: 0.5 });
    const rng = new Rng(3);
    const r1 = new Float32Array(BT * C), r2 = new Float32Array(BT * C);
    fillDropoutMask(r1, BT * C, 0.5, rng);
    fillDropoutMask(r2, BT * C, 0.5, rng);
    expect(Array.from(r.acts.layers[0].attprojDrop ?? [])).toEqual(Array.from(r1));
    expect(Array.from(r.acts.layers[0].fcprojDrop ?? [])).toEqual(Array.from(r2));
  });

  it('off in eval and generation whatever the config says', async () => {
    const params = loadFixtureParams(SET);
    const dropCfg = withPdrop(params, 0.5);
    const exp = fixtureExpected(SET);
    const inputs = fixtureInputs(SET);
    const model = new GPT2Model(new CpuBackend(), dropCfg);
    const out = await model.forward(inputs.input_ids);
    expectClose(out.logits, exp.readF32('logits'), 1e-4, 0, 'eval logits with pdrop 0.5 in the config');
    const { prompt, max_new_tokens } = inputs.generation;
    const g = await model.generate(prompt, { doSample: false, maxNewTokens: max_new_tokens, stopAtEos: false });
    expect(g.sequences[0]).toEqual(Array.from(exp.read('generate.tokens') as BigInt64Array, Number));
    // a forward without dropout options is eval, also on training activations
    const t = trainForward(dropCfg, null);
    expect(t.acts.dropoutUsed).toEqual({ embd: false, attn: false, resid: false });
    expectClose(t.logits, exp.readF32('logits'), 1e-4, 0, 'perLayer forward without dropout');
  });

  it('clear errors: dropout without masks allocated, or with a KV cache', () => {
    const params = withPdrop(loadFixtureParams(SET), 0.1);
    const be = new CpuBackend();
    const { B, T, ids } = fixtureBatch(SET);
    const acts = allocActivations(be, params.config, { B, T, perLayer: true, keepHidden: false, allLogits: true });
    expect(() => gpt2Forward(be, uploadParams(be, params), acts, ids, B, T, { dropout: { rng: new Rng(1) } })).toThrow(/dropout: true/);
    expect(() => allocActivations(be, params.config, { B, T, perLayer: false, keepHidden: false, allLogits: true, dropout: true })).toThrow(/perLayer/);
    const dacts = allocActivations(be, params.config, { B, T, perLayer: true, keepHidden: false, allLogits: true, dropout: true });
    const cache = allocKVCache(be, params.config, B, T);
    expect(() => gpt2Forward(be, uploadParams(be, params), dacts, ids, B, T, { cache, dropout: { rng: new Rng(1) } })).toThrow(/KV cache/);
  });
});
