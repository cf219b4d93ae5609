// Binder for the matmul ladder (kernels/matmul_naive.wgsl, matmul_tiled.wgsl, matmul_regblock.wgsl,
// matvec.wgsl, matmul_gemm.wgsl, matmul_gemv.wgsl): picks a rung by shape, splits operands larger
// than one binding (split.ts), dispatches.
//
//   out (M, N) = inp (M, K) · W + bias,  W stored (K, N), or (N, K) used transposed (transW)
//
// Rungs, slowest first (all share one Params layout and one binding order):
//   naive     one thread per output                               (the reference)
//   tiled     16 × 16 shared-memory tiles, one output per thread
//   regblock  64 × 64 tiles, an 8 × 8 register block per thread   (prefill, training; lavapipe)
//   matvec    split-k dot products for a handful of rows           (decode on lavapipe)
//   gemm      up to 128 × 128 tiles of 256 threads, vec4 loads, double-buffered, optional split-k
//             (prefill and training on GPUs; the tile is chosen by shape: pickGemmConfig)
//   gemv      vec4 streaming of W by many narrow workgroups         (decode on GPUs)

import type { GpuBuf } from '../buffers.ts';
import type { DeviceLimits } from '../device.ts';
import type { Constants, KernelName } from '../kernels.ts';
import type { Runtime } from '../runtime.ts';
import { planMatmul } from '../split.ts';
import { type GemmConfig, type GemvConfig, gemmGroups, gemmSupports, pickGemmConfig, pickGemvConfig } from './matmul-config.ts';

export type MatmulRung = 'naive' | 'tiled' | 'regblock' | 'matvec' | 'gemm' | 'gemv';
export const MATMUL_RUNGS: readonly MatmulRung[] = ['naive', 'tiled', 'regblock', 'matvec', 'gemm', 'gemv'];

/** What the rung choice is tuned for: a real GPU, or a software adapter running on the CPU. */
export type DeviceClass = 'gpu' | 'software';

/** Fixed gemm / gemv configurations instead of the by-shape choice (benchmark sweeps, tests). */
export interface MatmulTuning {
  gemm?: GemmConfig;
  gemv?: GemvConfig;
}

/** What a matmul needs to know besides its operands. */
export interface MatmulContext {
  rung: MatmulRung | 'auto';
  device: DeviceClass;
  limits: DeviceLimits;
  tuning: MatmulTuning;
}

/**
 * The rung for a shape, from the measurements in bench/results/ (webgpu-h100.json: an H100 through
 * Dawn/Vulkan; webgpu-llvmpipe.json: lavapipe). Each rule picks the fastest rung measured there:
 *   gpu       a few rows (decode): gemv (1.2-2.0× cuBLAS's time at the 124M Conv1D rows, 0.96× at
 *             the lm-head row); more: gemm, its tile and k split chosen by shape (0.60-0.75×
 *             cuBLAS FP32 at the T = 1024 shapes and 4096²; every other rung ≤ 0.26×)
 *   software  naive below 16 rows (no barriers, which lavapipe runs slowly), regblock from 16
 * The tiled rung never wins on lavapipe; regblock never wins at one row anywhere.
 */
export function pickMatmulRung(M: number, K: number, N: number, transW: boolean, device: DeviceClass = 'gpu'): MatmulRung {
  if (device === 'software') return M >= 16 ? 'regblock' : 'naive';
  return M <= 4 ? 'gemv' : 'gemm';
}

interface RungPlan {
  kernel: KernelName;
  constants: Constants;
  /** workgroups for a piece of mc rows and nc columns */
  groups: (mc: number, nc: number) => [number, number];
}

const up = (a: number, b: number): number => Math.ceil(a / b);

function rungPlan(rung: 'naive' | 'tiled' | 'regblock' | 'matvec', transW: boolean, M: number): RungPlan {
  const TRANS_W = transW ? 1 : 0;
  switch (rung) {
    case 'naive':
      return { kernel: 'matmulNaive', constants: { WG_X: 16, WG_Y: 16, TRANS_W }, groups: (mc, nc) => [up(nc, 16), up(mc, 16)] };
    case 'tiled':
      return { kernel: 'matmulTiled', constants: { TILE: 16, TRANS_W }, groups: (mc, nc) => [up(nc, 16), up(mc, 16)] };
    case 'regblock': {
      // 8 × 8 threads of 8 × 8 outputs: 64 × 64 tiles; 32 × 64 (8 × 4 threads) for up to 32 rows,
      // so 16..32 rows do not leave most of each tile empty
      const WG_Y = M <= 32 ? 4 : 8;
      return { kernel: 'matmulRegblock', constants: { WG_X: 8, WG_Y, BK: 16, TRANS_W }, groups: (mc, nc) => [up(nc, 64), up(mc, 8 * WG_Y)] };
    }
    case 'matvec':
      // (K, N): 64 columns × 4 k-slices; (N, K): 32 rows of w × 8 k-lanes (a warp reads 4 rows in
      // 32-byte pieces; more k-lanes per row ran slower on lavapipe)
      return transW
        ? { kernel: 'matvecWt', constants: { WG_N: 32, WG_K: 8 }, groups: (mc, nc) => [up(nc, 32), mc] }
        : { kernel: 'matvecW', constants: { WG_N: 64, WG_K: 4 }, groups: (mc, nc) => [up(nc, 64), mc] };
  }
}

