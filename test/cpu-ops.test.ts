// The wasm rung of the non-matmul ops against their JavaScript references (the reference rung):
// GELU (cpu/gelu.ts), the cross-entropy (cpu/crossentropy.ts), attention forward / cached /
// backward (cpu/attention.ts), the optimizer passes (train/adamw.ts, train/clip.ts), and the
// backward GEMM's independence from the thread count. Odd shapes, views at offsets, fast-check.

import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/cpu/backend.ts';
import { attentionBackward, attentionCached, attentionDropoutForward, attentionForward, kvCacheWrite } from '../src/cpu/attention.ts';
import { crossEntropyBackward, crossEntropyForward } from '../src/cpu/crossentropy.ts';
import { geluBackward, geluForward } from '../src/cpu/gelu.ts';
import { ADAMW_DEFAULTS, type AdamWConfig, adamwScalars, adamwStep, createAdamWState } from '../src/train/adamw.ts';
import { clipCoef, clipGradNorm, gradNorm } from '../src/train/clip.ts';
import { FIXTURE_SETS, expectClose, fixtureExpected } from './helpers/fixtures.ts';

const pool = new CpuBackend({ kernels: 'wasm', threads: 2 });
const one = new CpuBackend({ kernels: 'wasm', threads: 1 });
afterAll(() => {
  pool.dispose();
  one.dispose();
});

/** deterministic uniform [lo, hi) fill (xorshift32) */
function fill(a: Float32Array, seed: number, lo = -1, hi = 1): Float32Array {
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < a.length; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    a[i] = lo + (hi - lo) * (x / 2 ** 32);
  }
  return a;
}

/** max |got − want| / (atol + rtol·|want|) over the elements: ≤ 1 passes */
function worst(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number): number {
  let w = 0;
  for (let i = 0; i < want.length; i++) {
    const r = Math.abs(got[i] - want[i]) / (atol + rtol * Math.abs(want[i]));
    if (!(r <= w)) w = Number.isNaN(r) ? Infinity : r;
  }
  return w;
}

describe('GELU on the wasm kernels', () => {
  it.each(FIXTURE_SETS)('matches gelu.y (1e-6) and gelu.dy (1e-5) on -6..6 (%s)', (set) => {
    const exp = fixtureExpected(set);
    const xs = exp.readF32('gelu.x');
    const x = pool.allocF32(xs.length), y = pool.allocF32(xs.length), d = pool.allocF32(xs.length), ones = pool.allocF32(xs.length);
    x.set(xs);
    ones.fill(1);
    d.fill(0.5);
    pool.geluForward(y, x, x.length);
    pool.geluBackward(d, x, ones, x.length);
    expectClose(y, exp.readF32('gelu.y'), 1e-6, 0, 'gelu.y');
    expectClose(d.map((v) => v - 0.5), exp.readF32('gelu.dy'), 1e-5, 0, 'gelu.dy');
  });

  it('agrees with the reference on odd lengths, wide inputs and views at offsets', () => {
    for (const n of [1, 3, 7, 33, 1000, 50257, 200_003]) {
      for (const be of [one, pool]) {
        const big = be.allocF32(n + 13);
        fill(big, n, -12, 12);
        const x = be.view(big, 5, n);
        const y = be.allocF32(n + 8), yr = new Float32Array(n);
        const out = be.view(y, 3, n);
        be.geluForward(out, x, n);
        geluForward(yr, x, n);
        // float32 arithmetic against the float64 reference rounded once: a few ulps
        expect(worst(out, yr, 1e-7, 4e-7), `forward n=${n}`).toBeLessThanOrEqual(1);
        expect(y[2]).toBe(0); // nothing written outside the view
        expect(y[n + 3]).toBe(0);
        const dout = fill(be.allocF32(n), n + 1), dinp = fill(be.allocF32(n), n + 2), dr = dinp.slice();
        be.geluBackward(dinp, x, dout, n);
        geluBackward(dr, x, dout, n);
        expect(worst(dinp, dr, 1e-6, 1e-6), `backward n=${n}`).toBeLessThanOrEqual(1);
      }
    }
  });
});

