// The layer ops other than matmul and attention, on every backend, against float64 references:
// encoder, LayerNorm, gelu_new, residual, softmax, argmax, and the memory ops (views, offsets,
// copies, zeroing, reads of a prefix). Odd sizes (C 96, V 1000, a single row), views that start
// anywhere (the WebGPU backend stages unaligned ones), and ops in place.

import { expect, it } from 'vitest';
import { GELU_SCALE } from '../src/cpu/gelu.ts';
import { describeBackends, put, putI32, uniform } from './helpers/backends.ts';
import { expectClose, fixtureExpected } from './helpers/fixtures.ts';

function layernormRef(x: Float32Array, w: Float32Array, b: Float32Array, N: number, C: number, eps: number) {
  const out = new Float64Array(N * C), mean = new Float64Array(N), rstd = new Float64Array(N);
  for (let r = 0; r < N; r++) {
    let s = 0;
    for (let c = 0; c < C; c++) s += x[r * C + c];
    const m = s / C;
    let v = 0;
    for (let c = 0; c < C; c++) v += (x[r * C + c] - m) ** 2;
    const rs = 1 / Math.sqrt(v / C + eps);
    for (let c = 0; c < C; c++) out[r * C + c] = (x[r * C + c] - m) * rs * w[c] + b[c];
    mean[r] = m;
    rstd[r] = rs;
  }
  return { out, mean, rstd };
}

const gelu = (x: number): number => 0.5 * x * (1 + Math.tanh(GELU_SCALE * (x + 0.044715 * x ** 3)));

