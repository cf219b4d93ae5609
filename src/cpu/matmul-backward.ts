// The matmul backward on the wasm rung, accumulating like matmulBackwardNaive (matmul.ts):
//   dinp (M,K) += dout (M,N) · Wᵀ          dW += inpᵀ·dout (W (K,N))  or  doutᵀ·inp (W (N,K))
//   dbias (N)  += Σ_m dout[m, :]
// Every product runs on gemm_dp (src/wasm/gemm-dp.ts): C(i,j) += Σ_p A(i,p)·B(p,j) over the
// float32 buffers in place (each operand read row- or column-wise, packed and promoted to float64
// inside the kernel), products and sums in float64 rounded once into the float32 gradient, as the
// reference does (gradients are small sums of large terms; the tests hold the backward to the
// float64 reference). The four products as (i, j, p) and operand layouts:
//   dinp, W (K,N):  i = m, j = k, p = n    A = dout (rows of p)       B(p,j) = W[k,n] (rows of p)
//   dW,   W (K,N):  i = k, j = n, p = m    A(i,p) = inp[m,k] (p-major) B = dout (p-major)
//   dinp, W (N,K):  i = m, j = k, p = n    A = dout (rows of p)       B = W (p-major)
//   dW,   W (N,K):  i = n, j = k, p = m    A(i,p) = dout[m,n] (p-major) B = inp (p-major)
// Threads split the columns j (dispatch in matmul-wasm.ts); each output's sum order depends on p
// alone, so results do not depend on the thread count.

import { DP_MC_MAX, DP_NR } from '../wasm/gemm-dp.ts';
import type { WasmMatmul } from './matmul-wasm.ts';

export class WasmBackward {
  constructor(private readonly mm: WasmMatmul) {}

  /** false (nothing done) when a buffer is outside the wasm heap */
  backward(dinp: Float32Array, dw: Float32Array, dbias: Float32Array | null, dout: Float32Array, inp: Float32Array,
    w: Float32Array, M: number, K: number, N: number, transW: boolean): boolean {
    if (!this.mm.inHeap(dinp, dw, dbias, dout, inp, w)) return false;
    if (dinp.length < M * K || dw.length < K * N || dout.length < M * N || inp.length < M * K || w.length < K * N || (dbias && dbias.length < N)) {
      throw new RangeError(`matmulBackward: buffers too small for M=${M} K=${K} N=${N}`);
    }
    if (M === 0 || K === 0 || N === 0) return true;
    if (!transW) {
      // dinp[m,k] += Σ_n dout[m,n]·W[k,n]
      this.acc(dout, N, false, w, N, true, dinp, K, M, N, K);
      // dW[k,n] += Σ_m inp[m,k]·dout[m,n]
      this.acc(inp, K, true, dout, N, false, dw, N, K, M, N);
    } else {
      // dinp[m,k] += Σ_n dout[m,n]·W[n,k]
      this.acc(dout, N, false, w, K, false, dinp, K, M, N, K);
      // dW[n,k] += Σ_m dout[m,n]·inp[m,k]
      this.acc(dout, N, true, inp, K, false, dw, K, N, M, K);
    }
    if (dbias) {
      const acc = new Float64Array(N);
      for (let m = 0; m < M; m++) for (let n = 0, o = m * N; n < N; n++) acc[n] += dout[o + n];
      for (let n = 0; n < N; n++) dbias[n] += acc[n];
    }
    return true;
  }

  /**
   * C (I × J, row stride ldc) += A·B over P, on gemm_dp. A(i,p) = a[i·lda + p], or a[p·lda + i]
   * when aT; B(p,j) = b[p·ldb + j], or b[j·ldb + p] when bT.
   */
  private acc(a: Float32Array, lda: number, aT: boolean, b: Float32Array, ldb: number, bT: boolean, c: Float32Array, ldc: number,
    I: number, P: number, J: number): void {
    const MC = Math.min(DP_MC_MAX, Math.ceil(I / 4) * 4);
    this.mm.dispatch('gemm_dp', [a.byteOffset, lda, aT ? 1 : 0, b.byteOffset, ldb, bT ? 1 : 0, c.byteOffset, ldc, I, P, MC],
      J, DP_NR, I * P * J);
  }
}
