// Every fast matmul rung against the reference rung (matmulForwardNaive), both layouts, odd shapes
// and random ones: the blocked JS kernel, the wasm kernels on one thread, and across the worker pool.
// Tolerance (symmetric): |got − ref| ≤ atol + rtol·|ref| with rtol = 1e-5 and atol = 1e-5 · max|ref|
// (float32 sums in a different order differ by a few ulps of the output's scale, not of each value).

import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/cpu/backend.ts';
import { matmulForwardBlocked } from '../src/cpu/matmul-blocked.ts';
import { matmulBackwardNaive, matmulForwardNaive } from '../src/cpu/matmul.ts';

const RTOL = 1e-5;
const ATOL_SCALE = 1e-5;

/** deterministic uniform [-1, 1) fill (xorshift32) */
function fill(a: Float32Array, seed: number): Float32Array {
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < a.length; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    a[i] = x / 2 ** 31 - 1;
  }
  return a;
}

/** the symmetric check; returns a message naming the worst element, or null */
function compare(got: Float32Array, ref: Float32Array, rtol = RTOL, atolScale = ATOL_SCALE): string | null {
  let scale = 0;
  for (const v of ref) scale = Math.max(scale, Math.abs(v));
  const atol = atolScale * scale;
  let worst = -1, worstExcess = 0, maxDiff = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i] - ref[i]);
    if (!(d <= maxDiff)) maxDiff = d; // NaN-safe: a NaN diff becomes the max
    const excess = d - (atol + rtol * Math.abs(ref[i]));
    if (!(excess <= 0) && (worst < 0 || !(excess <= worstExcess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst < 0) return null;
  return `max |diff| ${maxDiff.toExponential(3)} (scale ${scale.toExponential(3)}); worst at ${worst}: got ${got[worst]}, want ${ref[worst]}`;
}

type Matmul = (out: Float32Array, inp: Float32Array, w: Float32Array, bias: Float32Array | null,
  M: number, K: number, N: number, transW: boolean) => void;

const wasm1 = new CpuBackend({ kernels: 'wasm', threads: 1 });
const wasm2 = new CpuBackend({ kernels: 'wasm', threads: 2 });
const jsBackend = new CpuBackend({ kernels: 'js' });
afterAll(() => {
  wasm1.dispose();
  wasm2.dispose();
  jsBackend.dispose();
});

/** a rung: how it allocates (heap or plain) and how it multiplies */
const rungs: [string, (n: number) => Float32Array, Matmul][] = [
  ['blocked JS', (n) => new Float32Array(n), matmulForwardBlocked],
  ['wasm, 1 thread', (n) => wasm1.allocF32(n), (...a) => wasm1.matmulForward(...a)],
  ['wasm, pool', (n) => wasm2.allocF32(n), (...a) => wasm2.matmulForward(...a)],
  ['backend kernels: js', (n) => jsBackend.allocF32(n), (...a) => jsBackend.matmulForward(...a)],
];

function check(rung: (typeof rungs)[number], M: number, K: number, N: number, transW: boolean, withBias: boolean, seed: number): string | null {
  const [, alloc, mm] = rung;
  const inp = fill(alloc(M * K), seed);
  const w = fill(alloc(K * N), seed + 1);
  const bias = withBias ? fill(alloc(N), seed + 2) : null;
  const out = fill(alloc(M * N), seed + 3); // garbage in the output must be overwritten
  const ref = new Float32Array(M * N);
  matmulForwardNaive(ref, inp, w, bias, M, K, N, transW);
  mm(out, inp, w, bias, M, K, N, transW);
  return compare(out, ref);
}

describe('the wasm rung is in use', () => {
  it('describes itself', () => {
    expect(wasm1.kernels).toBe('wasm');
    expect(wasm1.description).toMatch(/WebAssembly SIMD/);
    expect(jsBackend.description).toMatch(/JavaScript/);
  });
});

// M = 1 (decode), M < 8 (broadcast tiles), M ≥ 8 (packed panels); columns 1, 7, 33, 96, 1000;
// K 1, 3, 7, 33 (not multiples of 4 or of any block), 300, 1100 (> the K block of 1024)
const shapes: [number, number, number][] = [
  [1, 1, 1], [1, 7, 7], [1, 33, 33], [1, 768, 96], [1, 300, 1000], [1, 3, 50257],
  [2, 5, 7], [3, 33, 1], [5, 7, 96], [7, 300, 33],
  [8, 1, 7], [9, 3, 33], [13, 33, 96], [33, 100, 1000], [64, 768, 96], [17, 1100, 33], [96, 7, 1],
];

for (const rung of rungs) {
  describe(rung[0], () => {
    for (const transW of [false, true]) {
      it(`odd shapes, ${transW ? 'W (N,K) transposed' : 'W (K,N)'}`, () => {
        for (const [M, K, N] of shapes) {
          for (const withBias of [true, false]) {
            const err = check(rung, M, K, N, transW, withBias, M * 7 + K * 3 + N);
            expect(err, `M=${M} K=${K} N=${N} bias=${withBias}: ${err}`).toBeNull();
          }
        }
      });
    }
  });
}

describe('lm-head shape (1 × 768 × 50257, transW)', () => {
  for (const rung of rungs.slice(1, 3)) {
    it(rung[0], () => {
      const err = check(rung, 1, 768, 50257, true, false, 5);
      expect(err, err ?? '').toBeNull();
    });
  }
});

describe('random shapes (fast-check)', () => {
  for (const rung of rungs.slice(1, 3)) {
    it(rung[0], () => {
      fc.assert(fc.property(
        fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1, max: 150 }),
        fc.boolean(), fc.boolean(), fc.integer({ min: 1, max: 1 << 20 }),
        (M, K, N, transW, withBias, seed) => {
          const err = check(rung, M, K, N, transW, withBias, seed);
          if (err) throw new Error(`M=${M} K=${K} N=${N} transW=${transW} bias=${withBias}: ${err}`);
        },
      ), { numRuns: 150 });
    });
  }
});

