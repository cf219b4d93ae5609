// The matmul backward on the wasm rung, accumulating like matmulBackwardNaive (matmul.ts):
//   dinp (M,K) += dout (M,N) · Wᵀ          dW += inpᵀ·dout (W (K,N))  or  doutᵀ·inp (W (N,K))
//   dbias (N)  += Σ_m dout[m, :]
// Every product runs on gemm_dd (src/wasm/gemm-dd.ts): float64 sums rounded once to float32, the
// reference's accuracy (gradients have cancellation; the gradient tests are tight). Its operands are
// float64 rows contiguous in the summed index, built here from the float32 buffers:
//   dinp, W (K,N):  A = dout (M rows of N),       B = W (K rows of N)
//   dinp, W (N,K):  per chunk of n: A = dout[:, chunk], B = W[chunk, :]ᵀ (K rows); float64 partial
//                   sums in C64 (M,K), added to dinp at the end (the vocabulary is 50257 wide)
//   dW,   W (K,N):  A = inpᵀ (K rows of M),       B = doutᵀ (N rows of M)
//   dW,   W (N,K):  per chunk of n: A = dout[:, chunk]ᵀ (rows of M), B = inpᵀ (K rows of M)
// Conversion and transposes cost O(M·K + M·N + K·N) against the products' O(M·K·N).

import type { WasmHeap } from '../wasm/heap.ts';
import type { WasmMatmul } from './matmul-wasm.ts';

/** columns of the vocabulary per chunk (keeps the float64 panels a few MiB) */
const CHUNK = 512;
/** L2 budget (bytes) for a row block of A: rows × K × 8 */
const A_BLOCK_BYTES = 512 * 1024;

export class WasmBackward {
  private bufs: Float32Array[] = [];

  constructor(private readonly heap: WasmHeap, private readonly mm: WasmMatmul) {}

  /** false (nothing done) when a buffer is outside the wasm heap */
  backward(dinp: Float32Array, dw: Float32Array, dbias: Float32Array | null, dout: Float32Array, inp: Float32Array,
    w: Float32Array, M: number, K: number, N: number, transW: boolean): boolean {
    if (!this.mm.inHeap(dinp, dw, dbias, dout, inp, w)) return false;
    if (M === 0 || K === 0 || N === 0) return true;
    if (!transW) {
      // dinp (M,K) += dout (M rows of N) · W (K rows of N)ᵀ
      const A = this.f64(0, M * N), B = this.f64(1, K * N);
      copyRows(A, dout, M, N, N, 0);
      copyRows(B, w, K, N, N, 0);
      this.dd(A, B, dinp, M, N, K, K, 0);
      // dW (K,N) += inpᵀ (K rows of M) · doutᵀ (N rows of M)ᵀ
      const At = this.f64(0, K * M), Bt = this.f64(1, N * M);
      transposeRows(At, inp, M, K, K, 0);
      transposeRows(Bt, dout, M, N, N, 0);
      this.dd(At, Bt, dw, K, M, N, N, 0);
    } else {
      // dinp (M,K) += Σ over chunks of n: dout[:, chunk] · (W[chunk, :]ᵀ rows)ᵀ, summed in float64
      const C64 = this.f64(2, M * K);
      C64.fill(0);
      for (let n0 = 0; n0 < N; n0 += CHUNK) {
        const nc = Math.min(CHUNK, N - n0);
        const A = this.f64(0, M * nc), B = this.f64(1, K * nc);
        copyRows(A, dout, M, nc, N, n0);
        transposeRows(B, w, nc, K, K, n0 * K);
        this.dd(A, B, C64, M, nc, K, K, 1);
      }
      for (let i = 0; i < M * K; i++) dinp[i] = dinp[i] + C64[i];
      // dW (N,K) rows in chunks: dW[chunk, :] += dout[:, chunk]ᵀ · inp
      const Bt = this.f64(1, K * M);
      transposeRows(Bt, inp, M, K, K, 0);
      for (let n0 = 0; n0 < N; n0 += CHUNK) {
        const nc = Math.min(CHUNK, N - n0);
        const At = this.f64(0, nc * M);
        transposeRows(At, dout, M, nc, N, n0);
        this.dd(At, Bt, dw.subarray(n0 * K, (n0 + nc) * K), nc, M, K, K, 0);
      }
    }
    if (dbias) {
      const acc = new Float64Array(N);
      for (let m = 0; m < M; m++) for (let n = 0, o = m * N; n < N; n++) acc[n] += dout[o + n];
      for (let n = 0; n < N; n++) dbias[n] += acc[n];
    }
    return true;
  }

  /** C (I,J) (+)= A (I rows of K) · B (J rows of K)ᵀ on gemm_dd; mode 0: C float32, 1: C float64 */
  private dd(A: Float64Array, B: Float64Array, C: Float32Array | Float64Array, I: number, K: number, J: number, ldc: number, mode: 0 | 1): void {
    const IC = Math.max(2, Math.floor(A_BLOCK_BYTES / (8 * K) / 2) * 2);
    this.mm.dispatch('gemm_dd', [A.byteOffset, B.byteOffset, C.byteOffset, I, K, J, IC, ldc, mode], J, 4, I * K * J);
  }

  /** grow-only float64 scratch number `slot` of at least n doubles, in the heap */
  private f64(slot: number, n: number): Float64Array {
    let b = this.bufs[slot];
    if (!b || b.length < 2 * n) {
      if (b) this.heap.freeArray(b);
      const nb = this.heap.allocF32(2 * n);
      if (!nb) throw new Error('gpt2ts: no room in the wasm heap for the matmul backward');
      this.bufs[slot] = b = nb;
    }
    return new Float64Array(b.buffer, b.byteOffset, n);
  }
}

/** dst (rows, cols) float64 = src[off + r·stride + c] */
function copyRows(dst: Float64Array, src: Float32Array, rows: number, cols: number, stride: number, off: number): void {
  for (let r = 0; r < rows; r++) {
    const s = off + r * stride, d = r * cols;
    for (let c = 0; c < cols; c++) dst[d + c] = src[s + c];
  }
}

/** dst (cols, rows) float64 = src[off + r·stride + c] transposed, in 32×32 blocks */
function transposeRows(dst: Float64Array, src: Float32Array, rows: number, cols: number, stride: number, off: number): void {
  for (let r0 = 0; r0 < rows; r0 += 32) {
    const r1 = Math.min(rows, r0 + 32);
    for (let c0 = 0; c0 < cols; c0 += 32) {
      const c1 = Math.min(cols, c0 + 32);
      for (let r = r0; r < r1; r++) {
        const s = off + r * stride;
        for (let c = c0; c < c1; c++) dst[c * rows + r] = src[s + c];
      }
    }
  }
}
