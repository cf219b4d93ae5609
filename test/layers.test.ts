// CPU layers against the fixtures' probes and float64 references written out longhand here.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { attentionForward } from '../src/cpu/attention.ts';
import { geluForward } from '../src/cpu/gelu.ts';
import { layernormForward } from '../src/cpu/layernorm.ts';
import { matmulForwardNaive } from '../src/cpu/matmul.ts';
import { argmax, softmaxForward } from '../src/cpu/softmax.ts';
import { FIXTURE_SETS, expectClose, fixtureExpected } from './helpers/fixtures.ts';

const rand = (n: number, seed: number, scale = 1): Float32Array => {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return ((s / 2 ** 32) * 2 - 1) * scale;
  });
};

describe('gelu_new', () => {
  it.each(FIXTURE_SETS)('matches gelu.y on -6..6 (%s)', (set) => {
    const exp = fixtureExpected(set);
    const x = exp.readF32('gelu.x');
    const y = new Float32Array(x.length);
    geluForward(y, x, x.length);
    expectClose(y, exp.readF32('gelu.y'), 1e-6, 0, 'gelu.y');
  });
});

describe('layernorm', () => {
  it('matches a float64 reference (biased variance, eps inside the sqrt) and caches mean/rstd', () => {
    const N = 7, C = 33, eps = 1e-5;
    const x = rand(N * C, 1, 3), w = rand(C, 2), b = rand(C, 3);
    const out = new Float32Array(N * C), mean = new Float32Array(N), rstd = new Float32Array(N);
    layernormForward(out, mean, rstd, x, w, b, N, C, eps);
    const ref = new Float64Array(N * C);
    for (let r = 0; r < N; r++) {
      const row = Array.from(x.subarray(r * C, (r + 1) * C));
      const m = row.reduce((a, v) => a + v, 0) / C;
      const v = row.reduce((a, u) => a + (u - m) ** 2, 0) / C;
      expect(mean[r]).toBeCloseTo(m, 6);
      expect(rstd[r]).toBeCloseTo(1 / Math.sqrt(v + eps), 4);
      for (let i = 0; i < C; i++) ref[r * C + i] = ((row[i] - m) / Math.sqrt(v + eps)) * w[i] + b[i];
    }
    expectClose(out, ref, 1e-6, 1e-6, 'layernorm');
  });
});

describe('matmul (naive reference rung)', () => {
  it('property: both layouts equal a float64 triple loop, with and without bias', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 70 }), fc.boolean(), fc.boolean(), fc.integer(),
      (M, K, N, transW, withBias, seed) => {
        const a = rand(M * K, seed), w = rand(K * N, seed + 1), bias = withBias ? rand(N, seed + 2) : null;
        const out = new Float32Array(M * N);
        matmulForwardNaive(out, a, w, bias, M, K, N, transW);
        const ref = new Float64Array(M * N);
        for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
          let s = bias ? bias[n] : 0;
          for (let k = 0; k < K; k++) s += a[m * K + k] * (transW ? w[n * K + k] : w[k * N + n]);
          ref[m * N + n] = s;
        }
        expectClose(out, ref, 1e-5, 1e-5, `matmul ${M}x${K}x${N} transW=${transW}`);
      }), { numRuns: 60 });
  });
});

describe('attention', () => {
  /** float64 longhand: scores, causal + padding mask, softmax, weighted sum */
  function reference(qkv: Float32Array, mask: Int32Array | null, B: number, T: number, C: number, NH: number): Float64Array {
    const hs = C / NH, out = new Float64Array(B * T * C);
    for (let b = 0; b < B; b++) for (let h = 0; h < NH; h++) for (let t = 0; t < T; t++) {
      const sc: number[] = [];
      for (let s = 0; s <= t; s++) {
        let d = 0;
        for (let i = 0; i < hs; i++) d += qkv[(b * T + t) * 3 * C + h * hs + i] * qkv[(b * T + s) * 3 * C + C + h * hs + i];
        sc.push(mask && mask[b * T + s] === 0 ? -Infinity : d / Math.sqrt(hs));
      }
      const mx = Math.max(...sc);
      const e = sc.map((v) => (mx === -Infinity ? 1 : Math.exp(v - mx)));
      const Z = e.reduce((x, y) => x + y, 0);
      for (let s = 0; s <= t; s++) for (let i = 0; i < hs; i++) out[(b * T + t) * C + h * hs + i] += (e[s] / Z) * qkv[(b * T + s) * 3 * C + 2 * C + h * hs + i];
    }
    return out;
  }

  it('causal, odd shapes, with a right-padding mask; probabilities rows sum to 1', () => {
    for (const [B, T, C, NH] of [[1, 1, 8, 2], [2, 33, 96, 6], [3, 7, 30, 5]]) {
      const qkv = rand(B * T * 3 * C, B * 100 + T, 2);
      const mask = new Int32Array(B * T).fill(1);
      for (let t = Math.ceil(T / 2); t < T; t++) mask[(B - 1) * T + t] = 0; // last row right-padded
      const out = new Float32Array(B * T * C), att = new Float32Array(B * NH * T * T);
      attentionForward(out, att, qkv, mask, T, B, T, C, NH, 1 / Math.sqrt(C / NH));
      expectClose(out, reference(qkv, mask, B, T, C, NH), 1e-5, 1e-5, `attention ${B}x${T}x${C}/${NH}`);
      for (let r = 0; r < B * NH * T; r++) {
        const sum = att.subarray(r * T, (r + 1) * T).reduce((a, v) => a + v, 0);
        expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
      }
    }
  });
});

describe('softmax and argmax', () => {
  it('rows sum to 1, match exp/sum, and argmax takes the first maximum', () => {
    const V = 1000, rows = 3;
    const logits = rand(rows * V, 9, 30);
    logits[V + 5] = 100; logits[V + 7] = 100; // a tie: the first wins
    const probs = new Float32Array(rows * V);
    softmaxForward(probs, logits, rows, V);
    for (let r = 0; r < rows; r++) {
      const row = Array.from(logits.subarray(r * V, (r + 1) * V));
      const mx = Math.max(...row), Z = row.reduce((a, v) => a + Math.exp(v - mx), 0);
      expectClose(probs.subarray(r * V, (r + 1) * V), row.map((v) => Math.exp(v - mx) / Z), 1e-7, 1e-5, `softmax row ${r}`);
    }
    const ids = new Int32Array(rows);
    argmax(ids, logits, rows, V);
    expect(ids[1]).toBe(5);
    for (const r of [0, 2]) {
      const row = Array.from(logits.subarray(r * V, (r + 1) * V));
      expect(ids[r]).toBe(row.indexOf(Math.max(...row)));
    }
  });
});