describe('cross-entropy on the wasm kernels', () => {
  it('losses and dlogits agree with the reference (odd V, ignored rows, large logits)', () => {
    for (const [rows, V] of [[1, 1], [3, 7], [5, 33], [4, 1000], [3, 50257], [9, 777]]) {
      for (const be of [one, pool]) {
        const logits = fill(be.allocF32(rows * V), rows + V, -8, 8);
        if (V > 5) logits[3] = 40; // a dominant logit
        const targets = Int32Array.from({ length: rows }, (_, r) => (r === 1 ? -100 : (r * 7919) % V));
        const losses = be.allocF32(rows), lr = new Float32Array(rows);
        be.crossEntropyForward(losses, logits, targets, rows, V);
        crossEntropyForward(lr, logits, targets, rows, V);
        expect(worst(losses, lr, 1e-6, 1e-6), `loss rows=${rows} V=${V}`).toBeLessThanOrEqual(1);
        const dl = fill(be.allocF32(rows * V), 3, -1e-3, 1e-3), dr = dl.slice();
        be.crossEntropyBackward(dl, logits, targets, rows, V, 0.37);
        crossEntropyBackward(dr, logits, targets, rows, V, 0.37);
        // float32 exponentials (1–2 ulps) against float64: relative to the row's scale
        expect(worst(dl, dr, 1e-8, 1e-6), `dlogits rows=${rows} V=${V}`).toBeLessThanOrEqual(1);
      }
    }
  });

  it('rejects a target outside the vocabulary, as the reference', () => {
    const logits = pool.allocF32(6);
    expect(() => pool.crossEntropyForward(pool.allocF32(2), logits, Int32Array.of(1, 3), 2, 3)).toThrow(/outside the vocabulary/);
    expect(() => pool.crossEntropyBackward(pool.allocF32(6), logits, Int32Array.of(-1, 0), 2, 3, 1)).toThrow(/outside the vocabulary/);
  });
});

