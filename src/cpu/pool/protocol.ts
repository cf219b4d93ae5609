// The job protocol between the main thread and the pool's workers: a block of int32 words in the
// shared wasm memory. One job at a time; its work is a list of items (column ranges), taken by
// whichever thread gets there first (the main thread works too).
//
//   GEN     job generation, bumped by the main thread to start a job (workers wait on it)
//   QUIT    1: workers return
//   NEXT    (GEN & 0xffff) << 16 | next item index; taken by compare-exchange, so a worker that
//           wakes late, after its job finished and the next began, cannot take an item of the new
//           job under the old job's arguments
//   REM     items not yet finished; the thread that finishes the last one notifies
//   ERR     set when a kernel threw in a worker (the main thread rethrows)
//   KERNEL  which kernel (see KERNEL_IDS); NITEMS; ARGS[0..12); ITEMS: (n0, n1) pairs

export const GEN = 0;
export const QUIT = 1;
export const NEXT = 2;
export const REM = 3;
export const ERR = 4;
export const KERNEL = 5;
export const NITEMS = 6;
export const ARGS = 8;
export const NARGS = 12;
export const ITEMS = 32;
export const MAX_ITEMS = 512;
export const CTL_INTS = ITEMS + 2 * MAX_ITEMS;

/**
 * How a kernel is called: the job's ARGS with the item's (n0, n1) and, where the kernel needs it,
 * the calling thread's own scratch pointer S spliced in:
 *   nnp   f(a, w, c, bias, M, K, N, n0, n1, MC, KC, S, accum)   ARGS: a w c bias M K N MC KC accum
 *   nt    f(a, w, c, bias, M, K, N, n0, n1, MC, accum)          ARGS: a w c bias M K N MC accum
 *   gemv  f(x, w, y, bias, K, N, n0, n1, KC, S)                 ARGS: x w y bias K N KC
 *   tn    f(a, lda, b, ldb, c, ldc, J, P, n0, n1, S)             ARGS: a lda b ldb c ldc J P (n0, n1: rows of C)
 *   ew    f(n0, n1, S, a0, ..., a8)                              ARGS: a0 .. a8 (element/row kernels)
 */
export type Layout = 'nnp' | 'nt' | 'gemv' | 'tn' | 'ew';

/** Kernel ids (the KERNEL word) → export name and layout; the bf16 twins read bfloat16 weights. */
export const KERNELS = {
  gemm_nnp: { id: 0, layout: 'nnp' },
  gemm_nt: { id: 1, layout: 'nt' },
  gemv_nn: { id: 2, layout: 'gemv' },
  gemv_nt: { id: 3, layout: 'nt' },
  gemm_nnp_bf16: { id: 4, layout: 'nnp' },
  gemm_nt_bf16: { id: 5, layout: 'nt' },
  gemv_nn_bf16: { id: 6, layout: 'gemv' },
  gemv_nt_bf16: { id: 7, layout: 'nt' },
  gemm_tn: { id: 8, layout: 'tn' },
  gelu_fwd: { id: 9, layout: 'ew' },
  gelu_bwd: { id: 10, layout: 'ew' },
  sumsq: { id: 11, layout: 'ew' },
  adamw: { id: 12, layout: 'ew' },
  ce_stats: { id: 13, layout: 'ew' },
  ce_bwd: { id: 14, layout: 'ew' },
  attn_fwd: { id: 15, layout: 'ew' },
  attn_bwd: { id: 16, layout: 'ew' },
} as const satisfies Record<string, { id: number; layout: Layout }>;

export type KernelName = keyof typeof KERNELS;

/** Call kernel `f` with a job's args for columns [n0, n1) and this thread's scratch (the one place the layouts are spelled out). */
export function callKernel(f: (...x: number[]) => void, layout: Layout, a: ArrayLike<number>, o: number, n0: number, n1: number, S: number): void {
  switch (layout) {
    case 'nnp': f(a[o], a[o + 1], a[o + 2], a[o + 3], a[o + 4], a[o + 5], a[o + 6], n0, n1, a[o + 7], a[o + 8], S, a[o + 9]); break;
    case 'nt': f(a[o], a[o + 1], a[o + 2], a[o + 3], a[o + 4], a[o + 5], a[o + 6], n0, n1, a[o + 7], a[o + 8]); break;
    case 'gemv': f(a[o], a[o + 1], a[o + 2], a[o + 3], a[o + 4], a[o + 5], n0, n1, a[o + 6], S); break;
    case 'tn': f(a[o], a[o + 1], a[o + 2], a[o + 3], a[o + 4], a[o + 5], a[o + 6], a[o + 7], n0, n1, S); break;
    case 'ew': f(n0, n1, S, a[o], a[o + 1], a[o + 2], a[o + 3], a[o + 4], a[o + 5], a[o + 6], a[o + 7], a[o + 8]); break;
  }
}
