// matmulForward on every backend and, on WebGPU, on every rung of the ladder, against a float64
// reference: odd sizes that are multiples of no tile, a single row, both weight layouts, with and
// without bias.

import { expect, it } from 'vitest';
import { type GemmConfig, type GemvConfig, MATMUL_RUNGS, type MatmulRung, pickGemmConfig, pickMatmulRung } from '../src/webgpu/index.ts';
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

// The gemm and gemv rungs under fixed configurations (the by-shape choice above picks only some of
// them at test sizes): every tile shape, k steps of 4 to 16, k split into 2 and 3 partial sums.
const GEMM_CONFIGS: [string, GemmConfig][] = [
  ['128×128 tiles, BK 8', { wgX: 16, wgY: 16, tm: 8, tn: 8, bk: 8, splits: 1 }],
  ['64×128 tiles, BK 16, k split in 3', { wgX: 16, wgY: 16, tm: 4, tn: 8, bk: 16, splits: 3 }],
  ['128×64 tiles, BK 4, k split in 2', { wgX: 16, wgY: 16, tm: 8, tn: 4, bk: 4, splits: 2 }],
  ['32×32 tiles of 8×8 threads, BK 8, k split in 2', { wgX: 8, wgY: 8, tm: 4, tn: 4, bk: 8, splits: 2 }],
];
const GEMV_CONFIGS: [string, GemvConfig][] = [
  ['1 quad / 4 rows × 64 lanes', { quads: 1, rows: 4, lanes: 64 }],
  ['16 quads / 32 rows × 8 lanes', { quads: 16, rows: 32, lanes: 8 }],
];
const TUNED_SHAPES: [number, number, number][] = [[33, 96, 1000], [65, 17, 129], [130, 300, 70], [1, 1, 1], [3, 64, 192]];

describeBackends('matmulForward, gemm and gemv configurations', ({ be, gpu }) => {
  const configs: [string, MatmulRung, GemmConfig | null, GemvConfig | null][] = [
    ...GEMM_CONFIGS.map(([l, c]): [string, MatmulRung, GemmConfig, null] => [l, 'gemm', c, null]),
    ...GEMV_CONFIGS.map(([l, c]): [string, MatmulRung, null, GemvConfig] => [l, 'gemv', null, c]),
  ];
  for (const [label, rung, gemm, gemv] of configs) {
    it(`${rung} ${label}: odd shapes, both layouts, with bias`, async () => {
      const g = gpu();
      if (!g) throw new Error('WebGPU suite without a WebGPU backend');
      g.rungs.matmul = rung;
      g.tuning = { ...(gemm ? { gemm } : {}), ...(gemv ? { gemv } : {}) };
      try {
        for (const [M, K, N] of TUNED_SHAPES) {
          for (const transW of [false, true]) await check(be(), M, K, N, transW, true, `${rung} ${label} ${M}×${K}×${N} transW=${transW}`);
        }
      } finally {
        g.rungs.matmul = 'auto';
        g.tuning = {};
      }
    });
  }
}, ['webgpu']);

it('the gemm tile by shape: 128 × 64, BK 16 for a transposed W, k split where the tiles are few', () => {
  const limits = { maxComputeInvocationsPerWorkgroup: 1024, maxComputeWorkgroupStorageSize: 32768 } as Parameters<typeof pickGemmConfig>[4];
  expect(pickGemmConfig(4096, 4096, 4096, false, limits)).toMatchObject({ tm: 8, tn: 4, bk: 8, splits: 1 });
  expect(pickGemmConfig(1024, 768, 3072, false, limits)).toMatchObject({ tm: 8, tn: 4, bk: 8, splits: 1 });
  expect(pickGemmConfig(1024, 768, 50257, true, limits)).toMatchObject({ tm: 8, tn: 4, bk: 16, splits: 1 });
  expect(pickGemmConfig(1024, 3072, 768, false, limits)).toMatchObject({ tm: 8, tn: 4, splits: 4 });
  expect(pickGemmConfig(256, 768, 2304, false, limits)).toMatchObject({ splits: 4 });
  expect(pickGemmConfig(33, 96, 1000, false, limits)).toMatchObject({ splits: 1 }); // k too short to split
  // the WebGPU default limits (16 KiB of workgroup memory) still get a tile
  expect(pickGemmConfig(1024, 768, 768, true, { maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupStorageSize: 16384 } as typeof limits)).toMatchObject({ bk: 8 });
});

it('the rung picked by shape and device class (the fastest measured in bench/results/)', () => {
  // a real GPU (H100): gemv for decode rows, gemm for everything else
  expect(pickMatmulRung(1, 768, 50257, true)).toBe('gemv');
  expect(pickMatmulRung(1, 768, 2304, false)).toBe('gemv');
  expect(pickMatmulRung(1024, 768, 3072, false)).toBe('gemm');
  expect(pickMatmulRung(1024, 768, 768, false)).toBe('gemm');
  expect(pickMatmulRung(4096, 4096, 4096, false)).toBe('gemm');
  // a software adapter (lavapipe)
  expect(pickMatmulRung(1, 768, 50257, true, 'software')).toBe('naive');
  expect(pickMatmulRung(8, 768, 768, false, 'software')).toBe('naive');
  expect(pickMatmulRung(16, 768, 768, false, 'software')).toBe('regblock');
});
