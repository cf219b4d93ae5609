// The wasm rung of the CPU matmul ladder: picks a kernel for the shape and layout, cuts the
// columns into items for the worker pool, and runs it. Same contract as matmulForwardNaive:
//   out (M,N) = inp (M,K) · W + bias,  W (K,N), or with transW W (N,K) used transposed.
//
// Kernel choice (each measured in bench/cpu.ts; see the generators' headers for the math):
//   transW, M ≥ 2        gemm_nt   dot-product tiles, rows of W read in place (lm-head: no copy)
//   transW, M = 1        gemv_nt   the same tiles with 1 row of A × 8 rows of W (decode lm-head)
//   W (K,N), M = 1       gemv_nn   streams 4 rows of W at a time, partial sums in L1 (decode)
//   W (K,N), M ≥ 2       gemm_nnp  W packed per 16-column group into k-contiguous panels, dot tiles
// gemv_nn and gemm_nnp do the same float operations in the same order for each output (as does
// gemm_nt for any M), so a row's result is the same whether it is multiplied alone (KV-cache
// decode) or with others (the full forward).
// Every buffer must live in the wasm heap (allocated by CpuBackend or Params); otherwise `forward`
// returns false and the caller uses a JS kernel.

import type { KernelModule } from '../wasm/kernels.ts';
import type { WasmHeap } from '../wasm/heap.ts';
import { MAX_KC, SCRATCH_BYTES, type WorkerPool } from './pool/pool.ts';
import { callKernel, KERNELS, type KernelName, MAX_ITEMS } from './pool/protocol.ts';

/** below this many multiply-adds a matmul runs on the calling thread alone (waking workers costs more) */
const PARALLEL_MIN_MACS = 1 << 17;
/** items per thread: more than one lets a thread that was descheduled on a shared machine be covered */
const ITEMS_PER_THREAD = 4;
/**
 * at or above this many multiply-adds (≈ 3 ms on one core) a job always runs on the pool: its items
 * are taken dynamically, so a descheduled worker delays it by one item at most, while a serial trial
 * of the Chooser would cost the whole job at half speed (the lm-head's backward: ≈ 0.5 s)
 */
const ALWAYS_PARALLEL_MACS = 1 << 27;
/** L2 budget for the A block of one row block (bytes): half of a 1 MiB L2 */
const A_BLOCK_BYTES = 512 * 1024;


export class WasmMatmul {
  constructor(private readonly heap: WasmHeap, private readonly km: KernelModule, private readonly pool: WorkerPool | null) {}

  get threads(): number {
    return this.pool?.threads ?? 1;
  }

  inHeap(...xs: (Float32Array | null)[]): boolean {
    for (const x of xs) if (x && !this.heap.contains(x)) return false;
    return true;
  }

