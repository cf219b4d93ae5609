// Tile and workgroup choices for the GPU matmul rungs (kernels/matmul_gemm.wgsl, matmul_gemv.wgsl),
// by shape. A GPU is filled when every SM has a few workgroups (an H100 has 132 SMs), so the rule
// keeps one tile that measured best and splits the k sum when the output has too few tiles.
// Measured: bench/results/webgpu-h100-tune.log (the sweep) and webgpu-h100.* (the bench).

import type { DeviceLimits } from '../device.ts';

/** One gemm configuration: WG_X × WG_Y threads of TM × TN outputs, BK k per step, `splits` k splits. */
export interface GemmConfig {
  wgX: number;
  wgY: number;
  tm: 4 | 8;
  tn: 4 | 8;
  bk: 4 | 8 | 16 | 32;
  splits: number;
}

/** One gemv configuration: W (K, N) takes `quads` column quads × `lanes` k lanes per workgroup;
 *  W (N, K) takes `rows` rows × `lanes` k lanes. */
export interface GemvConfig {
  quads: number;
  rows: number;
  lanes: number;
}

/** workgroups (x over columns, y over rows) of one split */
export function gemmGroups(c: GemmConfig, M: number, N: number): [number, number] {
  return [Math.ceil(N / (c.tn * c.wgX)), Math.ceil(M / (c.tm * c.wgY))];
}

/** Why a configuration cannot run on these limits, or null. */
export function gemmSupports(c: GemmConfig, limits: DeviceLimits): string | null {
  const threads = c.wgX * c.wgY;
  const BM = c.tm * c.wgY, BN = c.tn * c.wgX;
  if (threads > limits.maxComputeInvocationsPerWorkgroup) return `${threads} threads per workgroup exceed the device's ${limits.maxComputeInvocationsPerWorkgroup}`;
  const bytes = 2 * c.bk * (BM + BN) * 4;
  if (bytes > limits.maxComputeWorkgroupStorageSize) return `${bytes} bytes of workgroup memory exceed the device's ${limits.maxComputeWorkgroupStorageSize}`;
  // each thread stages at most 4 vec4s of each tile per step (ra, rb in the kernel)
  if ((BM * c.bk) / 4 > 4 * threads || (BN * c.bk) / 4 > 4 * threads) return 'more than 4 vec4s of a tile per thread';
  if (c.splits < 1 || !Number.isInteger(c.splits)) return 'splits must be a positive integer';
  return null;
}

/** The named tiles (each 256 threads, 16 × 16), as swept in bench/webgpu-tune.ts. */
export const GEMM_TILES: Record<string, GemmConfig> = {
  '128x128': { wgX: 16, wgY: 16, tm: 8, tn: 8, bk: 8, splits: 1 }, // 64 accumulators: spills on the H100 (1-2 TFLOP/s)
  '64x128': { wgX: 16, wgY: 16, tm: 4, tn: 8, bk: 8, splits: 1 }, // BM 64 rows × BN 128 columns
  '128x64': { wgX: 16, wgY: 16, tm: 8, tn: 4, bk: 8, splits: 1 },
  '64x64': { wgX: 16, wgY: 16, tm: 4, tn: 4, bk: 8, splits: 1 },
};

const FULL_GROUPS = 264; // two workgroups per SM on a 132-SM H100: no k split needed
const SPLIT_GROUPS = 512; // what a k split aims for
const MAX_SPLITS = 4; // the most measured (2 and 4 were; 4 won at every GPT-2 shape that splits)
const MIN_SPLIT_K = 192; // k per split below which the partial sums cost more than they save

/**
 * The gemm configuration for out (M, N) with a k sum of K. Fitted to the H100 sweep
 * (bench/results/webgpu-h100-tune.log; cuBLAS FP32 in the same run):
 *   - 128 × 64 tiles (8 × 4 per thread): the best or within 6% of the best tile at every shape;
 *     128 × 128 (8 × 8 per thread) spills and runs at 1-2 TFLOP/s;
 *   - BK 16 for a transposed W (the lm-head: 64 contiguous bytes per row of wte per load, +19%),
 *     BK 8 otherwise (BK 16 lost 20% at attn.c_attn and mlp.c_fc);
 *   - fewer than ~2 workgroups per SM (N = 768 at T = 1024; every GPT-2 matmul at T = 256): split k
 *     in up to 4 (1024×768×768: 14.9 → 20.7 TFLOP/s; 1024×3072×768: 16.0 → 29.0).
 */
export function pickGemmConfig(M: number, K: number, N: number, transW: boolean, limits: DeviceLimits): GemmConfig {
  const candidates: GemmConfig[] = [
    { ...GEMM_TILES['128x64'], bk: transW ? 16 : 8 }, GEMM_TILES['128x64'], GEMM_TILES['64x64'],
    { wgX: 8, wgY: 8, tm: 4, tn: 4, bk: 8, splits: 1 }, // a small device
  ];
  const tile = candidates.find((c) => gemmSupports(c, limits) === null) ?? candidates[candidates.length - 1];
  const groups = gemmGroups(tile, M, N).reduce((a, b) => a * b, 1);
  if (groups >= FULL_GROUPS) return tile;
  const splits = Math.max(1, Math.min(MAX_SPLITS, Math.ceil(SPLIT_GROUPS / groups), Math.floor(K / MIN_SPLIT_K)));
  return { ...tile, splits };
}

/**
 * The gemv configuration for a few rows (M) of out (M, N), fitted to the same sweep. W (K, N): one
 * or two column quads (16 or 32 bytes of each row of w) per workgroup and the rest of 256 threads
 * as k lanes, so N = 768 still makes 192 workgroups (two quads for N ≥ 2048: +24% there, equal
 * below). W (N, K): 8 rows × 32 lanes (a warp reads 512 contiguous bytes of one row of wte; 4 × 64
 * and 16 × 16 measured the same).
 */
export function pickGemvConfig(M: number, K: number, N: number, transW: boolean, limits: DeviceLimits): GemvConfig {
  const threads = 2 ** Math.floor(Math.log2(Math.min(256, limits.maxComputeInvocationsPerWorkgroup)));
  if (transW) return { quads: 4, rows: Math.max(1, threads / 32), lanes: Math.min(32, threads) };
  const quads = N >= 2048 ? 2 : 1;
  return { quads, rows: 8, lanes: threads / quads };
}