/** out (M, N) = inp (M, K) · W + bias on the GPU; `ctx.rung` 'auto' picks by shape. */
export function matmulForward(rt: Runtime, ctx: MatmulContext, out: GpuBuf, inp: GpuBuf,
  w: GpuBuf, bias: GpuBuf | null, M: number, K: number, N: number, transW: boolean): void {
  if (M === 0 || N === 0) return;
  const r = ctx.rung === 'auto' ? pickMatmulRung(M, K, N, transW, ctx.device) : ctx.rung;
  if ((r === 'matvec' || r === 'gemv') && M > 65535) throw new Error(`internal: ${r} takes at most 65535 rows, got ${M}`);
  const { bufs, unstage } = rt.stageOperands([
    { buf: out, mode: 'out' }, { buf: inp, mode: 'in' }, { buf: w, mode: 'in' }, { buf: bias, mode: 'in' },
  ]);
  const [o, x, wt, b] = bufs as [GpuBuf, GpuBuf, GpuBuf, GpuBuf | null];
  const plan = r === 'gemm' || r === 'gemv' ? null : rungPlan(r, transW, M);
  for (const { m0, mc, n0, nc } of planMatmul(M, K, N, transW, rt.maxBinding)) {
    if (r === 'gemm') {
      gemmPiece(rt, ctx, o, x, wt, b, m0, mc, K, N, n0, nc, transW);
      continue;
    }
    // gemm and gemv bind inp and w as vec4 arrays: bindings rounded up to 16 bytes
    const vec = r === 'gemv';
    const bound = [
      rt.bind(o, m0 * N, mc * N), // rows [m0, m0 + mc) of out, every column (row stride N)
      rt.bind(x, m0 * K, mc * K, vec),
      transW ? rt.bind(wt, n0 * K, nc * K, vec) : rt.bind(wt, 0, K * N, vec),
      b ? rt.bind(b, 0, N) : rt.none(3),
    ];
    // Params: M, K, N (this piece's columns), ldo, n0, has_bias
    const params = [mc, K, nc, N, n0, b ? 1 : 0];
    if (plan) {
      rt.dispatch(plan.kernel, plan.constants, params, bound, plan.groups(mc, nc));
      continue;
    }
    const c = ctx.tuning.gemv ?? pickGemvConfig(mc, K, nc, transW, ctx.limits);
    if (transW) {
      const gx = up(nc, c.rows);
      if (gx > 65535) throw new Error(`internal: gemv over ${nc} rows of w needs more than 65535 workgroups`);
      rt.dispatch('gemvWt', { WG_K: c.lanes, WG_N: c.rows, ALIGNED: K % 4 === 0 ? 1 : 0 }, params, bound, [gx, mc]);
    } else {
      rt.dispatch('gemvW', { WG_K: c.lanes, WG_Q: c.quads, ALIGNED: nc % 4 === 0 ? 1 : 0 }, params, bound, [up(nc, 4 * c.quads), mc]);
    }
  }
  unstage();
}

/** One piece (rows [m0, m0 + mc), columns [n0, n0 + nc)) through the gemm rung, split over k or not. */
function gemmPiece(rt: Runtime, ctx: MatmulContext, o: GpuBuf, x: GpuBuf, wt: GpuBuf, b: GpuBuf | null,
  m0: number, mc: number, K: number, N: number, n0: number, nc: number, transW: boolean): void {
  const c = ctx.tuning.gemm ?? pickGemmConfig(mc, K, nc, transW, ctx.limits);
  const why = gemmSupports(c, ctx.limits);
  if (why) throw new Error(`WebGPU: gemm configuration ${JSON.stringify(c)}: ${why}`);
  const constants = {
    WG_X: c.wgX, WG_Y: c.wgY, TM: c.tm, TN: c.tn, BK: c.bk, TRANS_W: transW ? 1 : 0,
    ALIGNED: K % 4 === 0 && (transW || nc % 4 === 0) ? 1 : 0,
  };
  // k per split: a multiple of BK, at least one step; splits that would be empty are dropped
  const kChunk = Math.max(c.bk, Math.ceil(K / c.splits / c.bk) * c.bk);
  const splits = Math.max(1, Math.ceil(K / kChunk));
  const xb = rt.bind(x, m0 * K, mc * K, true);
  const wb = transW ? rt.bind(wt, n0 * K, nc * K, true) : rt.bind(wt, 0, K * N, true);
  const bb = b ? rt.bind(b, 0, N) : rt.none(3);
  const [gx, gy] = gemmGroups(c, mc, nc);
  if (splits === 1) {
    // Params: M, K, N, ldo, n0, has_bias, k_chunk, split_stride
    rt.dispatch('matmulGemm', constants, [mc, K, nc, N, n0, b ? 1 : 0, K, 0], [rt.bind(o, m0 * N, mc * N), xb, wb, bb], [gx, gy, 1]);
    return;
  }
  // partial sums (splits, mc, nc) in scratch, then `reduce` adds them and the bias into out
  const part = rt.scratchF32('gemm split-k', splits * mc * nc);
  const pb = rt.bind(part, 0, splits * mc * nc, true);
  rt.dispatch('matmulGemm', constants, [mc, K, nc, nc, 0, 0, kChunk, mc * nc], [pb, xb, wb, rt.none(3)], [gx, gy, splits]);
  rt.dispatch('matmulGemmReduce', {}, [mc, K, nc, N, n0, b ? 1 : 0, splits, mc * nc],
    [rt.bind(o, m0 * N, mc * N), pb, rt.none(2), bb], rt.grid(up(mc * nc, 256)));
}