  /**
   * out = inp·W + bias on the wasm kernels; false (nothing done) when a buffer is outside the heap.
   * wBf16: the byte address of W's bfloat16 copy (matmul-bf16.ts): the weights are read from it.
   */
  forward(out: Float32Array, inp: Float32Array, w: Float32Array, bias: Float32Array | null,
    M: number, K: number, N: number, transW: boolean, wBf16 = -1): boolean {
    if (!this.inHeap(out, inp, w, bias)) return false;
    if (out.length < M * N || inp.length < M * K || w.length < K * N || (bias && bias.length < N)) {
      throw new RangeError(`matmul: buffers too small for M=${M} K=${K} N=${N}`);
    }
    if (M === 0 || N === 0) return true;
    if (K === 0) {
      for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) out[m * N + n] = bias ? bias[n] : 0;
      return true;
    }
    const wp = wBf16 >= 0 ? wBf16 : w.byteOffset;
    if (transW) this.nt(inp.byteOffset, wp, out.byteOffset, bias, M, K, N, false, wBf16 >= 0);
    else this.nn(inp.byteOffset, wp, out.byteOffset, bias, M, K, N, false, wBf16 >= 0);
    return true;
  }

  /**
   * out (M,N) += inp (M,K) · W on the float32 kernels (the backward's input gradients): W (K,N) on
   * gemm_nnp, or with transW W (N,K) used transposed on gemm_nt. Buffers must be in the heap.
   */
  accumulate(out: Float32Array, inp: Float32Array, w: Float32Array, M: number, K: number, N: number, transW: boolean): void {
    if (M === 0 || N === 0 || K === 0) return;
    if (transW) this.nt(inp.byteOffset, w.byteOffset, out.byteOffset, null, M, K, N, true, false);
    else this.nn(inp.byteOffset, w.byteOffset, out.byteOffset, null, M, K, N, true, false);
  }

  /**
   * C (M,N) = A (M,K) · W(N,K)ᵀ (+ bias), or += with accum; byte addresses; bf16: W is bfloat16.
   * Rows of W per item: multiples of 4 (8 for M = 1).
   */
  private nt(a: number, w: number, c: number, bias: Float32Array | null, M: number, K: number, N: number, accum: boolean, bf16: boolean): void {
    const args = [a, w, c, bias ? bias.byteOffset : 0, M, K, N, rowBlock(K), accum ? 1 : 0];
    if (M === 1) this.dispatch(bf16 ? 'gemv_nt_bf16' : 'gemv_nt', args, N, 8, M * K * N);
    else this.dispatch(bf16 ? 'gemm_nt_bf16' : 'gemm_nt', args, N, 4, M * K * N);
  }

  /** C (M,N) = A (M,K) · W(K,N) (+ bias), or += with accum; byte addresses; bf16: W is bfloat16 */
  private nn(a: number, w: number, c: number, bias: Float32Array | null, M: number, K: number, N: number, accum: boolean, bf16: boolean): void {
    const b = bias ? bias.byteOffset : 0;
    // the K block must be the same for both kernels (same sums, see the header)
    const KC = K <= MAX_KC ? K : 512;
    if (M === 1 && !accum) this.dispatch(bf16 ? 'gemv_nn_bf16' : 'gemv_nn', [a, w, c, b, K, N, KC], N, 16, M * K * N);
    else this.dispatch(bf16 ? 'gemm_nnp_bf16' : 'gemm_nnp', [a, w, c, b, M, K, N, rowBlock(KC), KC, accum ? 1 : 0], N, 16, M * K * N);
  }

  /**
   * Split the kernel's range [0, N) (columns; rows of C for gemm_tn) into items aligned to `align` and run them (args as in pool/protocol.ts),
   * across the pool or on this thread alone, whichever has been faster for this job's shape
   * (see Chooser: on a shared machine the other cores may be busy, and a fork-join job then waits
   * for a descheduled worker).
   */
  dispatch(kernel: KernelName, args: number[], N: number, align: number, macs: number): void {
    const T = this.threads;
    if (!this.pool) {
      this.single(kernel, args, N);
      return;
    }
    if (T === 1 || macs < PARALLEL_MIN_MACS) {
      this.pool.run(kernel, args, [[0, N]]); // one item: runs here, no worker is woken
      return;
    }
    // keyed by kernel and amount of work, not by the buffers: the 12 layers' matmuls share one entry
    // (with the pointers in the key, every layer explored the serial mode in its second step)
    const key = `${kernel}:${N}:${macs}`;
    const chosen = macs < ALWAYS_PARALLEL_MACS;
    const parallel = !chosen || this.chooser.pick(key);
    const t0 = performance.now();
    if (!parallel) {
      this.pool.run(kernel, args, [[0, N]]);
    } else {
      const groups = Math.ceil(N / align);
      const nItems = Math.min(MAX_ITEMS, groups, T * ITEMS_PER_THREAD);
      const per = Math.ceil(groups / nItems);
      const items: [number, number][] = [];
      for (let g = 0; g < groups; g += per) items.push([g * align, Math.min(N, (g + per) * align)]);
      this.pool.run(kernel, args, items);
    }
    if (chosen) this.chooser.record(key, parallel, performance.now() - t0);
  }

  private readonly chooser = new Chooser();

  /** no pool (one thread): call the kernel directly (argument layouts in pool/protocol.ts) */
  private single(kernel: KernelName, a: number[], N: number): void {
    const f = this.km.kernels[kernel] as (...x: number[]) => void;
    callKernel(f, KERNELS[kernel].layout, a, 0, 0, N, this.scratch().byteOffset);
  }

  private scratchBuf: Float32Array | null = null;
  private scratch(): Float32Array {
    this.scratchBuf ??= this.heap.allocF32(SCRATCH_BYTES / 4);
    if (!this.scratchBuf) throw new Error('gpt2ts: no room in the wasm heap for matmul scratch');
    return this.scratchBuf;
  }
}

/**
 * Serial or parallel, per job shape: a moving average of the time of each mode; the faster one
 * runs, and every EXPLORE-th job of a shape runs the other one to keep its average current (the
 * load of a shared machine changes). Shapes repeat (a model runs the same dozen matmuls), so this
 * settles within a few forward passes.
 */
class Chooser {
  /** per key: moving averages (NaN until measured) and samples seen per mode */
  private readonly stats = new Map<string, { par: number; ser: number; np: number; ns: number; n: number }>();
  private static readonly EXPLORE = 16;
  private static readonly ALPHA = 0.25;

  pick(key: string): boolean {
    let s = this.stats.get(key);
    if (!s) {
      if (this.stats.size > 4096) this.stats.clear(); // bounded: shapes of a few models
      s = { par: NaN, ser: NaN, np: 0, ns: 0, n: 0 };
      this.stats.set(key, s);
    }
    s.n++;
    // each mode runs twice before the averages are compared: its first run is not counted, as it
    // may still execute baseline (Liftoff) code or touch cold memory, which made a 2-thread job
    // look slower than the serial one and stick to serial
    if (s.np < 2) return true;
    if (s.ns < 2) return false;
    const best = s.par <= s.ser;
    // a clear winner (≥ 1.5× faster) is re-checked 4 times less often: each exploration of the
    // other mode costs a whole job at the slower speed (a training step has hundreds of big jobs)
    const every = Math.max(s.par, s.ser) >= 1.5 * Math.min(s.par, s.ser) ? 4 * Chooser.EXPLORE : Chooser.EXPLORE;
    return s.n % every === 0 ? !best : best;
  }

  record(key: string, parallel: boolean, ms: number): void {
    const s = this.stats.get(key);
    if (!s) return;
    if (parallel ? s.np++ === 0 : s.ns++ === 0) return; // the first run of a mode: not counted
    const old = parallel ? s.par : s.ser;
    const v = Number.isNaN(old) ? ms : old + Chooser.ALPHA * (ms - old);
    if (parallel) s.par = v;
    else s.ser = v;
  }
}

/** rows per row block so that the A block (rows × KC floats) fits the L2 budget; a multiple of 2 */
function rowBlock(KC: number): number {
  return Math.max(2, Math.floor(A_BLOCK_BYTES / (4 * KC) / 2) * 2);
}
