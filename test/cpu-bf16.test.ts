// bfloat16 weights (CpuBackend({ weights: 'bf16' })): the rounding, the kernels against the naive
// rung run on the same bfloat16-rounded weights (so the only difference is summation order, held
// to the forward tolerance |got − ref| ≤ 1e-5·max|ref| + 1e-5·|ref|), row invariance (decode =
// full forward) and the whole model.

import { afterAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/cpu/backend.ts';
import { matmulForwardNaive } from '../src/cpu/matmul.ts';
import { fromBf16, toBf16 } from '../src/cpu/matmul-bf16.ts';
import { makeConfig } from '../src/config.ts';
import { allocActivations } from '../src/model/activations.ts';
import { gpt2Forward, uploadParams } from '../src/model/gpt2.ts';
import { allocKVCache } from '../src/model/kvcache.ts';
import { randomParams } from '../src/params.ts';

function bits(x: number): number {
  return new Uint32Array(new Float32Array([x]).buffer)[0];
}
function bf(x: number): number {
  const h = new Uint16Array(1);
  toBf16(h, new Float32Array([x]));
  return h[0];
}
/** W rounded to bfloat16 and back (the reference's weights) */
function rounded(w: Float32Array): Float32Array {
  const h = new Uint16Array(w.length);
  toBf16(h, w);
  return Float32Array.from(h, fromBf16);
}
function fill(a: Float32Array, seed: number): Float32Array {
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < a.length; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    a[i] = x / 2 ** 31 - 1;
  }
  return a;
}
function compare(got: Float32Array, ref: Float32Array): string | null {
  let scale = 0, md = 0, bad = -1;
  for (const v of ref) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i] - ref[i]);
    if (!(d <= md)) md = d;
    if (!(d <= 1e-5 * scale + 1e-5 * Math.abs(ref[i])) && bad < 0) bad = i;
  }
  return bad < 0 ? null : `max |diff| ${md.toExponential(3)} (scale ${scale.toExponential(3)}); first bad at ${bad}: ${got[bad]} vs ${ref[bad]}`;
}

describe('float32 → bfloat16 rounding', () => {
  it('rounds to nearest, ties to even, and keeps Inf and NaN', () => {
    expect(bf(1)).toBe(0x3f80);
    expect(bf(-2)).toBe(0xc000);
    expect(bf(-0)).toBe(0x8000);
    const f = (b: number): number => new Float32Array(new Uint32Array([b]).buffer)[0];
    expect(bf(f(0x3f808000))).toBe(0x3f80); // tie, even below
    expect(bf(f(0x3f818000))).toBe(0x3f82); // tie, even above
    expect(bf(f(0x3f808001))).toBe(0x3f81); // above the tie
    expect(bf(f(0x7f7fffff))).toBe(0x7f80); // the largest float rounds to +Inf (as torch does)
    expect(bf(Infinity)).toBe(0x7f80);
    expect(Number.isNaN(fromBf16(bf(NaN)))).toBe(true);
    expect(bf(f(0x00008000 | 0x1))).toBe(0x0001); // subnormal rounds up
    expect(fromBf16(bf(3.140625))).toBe(3.140625);
    expect(bits(fromBf16(0x3f80))).toBe(0x3f800000);
  });
});

const be = new CpuBackend({ weights: 'bf16', threads: 2 });
const be1 = new CpuBackend({ weights: 'bf16', threads: 1 });
afterAll(() => {
  be.dispose();
  be1.dispose();
});

