// Sampling: Hugging Face's warpers (temperature, top-k, top-p) and the seeded PRNG.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Rng } from '../src/generate/rng.ts';
import { kthLargest, sampleFromLogits, validateSampling, warpLogits } from '../src/generate/sampling.ts';

const logitsArb = fc.array(fc.float({ min: -20, max: 20, noNaN: true }), { minLength: 1, maxLength: 300 }).map((a) => Float32Array.from(a));

describe('PCG32', () => {
  it('matches the reference pcg32 stream (seed 42, stream 54)', () => {
    const r = new Rng(42, 54);
    // pcg32-demo's first outputs: 0xa15c02b7 0x7b47f409 0xba1d3330
    expect([r.nextU32(), r.nextU32(), r.nextU32()]).toEqual([0xa15c02b7, 0x7b47f409, 0xba1d3330]);
  });
  it('next() is in [0, 1) and state round-trips', () => {
    const r = new Rng(7);
    for (let i = 0; i < 1000; i++) {
      const u = r.next();
      expect(u >= 0 && u < 1).toBe(true);
    }
    const s = r.getState();
    const a = [r.next(), r.next()];
    const r2 = new Rng(0);
    r2.setState(s);
    expect([r2.next(), r2.next()]).toEqual(a);
  });
});

describe('warpers', () => {
  it('top-k never samples outside the k best (ties at the boundary kept)', () => {
    fc.assert(fc.property(logitsArb, fc.integer({ min: 1, max: 400 }), fc.integer(), (logits, k, seed) => {
      const w = logits.slice();
      warpLogits(w, { doSample: true, temperature: 1, topK: k, topP: 1 });
      const kth = kthLargest(logits, Math.min(k, logits.length));
      const rng = new Rng(seed);
      for (let i = 0; i < 20; i++) expect(logits[sampleFromLogits(w, rng)]).toBeGreaterThanOrEqual(kth);
      // exactly the values ≥ kth survive
      for (let i = 0; i < w.length; i++) expect(w[i] === -Infinity).toBe(logits[i] < kth);
    }));
  });

  it('top-p never samples outside the nucleus, and always keeps the most likely token', () => {
    fc.assert(fc.property(logitsArb, fc.double({ min: 0.01, max: 1, noNaN: true }), fc.integer(), (logits, p, seed) => {
      const w = logits.slice();
      warpLogits(w, { doSample: true, temperature: 1, topK: 0, topP: p });
      // float64 probabilities; a token is in the nucleus when the mass strictly above it is < p
      const max = Math.max(...logits);
      const e = Array.from(logits, (x) => Math.exp(x - max));
      const Z = e.reduce((a, b) => a + b, 0);
      const massAbove = (i: number): number => e.reduce((s, x, j) => s + (logits[j] > logits[i] ? x : 0), 0) / Z;
      const rng = new Rng(seed);
      for (let n = 0; n < 20; n++) expect(massAbove(sampleFromLogits(w, rng))).toBeLessThan(p + 1e-6);
      // a most likely token survives (with ties, the one HF keeps is the last in index order: see below)
      expect(Array.from(logits).some((x, i) => x === max && w[i] !== -Infinity)).toBe(true);
    }));
  });

  it('top-p with tied logits removes what HF removes (a stable ascending sort: the last tie survives)', () => {
    // expected masks from TopPLogitsWarper's code run in torch 1.13 (/usr/bin/python3):
    // sort ascending, cumsum of the softmax, remove cumprobs ≤ 1 - top_p, keep the last entry
    const cases: [number[], number, boolean[]][] = [
      [[20, 20], 0.01, [true, false]],
      [[1, 3, 3, 0.5, 3], 0.3, [true, true, true, true, false]],
    ];
    for (const [logits, topP, removed] of cases) {
      const w = Float32Array.from(logits);
      warpLogits(w, { doSample: true, temperature: 1, topK: 0, topP });
      expect(Array.from(w, (x) => x === -Infinity)).toEqual(removed);
    }
  });

  it('temperature divides the logits', () => {
    const w = Float32Array.from([1, 2, 4]);
    warpLogits(w, { doSample: true, temperature: 2, topK: 0, topP: 1 });
    expect(Array.from(w)).toEqual([0.5, 1, 2]);
  });

  it('sampling follows the softmax distribution', () => {
    const logits = Float32Array.from([0, Math.log(2), Math.log(7)]);
    const rng = new Rng(1);
    const counts = [0, 0, 0];
    const N = 20000;
    for (let i = 0; i < N; i++) counts[sampleFromLogits(logits, rng)]++;
    // expected 0.1, 0.2, 0.7; 5 standard deviations of a binomial at N = 20000 is < 0.016
    expect(Math.abs(counts[0] / N - 0.1)).toBeLessThan(0.016);
    expect(Math.abs(counts[1] / N - 0.2)).toBeLessThan(0.016);
    expect(Math.abs(counts[2] / N - 0.7)).toBeLessThan(0.016);
  });

  it('bad settings are clear errors', () => {
    expect(() => validateSampling({ doSample: true, temperature: 0, topK: 50, topP: 1 })).toThrow(/temperature/);
    expect(() => validateSampling({ doSample: true, temperature: 1, topK: -1, topP: 1 })).toThrow(/top_k/);
    expect(() => validateSampling({ doSample: true, temperature: 1, topK: 5, topP: 0 })).toThrow(/top_p/);
    expect(() => validateSampling({ doSample: true, temperature: 1, topK: 5, topP: 1.5 })).toThrow(/top_p/);
    expect(() => sampleFromLogits(Float32Array.from([-Infinity, -Infinity]), new Rng(1))).toThrow(/filtered/);
  });
});
