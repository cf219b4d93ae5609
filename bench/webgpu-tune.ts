// Sweeps for the WebGPU benchmark (`--suites tune`): the gemm rung under each tile / k-step / k-split
// configuration, the gemv rung under each workgroup shape, at the GPT-2 124M shapes (T rows and one
// row) and the 4096² square; cached attention (single pass vs split) over several cache lengths.
// Each configuration is checked against the CPU op on the first rows before it is timed (one round,
// short batches: this is for choosing, bench/webgpu.ts's suites are for reporting). The by-shape
// choices in src/webgpu/ops/matmul-config.ts are fitted to what this prints on a real GPU.

import type { CpuBackend } from '../src/cpu/backend.ts';
import { GEMM_TILES, type GemmConfig, type GemvConfig, type WebGPUBackend, pickGemmConfig, pickGemvConfig } from '../src/webgpu/index.ts';

export interface TuneRow {
  what: string;
  shape: string;
  config: string;
  ms: number;
  value: number; // GFLOP/s, or µs per call for attention
  unit: 'GFLOP/s' | 'µs';
  picked: boolean;
  maxDiff: number;
}

export interface TuneContext {
  g: WebGPUBackend;
  cpu: CpuBackend;
  T: number;
  squares: number[];
  /** GPU ms per call of `record` (short batches) */
  time: (record: () => void) => Promise<number>;
  uniform: (n: number, seed: number, scale: number) => Float32Array;
  maxDiff: (a: ArrayLike<number>, b: ArrayLike<number>) => number;
  /** PyTorch ms for (M, K, N, transW), when it ran */
  torchMs: (M: number, K: number, N: number, transW: boolean) => number | undefined;
}

/** The (M, K, N, transW) shapes the sweeps time (the PyTorch peer is asked for the same). */
export function tuneShapes(T: number, squares: number[]): [string, number, number, number, boolean][] {
  const C = 768, V = 50257;
  const out: [string, number, number, number, boolean][] = [];
  for (const M of [T, 256, 1]) {
    out.push(['attn.c_attn', M, C, 3 * C, false], ['attn.c_proj', M, C, C, false], ['mlp.c_fc', M, C, 4 * C, false],
      ['mlp.c_proj', M, 4 * C, C, false], ['lm-head', M, C, V, true]);
  }
  for (const s of squares) out.push(['square', s, s, s, false]);
  return out;
}

const key = (c: GemmConfig): string => `${c.tm * c.wgY}x${c.tn * c.wgX} (${c.wgX}x${c.wgY} thr) bk${c.bk} split${c.splits}`;

function gemmCandidates(M: number, K: number, N: number): GemmConfig[] {
  const out: GemmConfig[] = [];
  for (const t of Object.values(GEMM_TILES)) {
    for (const bk of [8, 16] as const) out.push({ ...t, bk });
    const groups = Math.ceil(M / (t.tm * t.wgY)) * Math.ceil(N / (t.tn * t.wgX));
    if (groups < 264) for (const splits of [2, 4]) if (K / splits >= 192) out.push({ ...t, splits });
  }
  out.push({ wgX: 8, wgY: 8, tm: 8, tn: 8, bk: 16, splits: 1 }); // the regblock geometry, this kernel
  return out;
}

function gemvCandidates(transW: boolean): GemvConfig[] {
  return transW
    ? [[2, 128], [4, 64], [8, 32], [16, 16], [32, 8]].map(([rows, lanes]) => ({ quads: 4, rows, lanes }))
    : [[1, 256], [2, 128], [4, 64], [8, 32], [16, 16]].map(([quads, lanes]) => ({ quads, rows: 8, lanes }));
}