describe('views and buffers', () => {
  it('reads inputs and writes outputs through views at offsets (as the model does)', () => {
    const M = 9, K = 37, N = 45;
    const big = wasm2.allocF32(10_000);
    fill(big, 3);
    const inp = wasm2.view(big, 101, M * K), w = wasm2.view(big, 3001, K * N), bias = wasm2.view(big, 5003, N);
    const out = wasm2.view(big, 6007, M * N);
    const ref = new Float32Array(M * N);
    matmulForwardNaive(ref, inp, w, bias, M, K, N, false);
    const after = big.slice(6007 + M * N);
    wasm2.matmulForward(out, inp, w, bias, M, K, N, false);
    expect(compare(out, ref)).toBeNull();
    expect(big.slice(6007 + M * N)).toEqual(after); // nothing written past the output
  });

  it('takes the JS rung for buffers outside the wasm heap', () => {
    const M = 5, K = 6, N = 7;
    const inp = fill(new Float32Array(M * K), 1), w = fill(new Float32Array(K * N), 2), out = new Float32Array(M * N);
    const ref = new Float32Array(M * N);
    matmulForwardNaive(ref, inp, w, null, M, K, N, false);
    wasm2.matmulForward(out, inp, w, null, M, K, N, false);
    expect(compare(out, ref)).toBeNull();
  });

  it('upload puts foreign parameters in the heap once, and heap parameters stay in place', () => {
    const plain = fill(new Float32Array(100), 9);
    const up = wasm1.upload(plain);
    expect(up).not.toBe(plain);
    expect(up).toEqual(plain);
    const inHeap = wasm1.allocF32(100);
    expect(wasm1.upload(inHeap)).toBe(inHeap);
  });
});

describe('a row does not depend on the rows multiplied with it (KV-cache decode = full forward)', () => {
  // the same float operations in the same order for M = 1 (GEMV), M = 2..n (packed GEMM) and the
  // transposed layout: row r of an M-row product equals, bit for bit, that row multiplied alone
  for (const [name, be] of [['1 thread', wasm1], ['pool', wasm2]] as const) {
    for (const transW of [false, true]) {
      for (const [M, K, N] of [[13, 768, 96], [5, 1100, 33], [2, 7, 1000], [9, 3000, 40]]) {
        it(`${name}, ${transW ? 'transW' : 'W (K,N)'}, M=${M} K=${K} N=${N}`, () => {
          const inp = fill(be.allocF32(M * K), M + K), w = fill(be.allocF32(K * N), N), bias = fill(be.allocF32(N), 3);
          const all = be.allocF32(M * N);
          be.matmulForward(all, inp, w, bias, M, K, N, transW);
          for (const r of [0, M - 1, M >> 1]) {
            const one = be.allocF32(N);
            be.matmulForward(one, be.view(inp, r * K, K), w, bias, 1, K, N, transW);
            expect(Array.from(one)).toEqual(Array.from(all.subarray(r * N, (r + 1) * N)));
          }
        });
      }
    }
  }
});