describe('attention on the wasm kernels', () => {
  interface Case { B: number; T: number; NH: number; hs: number; masked: boolean; dropout: boolean; seed: number }
  /** every op of one case on `be`, against the reference; returns the worst ratios */
  function run(be: CpuBackend, k: Case): void {
    const { B, T, NH, hs } = k;
    const C = NH * hs, scale = 1 / Math.sqrt(hs);
    const qkv = fill(be.allocF32(B * T * 3 * C), k.seed, -2, 2);
    // padding mask with holes, including a batch row whose first keys are all masked
    const mask = k.masked ? Int32Array.from({ length: B * T }, (_, i) => ((i % T) % 3 === 1 || (i < T && i % T < 2) ? 0 : 1)) : null;
    const drop = k.dropout ? Float32Array.from({ length: B * NH * T * T }, (_, i) => ((i * 2654435761) % 7 === 0 ? 0 : 1 / 0.9)) : null;
    const dropH = drop ? be.allocF32(drop.length) : null;
    if (dropH && drop) dropH.set(drop);
    const out = be.allocF32(B * T * C), att = be.allocF32(B * NH * T * T);
    const outR = new Float32Array(B * T * C), attR = new Float32Array(B * NH * T * T);
    if (dropH && drop) {
      be.attentionDropoutForward(out, att, dropH, qkv, mask, T, B, T, C, NH, scale);
      attentionDropoutForward(outR, attR, drop, qkv, mask, T, B, T, C, NH, scale);
    } else {
      be.attentionForward(out, att, qkv, mask, T, B, T, C, NH, scale);
      attentionForward(outR, attR, qkv, mask, T, B, T, C, NH, scale);
    }
    const label = JSON.stringify(k);
    // the reference rounds out to float32 at every key; the kernel sums in float64 and rounds once
    expect(worst(out, outR, 1e-6, 1e-6), `out ${label}`).toBeLessThanOrEqual(1);
    expect(worst(att, attR, 1e-7, 1e-6), `att ${label}`).toBeLessThanOrEqual(1);

    const dout = fill(be.allocF32(B * T * C), k.seed + 1);
    const dqkv = fill(be.allocF32(B * T * 3 * C), k.seed + 2), dqkvR = dqkv.slice();
    be.attentionBackward(dqkv, dout, qkv, att, dropH, mask, T, B, T, C, NH, scale);
    attentionBackward(dqkvR, dout, qkv, att, drop, mask, T, B, T, C, NH, scale);
    expect(worst(dqkv, dqkvR, 1e-6, 1e-6), `dqkv ${label}`).toBeLessThanOrEqual(1);

    // decode: the cached rows equal the full forward's (the same row code); chunks of 1 and 2
    if (!drop) {
      const cap = T + 1;
      const cache = { k: be.allocF32(B * NH * cap * hs), v: be.allocF32(B * NH * cap * hs) };
      const maskC = mask ? Int32Array.from({ length: B * cap }, (_, i) => (i % cap < T ? mask[Math.floor(i / cap) * T + (i % cap)] : 1)) : null;
      for (let pos0 = 0; pos0 < T;) {
        const n = Math.min(T - pos0, pos0 % 2 ? 2 : 1);
        const chunk = be.allocF32(B * n * 3 * C), o = be.allocF32(B * n * C), oR = new Float32Array(B * n * C);
        for (let b = 0; b < B; b++) chunk.set(qkv.subarray((b * T + pos0) * 3 * C, (b * T + pos0 + n) * 3 * C), b * n * 3 * C);
        kvCacheWrite(cache, chunk, B, n, C, NH, pos0, cap);
        be.attentionCached(o, chunk, cache, maskC, cap, B, n, C, NH, pos0, cap, scale);
        attentionCached(oR, chunk, cache, maskC, cap, B, n, C, NH, pos0, cap, scale);
        expect(worst(o, oR, 1e-6, 1e-6), `cached ${label} pos0 ${pos0}`).toBeLessThanOrEqual(1);
        for (let b = 0; b < B; b++) {
          const full = out.subarray((b * T + pos0) * C, (b * T + pos0 + n) * C);
          expect(Array.from(o.subarray(b * n * C, (b + 1) * n * C)), `cached = full, ${label} pos0 ${pos0}`).toEqual(Array.from(full));
        }
        pos0 += n;
      }
    }
  }

  it('forward, dropout, mask, backward and cached decode on odd shapes', () => {
    const cases: Case[] = [];
    let seed = 1;
    for (const [B, T, NH, hs] of [[1, 1, 1, 1], [1, 7, 2, 3], [2, 9, 3, 16], [3, 33, 5, 6], [1, 64, 12, 64], [2, 17, 1, 7]]) {
      for (const masked of [false, true]) for (const dropout of [false, true]) cases.push({ B, T, NH, hs, masked, dropout, seed: seed++ });
    }
    for (const k of cases) for (const be of [one, pool]) run(be, k);
  });

  it('random shapes (fast-check)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 20 }),
      fc.boolean(), fc.boolean(), fc.integer({ min: 1, max: 1 << 20 }),
      (B, T, NH, hs, masked, dropout, seed) => run(pool, { B, T, NH, hs, masked, dropout, seed }),
    ), { numRuns: 40 });
  });
});