describeBackends('layer ops', ({ be }) => {
  it('encoder: wte[ids] + wpe[pos0 + t], B 2 × T 33, C 96, V 1000, from position 0 and 5', async () => {
    const b = be();
    const B = 2, T = 33, C = 96, V = 1000, P = 64;
    const wte = uniform(V * C, 1, 0.1), wpe = uniform(P * C, 2, 0.05);
    const ids = Array.from({ length: B * T }, (_, i) => (i * 379 + 11) % V);
    ids[0] = 0;
    ids[1] = V - 1;
    for (const pos0 of [0, 5]) {
      const out = b.allocF32(B * T * C);
      b.encoderForward(out, putI32(b, ids), put(b, wte), put(b, wpe), B, T, C, pos0);
      const ref = new Float64Array(B * T * C);
      for (let r = 0; r < B * T; r++) {
        for (let c = 0; c < C; c++) ref[r * C + c] = wte[ids[r] * C + c] + wpe[(pos0 + (r % T)) * C + c];
      }
      expectClose(await b.readF32(out), ref, 1e-7, 1e-7, `encoder pos0=${pos0}`);
    }
  });

  it('layernorm: biased variance, eps 1e-5, mean and rstd; 33 × 96, one row, a large offset', async () => {
    const b = be();
    for (const [N, C, shift] of [[33, 96, 0], [1, 768, 0], [4, 7, 0], [5, 64, 30]]) {
      const x = uniform(N * C, N + C, 1.5).map((v) => v + shift); // |mean| ≫ std in the last case
      const w = uniform(C, 3, 0.1).map((v) => v + 1), bb = uniform(C, 4, 0.02);
      const out = b.allocF32(N * C), mean = b.allocF32(N), rstd = b.allocF32(N);
      b.layernormForward(out, mean, rstd, put(b, x), put(b, w), put(b, bb), N, C, 1e-5);
      const ref = layernormRef(x, w, bb, N, C, 1e-5);
      // float32 inputs of size |shift| carry 1e-6 relative rounding, amplified by rstd
      const tol = shift ? 1e-4 : 1e-5;
      expectClose(await b.readF32(out), ref.out, tol, 1e-5, `layernorm ${N}×${C}`);
      expectClose(await b.readF32(mean), ref.mean, 1e-6, 1e-6, `mean ${N}×${C}`);
      expectClose(await b.readF32(rstd), ref.rstd, 1e-5, 1e-5, `rstd ${N}×${C}`);
      // without the statistics
      const out2 = b.allocF32(N * C);
      b.layernormForward(out2, null, null, put(b, x), put(b, w), put(b, bb), N, C, 1e-5);
      expectClose(await b.readF32(out2), ref.out, tol, 1e-5, `layernorm ${N}×${C} (no stats)`);
    }
  });

  it('gelu_new: the fixture probe (-6..6), large arguments, and in place', async () => {
    const b = be();
    const exp = fixtureExpected('gpt2-tiny');
    const gx = exp.readF32('gelu.x'), gy = exp.readF32('gelu.y');
    const out = b.allocF32(gx.length);
    b.geluForward(out, put(b, gx), gx.length);
    expectClose(await b.readF32(out), gy, 1e-6, 0, 'gelu.y');
    // far tails (tanh = ±1), odd length, and out = inp
    const x = Float32Array.from([-100, -20, -9.5, -3e-4, 0, 1e-7, 2.5, 9.5, 20, 100, 1e4]);
    const buf = put(b, x);
    b.geluForward(buf, buf, x.length);
    expectClose(await b.readF32(buf), Array.from(x, gelu), 1e-6, 1e-6, 'gelu tails, in place');
  });

  it('residual: out = a + b over 1000 elements, and in place (out = a)', async () => {
    const b = be();
    const n = 1000, x = uniform(n, 5), y = uniform(n, 6);
    const out = b.allocF32(n);
    b.residualForward(out, put(b, x), put(b, y), n);
    const ref = Array.from(x, (v, i) => Math.fround(v + y[i])); // one float32 rounding: exact
    expectClose(await b.readF32(out), ref, 0, 0, 'residual');
    const xa = put(b, x);
    b.residualForward(xa, xa, put(b, y), n);
    expectClose(await b.readF32(xa), ref, 0, 0, 'residual in place');
  });

  it('softmax over V 1000 and 50257 columns, one and three rows', async () => {
    const b = be();
    for (const [rows, V] of [[3, 1000], [1, 50257], [2, 5]]) {
      const x = uniform(rows * V, V, 8);
      const probs = b.allocF32(rows * V);
      b.softmaxForward(probs, put(b, x), rows, V);
      const ref = new Float64Array(rows * V);
      for (let r = 0; r < rows; r++) {
        const row = x.subarray(r * V, (r + 1) * V);
        const m = Math.max(...row);
        let s = 0;
        for (const v of row) s += Math.exp(v - m);
        for (let i = 0; i < V; i++) ref[r * V + i] = Math.exp(row[i] - m) / s;
      }
      expectClose(await b.readF32(probs), ref, 1e-7, 1e-5, `softmax ${rows}×${V}`);
    }
  });

  it('argmax: the first maximum, ties, negative rows, V 1000 and 50257', async () => {
    const b = be();
    const V = 1000, rows = 4;
    const x = uniform(rows * V, 9, 3);
    x[0 * V + 17] = 5; x[0 * V + 900] = 5; // tie: the first wins
    x[1 * V + 999] = 9; // the last column
    for (let i = 0; i < V; i++) x[2 * V + i] = -1e30 - i; // all very negative: column 0
    x[3 * V + 0] = 3.5; x[3 * V + 1] = 3.5; // tie at the start
    const out = b.allocI32(rows);
    b.argmax(out, put(b, x), rows, V);
    expect(Array.from(await b.readI32(out))).toEqual([17, 999, 0, 0]);
    const big = uniform(50257, 10, 1);
    big[50000] = 2;
    const o2 = b.allocI32(1);
    b.argmax(o2, put(b, big), 1, 50257);
    expect((await b.readI32(o2))[0]).toBe(50000);
  });

  it('memory: views at any offset, writes at an offset, copies, zero, partial reads', async () => {
    const b = be();
    const n = 300;
    const buf = put(b, uniform(n, 11));
    const src = await b.readF32(buf);
    // an unaligned view as an op's input and output (WebGPU stages these through scratch)
    const v1 = b.view(buf, 3, 100), v2 = b.view(buf, 131, 100);
    b.residualForward(v2, v1, v1, 100);
    b.writeF32(buf, Float32Array.from([1, 2, 3]), 250);
    const dst = b.allocF32(50);
    b.copyF32(dst, 7, buf, 249, 5);
    const z = put(b, Float32Array.from({ length: 10 }, () => 4));
    b.zero(z, 6);
    const all = await b.readF32(buf);
    for (let i = 0; i < 100; i++) expect(all[131 + i]).toBe(src[3 + i] * 2);
    expect(Array.from(all.subarray(250, 253))).toEqual([1, 2, 3]);
    expect(all[3]).toBe(src[3]);
    expect(all[130]).toBe(src[130]);
    expect(all[231]).toBe(src[231]);
    const d = await b.readF32(dst);
    expect(Array.from(d.subarray(7, 12))).toEqual([src[249], 1, 2, 3, src[253]]);
    expect(Array.from(await b.readF32(z))).toEqual([0, 0, 0, 0, 0, 0, 4, 4, 4, 4]);
    expect((await b.readF32(buf, 2)).length).toBe(2);
    // copies within one buffer, overlapping ranges included (memmove semantics)
    const same = put(b, Float32Array.from({ length: 20 }, (_, i) => i));
    b.copyF32(same, 12, same, 1, 3);
    b.copyF32(same, 3, same, 2, 4);
    expect(Array.from(await b.readF32(same))).toEqual([0, 1, 2, 2, 3, 4, 5, 7, 8, 9, 10, 11, 1, 2, 3, 15, 16, 17, 18, 19]);
    const ints = putI32(b, [5, -6, 7]);
    expect(Array.from(await b.readI32(ints))).toEqual([5, -6, 7]);
    expect(Array.from(await b.readF32(b.allocF32(3)))).toEqual([0, 0, 0]);
  });

  it('a freed buffer comes back zero-filled', async () => {
    const b = be();
    const a = put(b, Float32Array.from({ length: 64 }, () => 1));
    await b.sync();
    b.free(a);
    const c = b.allocF32(64);
    expect(Array.from(await b.readF32(c))).toEqual(new Array(64).fill(0));
  });
});
