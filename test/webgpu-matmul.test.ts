// matmulForward on every backend and, on WebGPU, on every rung of the ladder, against a float64
// reference: odd sizes that are multiples of no tile, a single row, both weight layouts, with and
// without bias.

import { expect, it } from 'vitest';
import { MATMUL_RUNGS, type MatmulRung, pickMatmulRung } from '../src/webgpu/index.ts';
import { type AnyBackend, describeBackends, put, uniform } from './helpers/backends.ts';
import { expectClose } from './helpers/fixtures.ts';

/** float64 out (M, N) = inp (M, K) · W + bias; W (K, N), or (N, K) when transW */
function matmulRef(inp: Float32Array, w: Float32Array, bias: Float32Array | null, M: number, K: number, N: number, transW: boolean): Float64Array {
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = bias ? bias[n] : 0;
      for (let k = 0; k < K; k++) s += inp[m * K + k] * (transW ? w[n * K + k] : w[k * N + n]);
      out[m * N + n] = s;
    }
  }
  return out;
}

// (M, K, N): odd sizes, one row (decode), a few rows (decode with B > 1), tile multiples, K < tile
const SHAPES: [number, number, number][] = [
  [33, 96, 1000], [1, 96, 1000], [3, 64, 192], [64, 64, 64], [65, 17, 129], [7, 5, 3], [1, 1, 1], [130, 300, 70],
];

async function check(be: AnyBackend, M: number, K: number, N: number, transW: boolean, withBias: boolean, label: string): Promise<void> {
  // GPT-2-like scales: unit activations, 0.02·sqrt(3) weights, so outputs are hidden-state sized
  const x = uniform(M * K, M * 7 + K, 1.7);
  const w = uniform(K * N, N * 3 + K + (transW ? 1 : 0), 0.035);
  const b = withBias ? uniform(N, N + 5, 0.03) : null;
  const out = be.allocF32(M * N);
  be.matmulForward(out, put(be, x), put(be, w), b ? put(be, b) : null, M, K, N, transW);
  const got = await be.readF32(out);
  expectClose(got, matmulRef(x, w, b, M, K, N, transW), 1e-5, 1e-5, label);
}

describeBackends('matmulForward', ({ name, be, gpu }) => {
  const rungs: (MatmulRung | 'auto')[] = name === 'webgpu' ? [...MATMUL_RUNGS, 'auto'] : ['auto'];
  for (const rung of rungs) {
    for (const transW of [false, true]) {
      it(`rung ${rung}, ${transW ? 'W (N, K) transposed' : 'W (K, N)'}: every shape, with and without bias`, async () => {
        const g = gpu();
        if (g) g.rungs.matmul = rung;
        try {
          for (const [M, K, N] of SHAPES) {
            for (const bias of [true, false]) await check(be(), M, K, N, transW, bias, `${rung} ${M}×${K}×${N} transW=${transW} bias=${bias}`);
          }
        } finally {
          if (g) g.rungs.matmul = 'auto';
        }
      });
    }
  }

  it('writes only its (M, N) output and leaves the rest of the buffer alone', async () => {
    const b = be();
    const M = 5, K = 8, N = 6;
    const out = put(b, new Float32Array(M * N + 64).fill(7));
    b.matmulForward(b.view(out, 0, M * N), put(b, uniform(M * K, 1)), put(b, uniform(K * N, 2)), null, M, K, N, false);
    const got = await b.readF32(out);
    expect(Array.from(got.subarray(M * N))).toEqual(new Array(64).fill(7));
  });
});

it('the rung picked by shape and device class (the fastest measured in bench/results/)', () => {
  // a real GPU (H100): matvec only for the transposed lm-head row; regblock for wide, short-K matmuls
  expect(pickMatmulRung(1, 768, 50257, true)).toBe('matvec');
  expect(pickMatmulRung(1, 768, 2304, false)).toBe('tiled');
  expect(pickMatmulRung(1024, 768, 3072, false)).toBe('regblock');
  expect(pickMatmulRung(1024, 768, 768, false)).toBe('tiled');
  expect(pickMatmulRung(4096, 4096, 4096, false)).toBe('tiled');
  // a software adapter (lavapipe)
  expect(pickMatmulRung(1, 768, 50257, true, 'software')).toBe('naive');
  expect(pickMatmulRung(8, 768, 768, false, 'software')).toBe('naive');
  expect(pickMatmulRung(16, 768, 768, false, 'software')).toBe('regblock');
});