export async function tuneSuite(ctx: TuneContext, log: (s: string) => void): Promise<TuneRow[]> {
  const { g, cpu } = ctx;
  const rows: TuneRow[] = [];
  for (const [name, M, K, N, transW] of tuneShapes(ctx.T, ctx.squares)) {
    const shape = `${M}×${K}×${N}${transW ? 'ᵀ' : ''}`;
    const x = ctx.uniform(M * K, M + K, 1), w = ctx.uniform(K * N, K + N, 0.05), bias = transW ? null : ctx.uniform(N, N, 0.02);
    const Mc = Math.min(M, 2);
    const ref = new Float32Array(Mc * N);
    cpu.matmulForward(ref, x.subarray(0, Mc * K), w, bias, Mc, K, N, transW);
    const gx = g.upload(x), gw = g.upload(w), gb = bias ? g.upload(bias) : null, go = g.allocF32(M * N);
    const flop = 2 * M * K * N;
    const torch = ctx.torchMs(M, K, N, transW);
    log(`tune ${name} ${shape}${torch ? `  (pytorch ${(flop / torch / 1e6).toFixed(0)} GFLOP/s)` : ''}`);
    const rung = M <= 4 ? 'gemv' : 'gemm';
    const picked = rung === 'gemm' ? key(pickGemmConfig(M, K, N, transW, g.limits)) : JSON.stringify(pickGemvConfig(M, K, N, transW, g.limits));
    const gemms = gemmCandidates(M, K, N);
    const pick = pickGemmConfig(M, K, N, transW, g.limits);
    if (!gemms.some((c) => key(c) === key(pick))) gemms.push(pick);
    const cands: [string, () => void][] = rung === 'gemm'
      ? gemms.map((c) => [key(c), () => { g.tuning = { gemm: c }; }])
      : gemvCandidates(transW).map((c) => [JSON.stringify(c), () => { g.tuning = { gemv: c }; }]);
    for (const [label, set] of cands) {
      try {
        set();
        g.rungs.matmul = rung;
        g.matmulForward(go, gx, gw, gb, M, K, N, transW);
        const d = ctx.maxDiff(await g.readF32(go, Mc * N), ref);
        if (!(d <= 1e-4)) {
          log(`  ${label.padEnd(44)} disagrees with the CPU op (max rel diff ${d})`);
          continue;
        }
        const ms = await ctx.time(() => g.matmulForward(go, gx, gw, gb, M, K, N, transW));
        const gf = flop / ms / 1e6;
        rows.push({ what: `${rung} ${name}`, shape, config: label, ms, value: gf, unit: 'GFLOP/s', picked: label === picked, maxDiff: d });
        log(`  ${label.padEnd(44)} ${gf.toFixed(0).padStart(7)} GFLOP/s ${ms.toFixed(4)} ms${torch ? `  ×${(torch / ms).toFixed(2)} pytorch` : ''}${label === picked ? '  <- picked' : ''}`);
      } catch (e) {
        log(`  ${label.padEnd(44)} failed: ${(e as Error).message}`);
      } finally {
        g.tuning = {};
        g.rungs.matmul = 'auto';
      }
    }
    for (const b of [gx, gw, go, gb]) if (b) g.free(b);
  }
  rows.push(...await tuneDecodeAttention(ctx, log));
  return rows;
}

/** Cached attention of one query per head (B 1, 12 heads of 64), single pass vs split, by cache length. */
async function tuneDecodeAttention(ctx: TuneContext, log: (s: string) => void): Promise<TuneRow[]> {
  const { g, cpu } = ctx;
  const rows: TuneRow[] = [];
  const B = 1, C = 768, NH = 12, hs = 64, cap = 1024, scale = 1 / 8;
  const kc = ctx.uniform(B * NH * cap * hs, 6, 1.5), vc = ctx.uniform(B * NH * cap * hs, 7, 1), q = ctx.uniform(B * 3 * C, 8, 1.5);
  const gk = g.upload(kc), gv = g.upload(vc), gq = g.upload(q), go = g.allocF32(B * C);
  for (const n of [16, 72, 256, 1024]) {
    const pos0 = n - 1;
    const ref = new Float32Array(B * C);
    cpu.attentionCached(ref, q, { k: kc, v: vc }, null, cap, B, 1, C, NH, pos0, cap, scale);
    log(`tune cached attention, ${n} positions`);
    for (const rung of ['decode', 'split'] as const) {
      g.rungs.decode = rung;
      const run = (): void => g.attentionCached(go, gq, { k: gk, v: gv }, null, cap, B, 1, C, NH, pos0, cap, scale);
      run();
      const d = ctx.maxDiff(await g.readF32(go), ref);
      const ms = await ctx.time(run);
      rows.push({ what: 'cached attention', shape: `B1 NH12 hs64 n${n}`, config: rung, ms, value: ms * 1e3, unit: 'µs', picked: false, maxDiff: d });
      log(`  ${rung.padEnd(44)} ${(ms * 1e3).toFixed(1).padStart(7)} µs  (max rel diff ${d.toExponential(1)})`);
    }
    g.rungs.decode = 'auto';
  }
  for (const b of [gk, gv, gq, go]) g.free(b);
  return rows;
}
