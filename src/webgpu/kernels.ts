// The WGSL kernels the backend runs: which file, which entry point, how many storage buffers each
// binds, and their override constants. The sources live in kernels/*.wgsl (design principle 5) and
// are read as they are: nothing is generated or injected.
//
// Binding convention (every kernel): @binding(0) is the uniform Params struct (bound with a dynamic
// offset into one ring buffer); @binding(1..buffers) are storage buffers in the order the binder
// passes them.

import { readFileSync } from 'node:fs';

/** Every kernel, by name: file, entry point, number of storage bindings. */
export const KERNELS = {
  encoder: { file: 'encoder_forward.wgsl', entry: 'main', buffers: 4 },
  layernorm: { file: 'layernorm_forward.wgsl', entry: 'main', buffers: 6 },
  matmulNaive: { file: 'matmul_naive.wgsl', entry: 'main', buffers: 4 },
  matmulTiled: { file: 'matmul_tiled.wgsl', entry: 'main', buffers: 4 },
  matmulRegblock: { file: 'matmul_regblock.wgsl', entry: 'main', buffers: 4 },
  matvecW: { file: 'matvec.wgsl', entry: 'matvec_w', buffers: 4 },
  matvecWt: { file: 'matvec.wgsl', entry: 'matvec_wt', buffers: 4 },
  matmulGemm: { file: 'matmul_gemm.wgsl', entry: 'main', buffers: 4 },
  matmulGemmReduce: { file: 'matmul_gemm.wgsl', entry: 'reduce', buffers: 4 },
  gemvW: { file: 'matmul_gemv.wgsl', entry: 'gemv_w', buffers: 4 },
  gemvWt: { file: 'matmul_gemv.wgsl', entry: 'gemv_wt', buffers: 4 },
  attnScores: { file: 'attention_unfused.wgsl', entry: 'scores', buffers: 4 },
  attnSoftmax: { file: 'attention_unfused.wgsl', entry: 'softmax', buffers: 4 },
  attnValues: { file: 'attention_unfused.wgsl', entry: 'values', buffers: 4 },
  attnFlash: { file: 'attention_flash.wgsl', entry: 'main', buffers: 3 },
  attnDecode: { file: 'attention_decode.wgsl', entry: 'main', buffers: 5 },
  attnDecodePartial: { file: 'attention_decode_split.wgsl', entry: 'partial', buffers: 6 },
  attnDecodeCombine: { file: 'attention_decode_split.wgsl', entry: 'combine', buffers: 6 },
  kvcacheWrite: { file: 'kvcache_write.wgsl', entry: 'main', buffers: 3 },
  gelu: { file: 'gelu_forward.wgsl', entry: 'main', buffers: 2 },
  residual: { file: 'residual_forward.wgsl', entry: 'main', buffers: 3 },
  softmax: { file: 'softmax_forward.wgsl', entry: 'main', buffers: 2 },
  argmax: { file: 'argmax.wgsl', entry: 'main', buffers: 2 },
} as const satisfies Record<string, KernelDef>;

export interface KernelDef {
  file: string;
  entry: string;
  buffers: number;
}

export type KernelName = keyof typeof KERNELS;

/** Override constants, by WGSL name (numbers; bool overrides take 0 / 1). */
export type Constants = Readonly<Record<string, number>>;

/** What a pipeline is cached by: the kernel and its override constants. */
export interface PipelineKey {
  kernel: KernelName;
  constants: Constants;
}

/** A stable string for a PipelineKey (constants sorted by name). */
export function pipelineKeyString(key: PipelineKey): string {
  const c = Object.keys(key.constants).sort().map((k) => `${k}=${key.constants[k]}`).join(',');
  return `${key.kernel}{${c}}`;
}

const sources = new Map<string, string>();

/**
 * The WGSL source of a kernel file. `new URL('../../kernels/…', import.meta.url)` resolves to the
 * package's kernels/ folder from both src/webgpu (tsx, Deno) and dist/webgpu (compiled).
 */
export function kernelSource(file: string): string {
  let src = sources.get(file);
  if (src === undefined) {
    const url = new URL(`../../kernels/${file}`, import.meta.url);
    try {
      src = readFileSync(url, 'utf8');
    } catch (e) {
      throw new Error(`cannot read WGSL kernel ${url.href}: ${(e as Error).message}`);
    }
    sources.set(file, src);
  }
  return src;
}
