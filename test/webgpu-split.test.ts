// Tensors larger than one storage binding: the planning functions (split.ts) on their own, with
// fast-check over random sizes and limits; then the WebGPU ops and the whole model run with an
// artificially small binding limit against the CPU; then the real case: a 124M-shaped lm-head
// (50257 × 768 floats, 154 MB) against the device's own 128 MiB limit.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeConfig } from '../src/config.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { allocActivations } from '../src/model/activations.ts';
import { gpt2Forward, uploadParams } from '../src/model/gpt2.ts';
import { randomParams } from '../src/params.ts';
import type { GpuBuf, WebGPUBackend } from '../src/webgpu/index.ts';
import { planMatmul, planRows, rowAlign, rowsPerChunk } from '../src/webgpu/split.ts';
import { type AnyBackend, describeBackends, extraWebGPU, put, putI32, uniform } from './helpers/backends.ts';
import { expectClose } from './helpers/fixtures.ts';

describe('split planning', () => {
  it('rows per chunk keep chunk starts on 256 bytes', () => {
    expect(rowAlign(768)).toBe(1);
    expect(rowAlign(96)).toBe(2);
    expect(rowAlign(50257)).toBe(64);
    expect(rowsPerChunk([768], 128 << 20)).toBe(43690);
    expect(rowsPerChunk([768, 50257], 128 << 20)).toBe(640);
    expect(() => rowsPerChunk([1000], 1000)).toThrow(/cannot be split/);
  });

  it('the 124M lm-head: wte in 2 row chunks; a 1024-token prefill also splits its logits rows', () => {
    const limit = 128 << 20;
    expect(planMatmul(1, 768, 50257, true, limit).map((p) => [p.n0, p.nc])).toEqual([[0, 43690], [43690, 6567]]);
    const big = planMatmul(1024, 768, 50257, true, limit);
    expect(big.map((p) => [p.m0, p.mc, p.n0, p.nc])).toEqual([
      [0, 640, 0, 43690], [0, 640, 43690, 6567], [640, 384, 0, 43690], [640, 384, 43690, 6567],
    ]);
    expect(() => planMatmul(4, 768, 50257, false, limit)).toThrow(/exceeds one storage binding/);
  });

  it('every plan covers out exactly once with aligned bindings within the limit (property)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 3000 }),
      fc.integer({ min: 4, max: 64 }),
      (M, K, N, kib) => {
        const limit = kib * 1024;
        if (N * 4 > limit || 64 * Math.max(K, N) * 4 > limit) return; // a plan may rightly refuse
        const plan = planMatmul(M, K, N, true, limit);
        const hits = new Uint8Array(M * N);
        for (const { m0, mc, n0, nc } of plan) {
          // bindings: out rows, inp rows, w rows; each start aligned to 64 floats, each ≤ limit
          for (const [start, n] of [[m0 * N, mc * N], [m0 * K, mc * K], [n0 * K, nc * K]]) {
            expect(start % 64).toBe(0);
            expect(n * 4 <= limit || mc === M).toBe(true);
          }
          for (let m = m0; m < m0 + mc; m++) for (let n = n0; n < n0 + nc; n++) hits[m * N + n]++;
        }
        expect(hits.every((h) => h === 1)).toBe(true);
      }), { numRuns: 300 });
  });

  it('row plans cover the rows once in aligned chunks', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 2000 }), fc.integer({ min: 64, max: 256 }),
      (rows, width, kib) => {
        const limit = kib * 1024;
        if (64 * width * 4 > limit) return; // one aligned group of rows (64, for the 1-wide rows) must fit
        const plan = planRows(rows, [width, 1], limit);
        let next = 0;
        for (const [r0, rc] of plan) {
          expect(r0).toBe(next);
          expect((r0 * width) % 64 === 0 && r0 % 64 === 0).toBe(true);
          expect(plan.length === 1 || rc * width * 4 <= limit).toBe(true);
          next = r0 + rc;
        }
        expect(next).toBe(rows);
      }), { numRuns: 300 });
  });
});

