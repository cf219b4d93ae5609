// The whole model on the default CPU backend (wasm SIMD kernels across the worker pool) equals the
// model on the reference rung (naive matmul, one thread): a full forward with every logit, and
// incremental decoding through the KV cache, at odd shapes (3 heads, T 31, vocab 777, B 2).
// Tolerance as in cpu-matmul.test.ts: |got − ref| ≤ 1e-5·max|ref| + 1e-5·|ref|.

import { afterAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/cpu/backend.ts';
import { matmulForwardNaive } from '../src/cpu/matmul.ts';
import { makeConfig } from '../src/config.ts';
import { allocActivations } from '../src/model/activations.ts';
import { gpt2Forward, uploadParams } from '../src/model/gpt2.ts';
import { allocKVCache } from '../src/model/kvcache.ts';
import { randomParams } from '../src/params.ts';

/** the reference: every matmul on the naive rung */
class NaiveCpuBackend extends CpuBackend {
  constructor() {
    super({ kernels: 'js' });
  }
  override matmulForward(out: Float32Array, inp: Float32Array, w: Float32Array, bias: Float32Array | null,
    M: number, K: number, N: number, transW: boolean): void {
    matmulForwardNaive(out, inp, w, bias, M, K, N, transW);
  }
}

function maxDiff(got: Float32Array, ref: Float32Array): { ok: boolean; msg: string } {
  let scale = 0, md = 0, ok = true;
  for (const v of ref) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i] - ref[i]);
    if (!(d <= md)) md = d;
    if (!(d <= 1e-5 * scale + 1e-5 * Math.abs(ref[i]))) ok = false;
  }
  return { ok, msg: `max |diff| ${md.toExponential(3)} at scale ${scale.toExponential(3)}` };
}

const cfg = makeConfig({ nLayer: 2, nHead: 3, nEmbd: 48, vocabSize: 777, nPositions: 64 });
const params = randomParams(cfg, 7);
const fast = new CpuBackend();
const naive = new NaiveCpuBackend();
afterAll(() => {
  fast.dispose();
  naive.dispose();
});

function ids(be: CpuBackend, B: number, T: number): Int32Array {
  const a = be.allocI32(B * T);
  for (let i = 0; i < a.length; i++) a[i] = (i * 7919 + 13) % cfg.vocabSize;
  return a;
}

describe('model on the fast CPU path', () => {
  it('uses the wasm kernels by default', () => {
    expect(fast.kernels).toBe(process.env.GPT2TS_WASM === '0' ? 'js' : 'wasm');
  });

  it('full forward: all logits equal the reference rung (B 2, T 31)', () => {
    const B = 2, T = 31;
    const run = (be: CpuBackend): Float32Array => {
      const model = uploadParams(be, params);
      const acts = allocActivations(be, cfg, { B, T, perLayer: false, keepHidden: false, allLogits: true });
      const out = gpt2Forward(be, model, acts, ids(be, B, T), B, T, { logits: 'all' });
      return (out.logits as Float32Array).slice();
    };
    const r = maxDiff(run(fast), run(naive));
    expect(r.ok, r.msg).toBe(true);
  });

  it('KV-cache decode (prefill 5, then 1 token at a time) equals the reference full forward', () => {
    const B = 2, T = 12, P0 = 5;
    // reference: full forward over all T tokens, logits of every position
    const refModel = uploadParams(naive, params);
    const refActs = allocActivations(naive, cfg, { B, T, perLayer: false, keepHidden: false, allLogits: true });
    const all = ids(naive, B, T);
    const ref = (gpt2Forward(naive, refModel, refActs, all, B, T, { logits: 'all' }).logits as Float32Array).slice();
    // fast path: prefill P0 tokens, then decode one at a time with the cache
    const model = uploadParams(fast, params);
    const cache = allocKVCache(fast, cfg, B, T);
    const acts = allocActivations(fast, cfg, { B, T: P0, perLayer: false, keepHidden: false, allLogits: false });
    const V = cfg.vocabSize;
    const chunk = (t0: number, n: number): Float32Array => {
      const x = fast.allocI32(B * n);
      for (let b = 0; b < B; b++) for (let t = 0; t < n; t++) x[b * n + t] = all[b * T + t0 + t];
      return (gpt2Forward(fast, model, acts, x, B, n, { cache, logits: 'last' }).logits as Float32Array).slice(0, B * V);
    };
    const check = (t: number, got: Float32Array): void => {
      const want = new Float32Array(B * V);
      for (let b = 0; b < B; b++) want.set(ref.subarray((b * T + t) * V, (b * T + t + 1) * V), b * V);
      const r = maxDiff(got, want);
      expect(r.ok, `position ${t}: ${r.msg}`).toBe(true);
    };
    check(P0 - 1, chunk(0, P0));
    for (let t = P0; t < T; t++) check(t, chunk(t, 1));
  });
});
