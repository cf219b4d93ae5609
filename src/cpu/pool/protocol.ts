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
 * Kernel ids and how a worker calls them: the job's ARGS, with the item's (n0, n1) and, for the
 * packed GEMM and the GEMV, the thread's own scratch pointer spliced in (see worker-source.ts).
 */
export const KERNEL_IDS = {
  /** gemm_nnp(a, w, c, bias, M, K, N, n0, n1, MC, KC, P, accum) — ARGS: a w c bias M K N MC KC accum */
  gemm_nnp: 0,
  /** gemm_nt(a, w, c, bias, M, K, N, n0, n1, MC, accum) — ARGS: a w c bias M K N MC accum */
  gemm_nt: 1,
  /** gemv_nn(x, w, y, bias, K, N, n0, n1, KC, S) — ARGS: x w y bias K N KC */
  gemv_nn: 2,
  /** gemv_nt(a, w, c, bias, 1, K, N, n0, n1, MC, accum) — ARGS: a w c bias 1 K N MC accum */
  gemv_nt: 3,
  /** gemm_dd(a, b, c, I, K, J, j0, j1, IC, ldc, mode) — ARGS: a b c I K J IC ldc mode */
  gemm_dd: 4,
} as const;

export type KernelName = keyof typeof KERNEL_IDS;
