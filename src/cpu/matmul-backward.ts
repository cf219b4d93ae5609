// The matmul backward on the wasm rung, accumulating like matmulBackwardNaive (matmul.ts):
//   dinp (M,K) += dout (M,N) · Wᵀ          dW += inpᵀ·dout (W (K,N))  or  doutᵀ·inp (W (N,K))
//   dbias (N)  += Σ_m dout[m, :]
// Every product is float32 (products and sums, FMA where the runtime fuses), as PyTorch's backward
// is; the gradients are added into the float32 buffers in place. The four products and kernels:
//   dinp, W (K,N):  dout (M,N) · Wᵀ, W's rows are the output columns  gemm_nt  (accumulate)
//   dinp, W (N,K):  dout (M,N) · W                                   gemm_nnp (accumulate)
//   dW,   W (K,N):  C (K,N) += Σ_m inp[m,k]·dout[m,n]                 gemm_tn  A = inp,  B = dout
//   dW,   W (N,K):  C (N,K) += Σ_m dout[m,n]·inp[m,k]                 gemm_tn  A = dout, B = inp
// gemm_nt and gemm_nnp are the forward kernels (matmul-wasm.ts); gemm_tn (src/wasm/gemm-tn.ts)
// sums over the rows of both operands on packed panels. Threads split output columns (dinp) or
// rows (dW); each output's sum order depends on the reduction index alone, so results do not
// depend on the thread count.

import { TN_ALIGN } from '../wasm/gemm-tn.ts';
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
    // dinp (M,K) += dout (M,N) · Wᵀ: W (K,N) is "W (N',K')" of the transposed forward layout, and
    // W (N,K) the plain one
    this.mm.accumulate(dinp, dout, w, M, N, K, !transW);
    if (!transW) this.tn(inp, K, dout, N, dw, N, K, M, N); // dW[k,n] += Σ_m inp[m,k]·dout[m,n]
    else this.tn(dout, N, inp, K, dw, K, N, M, K); // dW[n,k] += Σ_m dout[m,n]·inp[m,k]
    if (dbias) {
      const acc = new Float64Array(N);
      for (let m = 0; m < M; m++) for (let n = 0, o = m * N; n < N; n++) acc[n] += dout[o + n];
      for (let n = 0; n < N; n++) dbias[n] += acc[n];
    }
    return true;
  }

  /** C (I × J, row stride ldc) += Σ_p A[p, i]·B[p, j] over P rows, on gemm_tn; threads split the rows i */
  private tn(a: Float32Array, lda: number, b: Float32Array, ldb: number, c: Float32Array, ldc: number, I: number, P: number, J: number): void {
    this.mm.dispatch('gemm_tn', [a.byteOffset, lda, b.byteOffset, ldb, c.byteOffset, ldc, J, P], I, TN_ALIGN, I * P * J);
  }
}