describe('optimizer passes on the wasm kernels', () => {
  // tensors of odd sizes at odd offsets, padding between them, decayed and not
  const specs = [
    { name: 'a', shape: [7, 5], offset: 3, numel: 35, decay: true },
    { name: 'b', shape: [1], offset: 40, numel: 1, decay: false },
    { name: 'c', shape: [300, 333], offset: 64, numel: 99_900, decay: true },
    { name: 'd', shape: [70_001], offset: 100_000, numel: 70_001, decay: false },
  ];
  const N = 170_010;

  /** params, grads, m, v in the heap, with padding values (p, m, v) that must stay untouched */
  function state(seed: number): { p: Float32Array; g: Float32Array; m: Float32Array; v: Float32Array } {
    const p = fill(pool.allocF32(N), seed), g = fill(pool.allocF32(N), seed + 1, -3, 3);
    const m = fill(pool.allocF32(N), seed + 2, -0.1, 0.1), v = fill(pool.allocF32(N), seed + 3, 0, 0.01);
    // the gradients' padding is zero, as in a gradient buffer (clipGradNorm scales it, the kernel skips it)
    let end = 0;
    for (const s of specs) {
      g.fill(0, end, s.offset);
      end = s.offset + s.numel;
    }
    g.fill(0, end);
    return { p, g, m, v };
  }

  it('AdamW with and without clipping equals clipGradNorm + adamwStep bit for bit (padding untouched)', () => {
    for (const [cfg, lr, maxNorm] of [[ADAMW_DEFAULTS, 1e-3, 1], [{ ...ADAMW_DEFAULTS, weightDecay: 0.1, eps: 1e-6 }, 3e-4, 1e9]] as [AdamWConfig, number, number][]) {
      for (const be of [one, pool]) {
        const s = state(7), r = { p: s.p.slice(), g: s.g.slice(), m: s.m.slice(), v: s.v.slice() };
        const st = { step: 4, m: r.m, v: r.v };
        const { coef } = clipGradNorm(r.g, maxNorm);
        adamwStep(r.p, r.g, st, specs, cfg, lr);
        const norm = Math.sqrt(be.sumSquares(s.g) ?? NaN);
        expect(Math.abs(norm - gradNorm(s.g)) / norm).toBeLessThan(1e-13);
        const c = clipCoef(norm, maxNorm);
        expect(c).toBeCloseTo(coef, 14);
        const done = be.adamwUpdate(s.p, s.g, s.m, s.v, specs, { beta1: cfg.beta1, beta2: cfg.beta2, eps: cfg.eps, ...adamwScalars(cfg, lr, 5), coef });
        expect(done).toBe(true);
        for (const [name, got, want] of [['p', s.p, r.p], ['g', s.g, r.g], ['m', s.m, r.m], ['v', s.v, r.v]] as const) {
          let same = true;
          for (let i = 0; i < N; i++) if (!Object.is(got[i], want[i])) same = false;
          expect(same, `${name} (maxNorm ${maxNorm})`).toBe(true);
        }
      }
    }
  });

  it('createAdamWState puts the moments in the wasm heap', () => {
    const st = createAdamWState(1000);
    const mm = st.m;
    expect(pool.adamwUpdate(pool.allocF32(1000), pool.allocF32(1000), mm, st.v, [{ offset: 0, numel: 1000, decay: true }],
      { beta1: 0.9, beta2: 0.999, eps: 1e-8, ...adamwScalars(ADAMW_DEFAULTS, 1e-3, 1), coef: 1 })).toBe(true);
  });

  it('outside the heap: false, nothing done (the caller runs the JS loop)', () => {
    const plain = new Float32Array(10);
    expect(pool.sumSquares(plain)).toBeNull();
    expect(pool.adamwUpdate(plain, plain, plain, plain, [{ offset: 0, numel: 10, decay: true }],
      { beta1: 0.9, beta2: 0.999, eps: 1e-8, ...adamwScalars(ADAMW_DEFAULTS, 1e-3, 1), coef: 1 })).toBe(false);
  });
});

describe('the backward GEMM does not depend on the thread count', () => {
  it('1 thread and the pool give the same bits (odd shapes past every block size, both layouts)', () => {
    for (const [M, K, N] of [[257, 300, 131], [5, 1030, 9], [130, 7, 700], [1, 129, 3]]) {
      for (const transW of [false, true]) {
        const run = (be: CpuBackend): Float32Array[] => {
          const inp = fill(be.allocF32(M * K), M), w = fill(be.allocF32(K * N), K), dout = fill(be.allocF32(M * N), N);
          const dinp = fill(be.allocF32(M * K), 1), dw = fill(be.allocF32(K * N), 2), db = fill(be.allocF32(N), 3);
          be.matmulBackward(dinp, dw, transW ? null : db, dout, inp, w, M, K, N, transW);
          return [dinp, dw, db];
        };
        const a = run(one), b = run(pool);
        for (let i = 0; i < 3; i++) expect(Array.from(b[i]), `M=${M} K=${K} N=${N} transW=${transW} #${i}`).toEqual(Array.from(a[i]));
      }
    }
  });
});