// The ops on a WebGPU backend whose bindings are capped at 32 KiB, against the CPU backend.
describeBackends('ops with 32 KiB bindings', () => {
  const cpu = new CpuBackend();
  let smallBe: Promise<WebGPUBackend> | null = null;
  const small = (): Promise<WebGPUBackend> => (smallBe ??= extraWebGPU({ maxBindingBytes: 32 << 10 }));
  const compare = async (label: string, run: (be: AnyBackend) => unknown, tol = 1e-5): Promise<void> => {
    const g = await small();
    const a = await g.readF32(run(g) as GpuBuf);
    const b = await cpu.readF32(run(cpu) as Float32Array);
    expectClose(a, b, tol, tol, label);
  };

  it('matmul: W (N, K) split into row chunks and out into row chunks, every rung', async () => {
    const M = 70, K = 96, N = 1000;
    const x = uniform(M * K, 1), w = uniform(N * K, 2, 0.05), bias = uniform(N, 3, 0.1);
    const g = await small();
    for (const rung of ['naive', 'tiled', 'regblock', 'matvec'] as const) {
      g.rungs.matmul = rung;
      for (const [m, transW] of [[M, true], [1, true], [M, false]] as const) {
        // a (K, N) weight cannot be split, so it must fit one binding: (8, 400) does
        const kk = transW ? K : 8;
        const nn = transW ? N : 400;
        const run = async (be: AnyBackend): Promise<Float32Array> => {
          const out = be.allocF32(m * nn);
          be.matmulForward(out, put(be, x.subarray(0, m * kk)), put(be, w.subarray(0, nn * kk)), put(be, bias.subarray(0, nn)), m, kk, nn, transW);
          return be.readF32(out);
        };
        expectClose(await run(g), await run(cpu), 1e-5, 1e-5, `${rung} ${m}×${kk}×${nn} transW=${transW}`);
      }
    }
    g.rungs.matmul = 'auto';
  });

  it('encoder with wte in row chunks; layernorm, gelu, residual, softmax and argmax in row chunks', async () => {
    const B = 2, T = 60, C = 96, V = 1000;
    const wte = uniform(V * C, 4, 0.1), wpe = uniform(64 * C, 5, 0.1);
    const ids = Array.from({ length: B * T }, (_, i) => (i * 613) % V);
    await compare('encoder', (be) => {
      const out = be.allocF32(B * T * C);
      be.encoderForward(out, putI32(be, ids), put(be, wte), put(be, wpe), B, T, C, 3);
      return out;
    }, 0);
    const x = uniform(200 * 96, 6, 2);
    await compare('layernorm', (be) => {
      const out = be.allocF32(200 * 96);
      be.layernormForward(out, null, null, put(be, x), put(be, uniform(96, 7)), put(be, uniform(96, 8)), 200, 96, 1e-5);
      return out;
    });
    const big = uniform(20000, 9, 4);
    await compare('gelu', (be) => {
      const out = be.allocF32(20000);
      be.geluForward(out, put(be, big), 20000);
      return out;
    }, 1e-6);
    await compare('residual', (be) => {
      const out = be.allocF32(20000);
      be.residualForward(out, put(be, big), put(be, big), 20000);
      return out;
    }, 0);
    await compare('softmax', (be) => {
      const out = be.allocF32(20000);
      be.softmaxForward(out, put(be, big), 20, 1000);
      return out;
    }, 1e-7);
    // argmax: 200 rows of 100 (int32 outputs chunk in groups of 64 rows to stay aligned)
    const g = await small();
    const am = g.allocI32(200);
    g.argmax(am, put(g, big) as GpuBuf, 200, 100);
    const cm = new Int32Array(200);
    cpu.argmax(cm, big, 200, 100);
    expect(Array.from(await g.readI32(am))).toEqual(Array.from(cm));
  });

  it('the whole model (V 1000, C 64) with 64 KiB bindings: logits equal the CPU forward', async () => {
    const cfg = makeConfig({ vocabSize: 1000, nPositions: 32, nEmbd: 64, nLayer: 2, nHead: 4 });
    const params = randomParams(cfg, 3);
    const B = 2, T = 16;
    const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 37 + 1) % 1000);
    const logitsOn = async (be: AnyBackend): Promise<Float32Array> => {
      const model = uploadParams(be, params);
      const acts = allocActivations(be, cfg, { B, T, perLayer: false, keepHidden: false, allLogits: true });
      const idsBuf = be.allocI32(B * T);
      be.writeI32(idsBuf, ids);
      const r = gpt2Forward(be, model, acts, idsBuf, B, T, { logits: 'all' });
      if (!r.logits) throw new Error('no logits');
      return be.readF32(r.logits);
    };
    const g = await extraWebGPU({ maxBindingBytes: 64 << 10 });
    expectClose(await logitsOn(g), await logitsOn(cpu), 1e-4, 0, 'logits with split bindings');
    expect(g.maxBinding).toBe(64 << 10);
  });
}, ['webgpu']);

describeBackends('the 124M lm-head against the device limit', ({ gpu }) => {
  it('logits = x · wteᵀ for 2 rows of 768 and a (50257, 768) wte (154 MB > one binding)', async () => {
    const g = gpu();
    if (!g) return;
    const V = 50257, C = 768, M = 2;
    expect(V * C * 4).toBeGreaterThan(g.maxBinding);
    const wte = uniform(V * C, 11, 0.035), x = uniform(M * C, 12, 1.7);
    const out = g.allocF32(M * V);
    const wBuf = g.upload(wte);
    g.matmulForward(out, put(g, x) as GpuBuf, wBuf, null, M, C, V, true);
    const got = await g.readF32(out);
    g.free(wBuf);
    const ref = new Float64Array(M * V);
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < V; n++) {
        let s = 0;
        for (let k = 0; k < C; k++) s += x[m * C + k] * wte[n * C + k];
        ref[m * V + n] = s;
      }
    }
    expectClose(got, ref, 1e-4, 0, 'logits (split lm-head)');
  });
}, ['webgpu']);
