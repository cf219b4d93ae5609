// The CPU kernel module: every wasm kernel in one module over the heap's memory, generated from
// TypeScript at first use (a few ms) — no shipped binary. The same bytes are instantiated on the
// main thread and in every worker.

import { wasmApi, type WasmModule } from './api.ts';
import { ModuleBuilder } from './emit.ts';
import { wasmFeatures } from './features.ts';
import { addAttention } from './attention.ts';
import { addElementwise } from './elementwise.ts';
import { addGemmNNP, type NNPShape } from './gemm-nnp.ts';
import { addGemmNT, type NTShape } from './gemm-nt.ts';
import { addGemmTN, type TNShape } from './gemm-tn.ts';
import { addGemvNN } from './gemv.ts';
import { MAX_PAGES, type WasmHeap } from './heap.ts';

export interface KernelOptions {
  /** use f32x4.relaxed_madd (only where the runtime validates it) */
  fma: boolean;
  /** the memory is shared (threads) */
  shared: boolean;
  nt: Omit<NTShape, 'fma'>;
  nnp: Omit<NNPShape, 'fma'>;
  tn: Omit<TNShape, 'fma'>;
}

/**
 * Tile shapes, chosen by measurement on the reference machine (2-core Zen 4, Node 20 and Deno 2):
 * x86-64 V8 gives wasm SIMD 16 xmm registers (15 allocatable), so a dot-product tile must keep
 * MR·NR accumulators + MR A vectors + 1 W vector (+1 product without FMA) live: 2×4 → 12.
 * Unrolling the k loop made V8 hoist loads and spill, so the loops are not unrolled (U = 1).
 * The backward's outer-product tile (gemm-tn.ts) is 6 × 8 with FMA (15 registers) and 4 × 8 with
 * mul + add (6 × 8 spills there).
 */
export function defaultKernelOptions(shared: boolean): KernelOptions {
  const fma = wasmFeatures().relaxedSimd;
  return { fma, shared, nt: { MR: 2, NR: 4, U: 1 }, nnp: { MR: 2 }, tn: { MR: fma ? 6 : 4 } };
}

/** The module bytes for these options (deterministic: the same options give the same bytes). */
export function buildKernelModule(o: KernelOptions): Uint8Array {
  const mb = new ModuleBuilder();
  const nt = addGemmNT(mb, { ...o.nt, fma: o.fma }, 'gemm_nt', 0);
  addGemvNN(mb, o.fma, 'gemv_nn');
  const nnp = addGemmNNP(mb, { ...o.nnp, fma: o.fma }, 'gemm_nnp', nt.length);
  // M = 1 of the transposed layout (the decode lm-head): the same tile code with one row of A and
  // 8 rows of W (8 memory streams), so each output's arithmetic is gemm_nt's
  const ntv = addGemmNT(mb, { MR: 1, NR: 8, U: 1, fma: o.fma }, 'gemv_nt', nt.length + nnp.length);
  // the same forward kernels reading bfloat16 weights (CpuBackend({ weights: 'bf16' }))
  let base = nt.length + nnp.length + ntv.length;
  const ntB = addGemmNT(mb, { ...o.nt, fma: o.fma, bf16: true }, 'gemm_nt_bf16', base);
  base += ntB.length;
  const nnpB = addGemmNNP(mb, { ...o.nnp, fma: o.fma, bf16: true }, 'gemm_nnp_bf16', base);
  base += nnpB.length;
  const ntvB = addGemmNT(mb, { MR: 1, NR: 8, U: 1, fma: o.fma, bf16: true }, 'gemv_nt_bf16', base);
  addGemvNN(mb, o.fma, 'gemv_nn_bf16', true);
  // the backward's weight-gradient GEMM, C += Aᵀ·B on packed panels (gemm-tn.ts); its input
  // gradients run on gemm_nt and gemm_nnp with accumulate
  addGemmTN(mb, { ...o.tn, fma: o.fma }, 'gemm_tn');
  // GELU, cross-entropy, the gradient norm and AdamW (elementwise.ts)
  addElementwise(mb);
  // attention forward (full and cached) and backward (attention.ts)
  addAttention(mb);
  mb.setTable([...nt, ...nnp, ...ntv, ...ntB, ...nnpB, ...ntvB]);
  return mb.emit({ min: 1, max: MAX_PAGES, shared: o.shared });
}

/** The exported kernels (pointers are byte offsets into the heap; see each generator's header). */
/** the bfloat16-weight kernels have the same signatures as their float32 twins */
export interface Kernels {
  gemm_nt_bf16: Kernels['gemm_nt'];
  gemv_nt_bf16: Kernels['gemv_nt'];
  gemm_nnp_bf16: Kernels['gemm_nnp'];
  gemv_nn_bf16: Kernels['gemv_nn'];
  gemm_nt(a: number, w: number, c: number, bias: number, M: number, K: number, N: number, n0: number, n1: number, MC: number, accum: number): void;
  gemv_nt(a: number, w: number, c: number, bias: number, M: number, K: number, N: number, n0: number, n1: number, MC: number, accum: number): void;
  gemm_nnp(a: number, w: number, c: number, bias: number, M: number, K: number, N: number, n0: number, n1: number, MC: number, KC: number, P: number, accum: number): void;
  gemv_nn(x: number, w: number, y: number, bias: number, K: number, N: number, n0: number, n1: number, KC: number, S: number): void;
  /** elementwise.ts: f(n0, n1, S, ...args) */
  gelu_fwd(n0: number, n1: number, S: number, out: number, inp: number): void;
  gelu_bwd(n0: number, n1: number, S: number, dinp: number, inp: number, dout: number): void;
  sumsq(n0: number, n1: number, S: number, g: number, out: number, chunk: number): void;
  adamw(n0: number, n1: number, S: number, p: number, g: number, m: number, v: number, hyper: number): void;
  ce_stats(r0: number, r1: number, S: number, logits: number, V: number, stats: number): void;
  ce_bwd(r0: number, r1: number, S: number, dlogits: number, logits: number, V: number, stats: number, k: number): void;
  attn_fwd(bh0: number, bh1: number, S: number, pb: number): void;
  attn_bwd(bh0: number, bh1: number, S: number, pb: number): void;
  gemm_tn(a: number, lda: number, b: number, ldb: number, c: number, ldc: number, J: number, P: number, i0: number, i1: number, S: number): void;
}

export interface KernelModule {
  options: KernelOptions;
  module: WasmModule;
  /** the main thread's instance */
  kernels: Kernels;
}

const modules = new Map<string, KernelModule>();

/** Compile (once per options) and instantiate the kernels over the heap's memory. */
export function kernelModule(heap: WasmHeap, options?: KernelOptions): KernelModule {
  const o = options ?? defaultKernelOptions(heap.shared);
  const key = JSON.stringify(o);
  const hit = modules.get(key);
  if (hit) return hit;
  const wa = wasmApi();
  if (!wa) throw new Error('internal: kernels without WebAssembly');
  const module = new wa.Module(buildKernelModule(o));
  const inst = new wa.Instance(module, { env: { memory: heap.memory } });
  const km: KernelModule = { options: o, module, kernels: inst.exports as unknown as Kernels };
  modules.set(key, km);
  return km;
}