describe('bfloat16 kernels', () => {
  it('describe themselves', () => {
    expect(be.description).toMatch(/bfloat16 weights/);
  });

  for (const [name, b] of [['pool', be], ['1 thread', be1]] as const) {
    it(`${name}: equal the naive rung on the rounded weights (odd shapes, both layouts)`, () => {
      for (const transW of [false, true]) {
        for (const [M, K, N] of [[1, 1, 1], [1, 7, 33], [1, 768, 96], [1, 3, 1000], [2, 33, 7], [7, 96, 33], [13, 1100, 96], [64, 100, 1000], [5, 5, 50257]]) {
          // the weights must be a view of uploaded parameters to be read as bfloat16
          const params = b.upload(fill(b.allocF32(K * N + 64), M + K + N));
          const w = b.view(params, 64, K * N);
          const inp = fill(b.allocF32(M * K), 3), bias = fill(b.allocF32(N), 4), out = b.allocF32(M * N);
          const ref = new Float32Array(M * N);
          matmulForwardNaive(ref, inp, rounded(w), bias, M, K, N, transW);
          b.matmulForward(out, inp, w, bias, M, K, N, transW);
          const err = compare(out, ref);
          expect(err, `transW=${transW} M=${M} K=${K} N=${N}: ${err}`).toBeNull();
          // and not the float32 weights (the difference is visible)
          if (K * N > 1000) {
            const f32 = new Float32Array(M * N);
            matmulForwardNaive(f32, inp, w, bias, M, K, N, transW);
            expect(compare(out, f32)).not.toBeNull();
          }
        }
      }
    });
  }

  it('a row does not depend on the rows multiplied with it', () => {
    for (const transW of [false, true]) {
      const M = 9, K = 1100, N = 70;
      const params = be.upload(fill(be.allocF32(K * N), 11));
      const inp = fill(be.allocF32(M * K), 12), all = be.allocF32(M * N), one = be.allocF32(N);
      be.matmulForward(all, inp, params, null, M, K, N, transW);
      for (const r of [0, 4, 8]) {
        be.matmulForward(one, be.view(inp, r * K, K), params, null, 1, K, N, transW);
        expect(Array.from(one)).toEqual(Array.from(all.subarray(r * N, (r + 1) * N)));
      }
    }
  });
});

describe('model with bfloat16 weights', () => {
  /** the reference: naive matmuls on weights rounded to bfloat16 (the same rounding) */
  class RoundedNaive extends CpuBackend {
    constructor() {
      super({ kernels: 'js' });
    }
    override matmulForward(out: Float32Array, inp: Float32Array, w: Float32Array, bias: Float32Array | null,
      M: number, K: number, N: number, transW: boolean): void {
      matmulForwardNaive(out, inp, rounded(w), bias, M, K, N, transW);
    }
  }
  const cfg = makeConfig({ nLayer: 2, nHead: 3, nEmbd: 48, vocabSize: 777, nPositions: 64 });
  const params = randomParams(cfg, 3);

  it('full forward and KV-cache decode equal the rounded-weight reference', () => {
    const B = 2, T = 9, V = cfg.vocabSize;
    const ref = new RoundedNaive();
    const idsOf = (b: CpuBackend): Int32Array => {
      const a = b.allocI32(B * T);
      for (let i = 0; i < a.length; i++) a[i] = (i * 131 + 7) % V;
      return a;
    };
    const full = (b: CpuBackend): Float32Array => {
      const m = uploadParams(b, params);
      const acts = allocActivations(b, cfg, { B, T, perLayer: false, keepHidden: false, allLogits: true });
      return (gpt2Forward(b, m, acts, idsOf(b), B, T, { logits: 'all' }).logits as Float32Array).slice();
    };
    const want = full(ref);
    const got = full(be);
    const e = compare(got, want);
    expect(e, e ?? '').toBeNull();
    // decode one token at a time: each step's logits equal the full forward's at that position
    const m = uploadParams(be, params);
    const cache = allocKVCache(be, cfg, B, T);
    const acts = allocActivations(be, cfg, { B, T: 1, perLayer: false, keepHidden: false, allLogits: false });
    const all = idsOf(be);
    for (let t = 0; t < T; t++) {
      const x = be.allocI32(B);
      for (let b = 0; b < B; b++) x[b] = all[b * T + t];
      const step = (gpt2Forward(be, m, acts, x, B, 1, { cache, logits: 'last' }).logits as Float32Array).slice(0, B * V);
      const w = new Float32Array(B * V);
      for (let b = 0; b < B; b++) w.set(got.subarray((b * T + t) * V, (b * T + t + 1) * V), b * V);
      const d = compare(step, w);
      expect(d, `position ${t}: ${d}`).toBeNull();
    }
    ref.dispose();
  });
});
