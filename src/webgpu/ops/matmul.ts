// Binder for the matmul ladder (kernels/matmul_naive.wgsl, matmul_tiled.wgsl, matmul_regblock.wgsl,
// matvec.wgsl): picks a rung by shape, splits operands larger than one binding (split.ts), dispatches.
//
//   out (M, N) = inp (M, K) · W + bias,  W stored (K, N), or (N, K) used transposed (transW)
//
// Rungs, slowest first (all share one Params layout and one binding order):
//   naive     one thread per output                               (the reference)
//   tiled     16 × 16 shared-memory tiles, one output per thread
//   regblock  64 × 64 tiles, an 8 × 8 register block per thread   (prefill, training)
//   matvec    split-k dot products for a handful of rows           (decode: M = B)

import type { GpuBuf } from '../buffers.ts';
import type { Constants, KernelName } from '../kernels.ts';
import type { Runtime } from '../runtime.ts';
import { planMatmul } from '../split.ts';

export type MatmulRung = 'naive' | 'tiled' | 'regblock' | 'matvec';
export const MATMUL_RUNGS: readonly MatmulRung[] = ['naive', 'tiled', 'regblock', 'matvec'];

/** What the rung choice is tuned for: a real GPU, or a software adapter running on the CPU. */
export type DeviceClass = 'gpu' | 'software';

/**
 * The rung for a shape, from the measurements in bench/results/ (webgpu-h100.json: an H100 through
 * Dawn/Vulkan; webgpu-llvmpipe.json: lavapipe). Each rule picks the fastest rung measured there:
 *   gpu       one row (decode): matvec for the transposed lm-head, whose rows it reads coalesced,
 *             tiled for the Conv1D weights; many rows: regblock where N ≥ 2048 and K ≤ 1024 gives it
 *             enough 64-thread workgroups (attn.c_attn, mlp.c_fc, the lm-head), tiled elsewhere
 *             (N = 768, the 4096² square)
 *   software  naive below 16 rows (no barriers, which lavapipe runs slowly), regblock from 16
 * The tiled rung never wins on lavapipe; regblock never wins at one row anywhere.
 */
export function pickMatmulRung(M: number, K: number, N: number, transW: boolean, device: DeviceClass = 'gpu'): MatmulRung {
  if (device === 'software') return M >= 16 ? 'regblock' : 'naive';
  if (M <= 4) return transW ? 'matvec' : 'tiled';
  return N >= 2048 && K <= 1024 ? 'regblock' : 'tiled';
}

interface RungPlan {
  kernel: KernelName;
  constants: Constants;
  /** workgroups for a piece of mc rows and nc columns */
  groups: (mc: number, nc: number) => [number, number];
}

function rungPlan(rung: MatmulRung, transW: boolean, M: number): RungPlan {
  const TRANS_W = transW ? 1 : 0;
  const up = (a: number, b: number): number => Math.ceil(a / b);
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

/** out (M, N) = inp (M, K) · W + bias on the GPU; `rung` 'auto' picks by shape. */
export function matmulForward(rt: Runtime, rung: MatmulRung | 'auto', device: DeviceClass, out: GpuBuf, inp: GpuBuf,
  w: GpuBuf, bias: GpuBuf | null, M: number, K: number, N: number, transW: boolean): void {
  if (M === 0 || N === 0) return;
  const r = rung === 'auto' ? pickMatmulRung(M, K, N, transW, device) : rung;
  if (r === 'matvec' && M > 65535) throw new Error(`internal: matvec takes at most 65535 rows, got ${M}`);
  const plan = rungPlan(r, transW, M);
  const { bufs, unstage } = rt.stageOperands([
    { buf: out, mode: 'out' }, { buf: inp, mode: 'in' }, { buf: w, mode: 'in' }, { buf: bias, mode: 'in' },
  ]);
  const [o, x, wt, b] = bufs as [GpuBuf, GpuBuf, GpuBuf, GpuBuf | null];
  for (const { m0, mc, n0, nc } of planMatmul(M, K, N, transW, rt.maxBinding)) {
    const bound = [
      rt.bind(o, m0 * N, mc * N), // rows [m0, m0 + mc) of out, every column (row stride N)
      rt.bind(x, m0 * K, mc * K),
      transW ? rt.bind(wt, n0 * K, nc * K) : rt.bind(wt, 0, K * N),
      b ? rt.bind(b, 0, N) : rt.none(3),
    ];
    // Params: M, K, N (this piece's columns), ldo, n0, has_bias
    rt.dispatch(plan.kernel, plan.constants, [mc, K, nc, N, n0, b ? 1 : 0], bound, plan.groups(mc, nc));
  }
  unstage();
}