describe('backward (dinp, dW, dbias accumulate) against matmulBackwardNaive', () => {
  // The backward is float32 (products and sums, as PyTorch's), so the bound is the float32 one of
  // each result's own sum, not of the output's scale: with S = Σ_p |a_p·b_p| (the reference run on
  // |dout|, |inp|, |W|) and g0 the gradient's value before the call,
  //   |got − ref| ≤ 8·eps32·(|ref| + S)          (eps32 = 2⁻²³; dbias: S = Σ_m |dout[m, n]|)
  // The reference sums in float64. A float32 sum's error on random-sign data stays within a few
  // eps32·S whatever the length (the partial sums grow like √p while S grows like p: measured
  // worst 2.4 eps32·(|ref| + S) over these shapes and the lm-head), while a lost or doubled term
  // or a missed accumulation is an error of ≈ S/P or |g0|, far outside it (P ≤ 50257 here).
  // Gradients start non-zero: the backward must add, not overwrite.
  const EPS32 = 2 ** -23;
  const C_BOUND = 8;
  function bound(got: Float32Array, ref: Float32Array, s: Float32Array): string | null {
    let worst = -1, worstRatio = 0;
    for (let i = 0; i < ref.length; i++) {
      const r = Math.abs(got[i] - ref[i]) / (C_BOUND * EPS32 * (Math.abs(ref[i]) + s[i]));
      if (!(r <= 1) && (worst < 0 || !(r <= worstRatio))) {
        worst = i;
        worstRatio = r;
      }
    }
    if (worst < 0) return null;
    return `${worstRatio.toFixed(2)}× the bound at ${worst}: got ${got[worst]}, want ${ref[worst]} (S ${s[worst]})`;
  }
  function checkBackward(be: CpuBackend, M: number, K: number, N: number, transW: boolean, withBias: boolean, seed: number): string | null {
    const inp = fill(be.allocF32(M * K), seed), w = fill(be.allocF32(K * N), seed + 1), dout = fill(be.allocF32(M * N), seed + 2);
    const dinp = fill(be.allocF32(M * K), seed + 3), dw = fill(be.allocF32(K * N), seed + 4);
    const dbias = withBias ? fill(be.allocF32(N), seed + 5) : null;
    const rInp = dinp.slice(), rW = dw.slice(), rB = dbias?.slice() ?? null;
    matmulBackwardNaive(rInp, rW, rB, dout, inp, w, M, K, N, transW);
    // S per output: the same sums over absolute values, from zero
    const sInp = new Float32Array(M * K), sW = new Float32Array(K * N), sB = new Float32Array(N);
    matmulBackwardNaive(sInp, sW, sB, dout.map(Math.abs), inp.map(Math.abs), w.map(Math.abs), M, K, N, transW);
    be.matmulBackward(dinp, dw, dbias, dout, inp, w, M, K, N, transW);
    const e1 = bound(dinp, rInp, sInp), e2 = bound(dw, rW, sW), e3 = dbias && rB ? bound(dbias, rB, sB) : null;
    for (const x of [inp, w, dout, dinp, dw, dbias]) if (x) be.free(x);
    return e1 ? `dinp: ${e1}` : e2 ? `dW: ${e2}` : e3 ? `dbias: ${e3}` : null;
  }
  // M, K, N each from {1, 3, 7, 33, 96, 1000} (edges of every tile and block), plus shapes past the
  // K blocks of gemm_nnp (512) and the p block of gemm_tn (256: M = 300, 1000)
  const sizes = [1, 3, 7, 33, 96, 1000];
  const odd: [number, number, number][] = [[64, 100, 33], [33, 1100, 17], [13, 5, 2000], [2, 768, 96], [300, 40, 70]];
  for (const M of sizes) for (const K of sizes) for (const N of sizes) if (M * K * N <= 1e7) odd.push([M, K, N]);
  for (const [name, be] of [['1 thread', wasm1], ['pool', wasm2]] as const) {
    for (const transW of [false, true]) {
      it(`${name}, ${transW ? 'W (N,K)' : 'W (K,N)'}, odd shapes`, () => {
        for (const [M, K, N] of odd) {
          const withBias = (M + K + N) % 2 === 0;
          const err = checkBackward(be, M, K, N, transW, withBias, M + 3 * K + 7 * N);
          expect(err, `M=${M} K=${K} N=${N} bias=${withBias}: ${err}`).toBeNull();
        }
      });
    }
    it(`${name}, random shapes (fast-check)`, () => {
      fc.assert(fc.property(
        fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 120 }), fc.integer({ min: 1, max: 120 }),
        fc.boolean(), fc.boolean(), fc.integer({ min: 1, max: 1 << 20 }),
        (M, K, N, transW, withBias, seed) => {
          const err = checkBackward(be, M, K, N, transW, withBias, seed);
          if (err) throw new Error(`M=${M} K=${K} N=${N} transW=${transW} bias=${withBias}: ${err}`);
        },
      ), { numRuns: 80 });
    });
  }
  it('the lm-head shape (256 × 768 × 50257, W (N,K)), pool: sampled rows of dinp and dW', () => {
    // the full reference is 4 × 10 G multiply-adds in JS; rows of both gradients are checked
    // instead: the first and last rows (tile and block edges, 50257 = 4·12564 + 1), rows at
    // every thread item's edge, and random ones, each against its float64 sum and its S
    const M = 256, K = 768, N = 50257, be = wasm2;
    const inp = fill(be.allocF32(M * K), 21), w = fill(be.allocF32(K * N), 22), dout = fill(be.allocF32(M * N), 23);
    const dinp = fill(be.allocF32(M * K), 24), dw = fill(be.allocF32(K * N), 25);
    const dinp0 = dinp.slice(), dw0 = dw.slice();
    be.matmulBackward(dinp, dw, null, dout, inp, w, M, K, N, true);
    const rnd = fill(new Float32Array(200), 26);
    const rowsM = [0, 1, 2, 3, 127, 252, 253, 254, 255];
    const rowsN = [0, 1, 2, 3, 4, 5, 6, 7, 50248, 50252, 50253, 50254, 50255, 50256];
    for (let t = 1; t < 64; t++) rowsN.push(Math.floor(N * t / 64) & ~3, (Math.floor(N * t / 64) & ~3) - 1);
    for (const r of rnd) rowsN.push(Math.floor((r + 1) / 2 * N));
    const got = new Float32Array(K), ref = new Float32Array(K), sAbs = new Float32Array(K);
    const acc = new Float64Array(K), accAbs = new Float64Array(K);
    const check = (what: string, row: number, g: Float32Array, g0: Float32Array): void => {
      for (let k = 0; k < K; k++) {
        got[k] = g[row * K + k];
        ref[k] = g0[row * K + k] + acc[k];
        sAbs[k] = accAbs[k];
      }
      const err = bound(got, ref, sAbs);
      expect(err, `${what} row ${row}: ${err}`).toBeNull();
    };
    for (const m of rowsM) { // dinp[m, :] = g0 + Σ_n dout[m, n]·W[n, :]
      acc.fill(0); accAbs.fill(0);
      for (let n = 0; n < N; n++) {
        const d = dout[m * N + n];
        for (let k = 0; k < K; k++) { const x = d * w[n * K + k]; acc[k] += x; accAbs[k] += Math.abs(x); }
      }
      check('dinp', m, dinp, dinp0);
    }
    for (const n of rowsN) { // dW[n, :] = g0 + Σ_m dout[m, n]·inp[m, :]
      acc.fill(0); accAbs.fill(0);
      for (let m = 0; m < M; m++) {
        const d = dout[m * N + n];
        for (let k = 0; k < K; k++) { const x = d * inp[m * K + k]; acc[k] += x; accAbs[k] += Math.abs(x); }
      }
      check('dW', n, dw, dw0);
    }
    for (const x of [inp, w, dout, dinp, dw]) be.free(x);
  }, 60_000);
  it('results do not depend on the thread count', () => {
    for (const [M, K, N, transW] of [[33, 96, 1000, false], [300, 1000, 33, true], [96, 1000, 1000, false]] as const) {
      const out = [wasm1, wasm2].map((be) => {
        const inp = fill(be.allocF32(M * K), 1), w = fill(be.allocF32(K * N), 2), dout = fill(be.allocF32(M * N), 3);
        const dinp = fill(be.allocF32(M * K), 4), dw = fill(be.allocF32(K * N), 5);
        be.matmulBackward(dinp, dw, null, dout, inp, w, M, K, N, transW);
        return [Array.from(dinp), Array.from(dw)];
      });
      expect(out[1][0]).toEqual(out[0][0]);
      expect(out[1][1]).toEqual(out[0][1]);
    }
  });
});
