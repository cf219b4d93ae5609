// Matrix multiply with fused bias, forward and backward side by side. The reference rung of the
// CPU matmul ladder: plain loops, one thread. Faster kernels live beside it and are held against
// it in the tests.
// Reference: HF Conv1D `torch.addmm(bias, x, weight)` with weight stored (in, out); llm.c
// matmul_forward / matmul_backward (https://github.com/karpathy/llm.c/blob/master/train_gpt2.c).
//
//   transW = false: out[m,n] = bias[n] + Σ_k inp[m,k] · w[k,n]    w (K,N)  (Conv1D layout)
//   transW = true:  out[m,n] = bias[n] + Σ_k inp[m,k] · w[n,k]    w (N,K)  (lm-head against wte)
//
//   backward, writing W(k,n) for the (K,N) matrix the forward applies:
//     dinp[m,k] += Σ_n dout[m,n] · W(k,n)          dinp = dout · Wᵀ
//     dW(k,n)   += Σ_m inp[m,k] · dout[m,n]        dW   = inpᵀ · dout   (stored like w)
//     dbias[n]  += Σ_m dout[m,n]

import type { Floats } from '../backend.ts';

/** out (M,N), inp (M,K), w (K,N) or (N,K) when transW, bias (N) or null */
export function matmulForwardNaive(out: Floats, inp: Floats, w: Floats, bias: Floats | null,
  M: number, K: number, N: number, transW: boolean): void {
  if (transW) {
    // each output is a dot product of two contiguous rows
    for (let m = 0; m < M; m++) {
      const a = m * K;
      for (let n = 0; n < N; n++) {
        const r = n * K;
        let s = bias ? bias[n] : 0;
        for (let k = 0; k < K; k++) s += inp[a + k] * w[r + k];
        out[m * N + n] = s;
      }
    }
    return;
  }
  // i-k-j order: stream rows of w into a row of out
  for (let m = 0; m < M; m++) {
    const o = m * N;
    if (bias) for (let n = 0; n < N; n++) out[o + n] = bias[n];
    else out.fill(0, o, o + N);
    for (let k = 0; k < K; k++) {
      const a = inp[m * K + k];
      const r = k * N;
      for (let n = 0; n < N; n++) out[o + n] += a * w[r + n];
    }
  }
}

/**
 * dinp (M,K), dw (like w: (K,N), or (N,K) when transW) and dbias (N, or null) += the gradients of
 * out = inp · W + bias, from dout (M,N), the forward's input inp (M,K) and w.
 * Every sum runs in float64 and is added to the float32 buffer once. Loops are ordered so the
 * innermost one walks contiguous rows.
 */
export function matmulBackwardNaive(dinp: Floats, dw: Floats, dbias: Floats | null, dout: Floats, inp: Floats,
  w: Floats, M: number, K: number, N: number, transW: boolean): void {
  // dinp[m,:] = dout[m,:] · Wᵀ
  if (transW) {
    // W(k,n) = w[n,k]: dinp[m,:] = Σ_n dout[m,n] · w[n,:]  (stream rows of w)
    const acc = new Float64Array(K);
    for (let m = 0; m < M; m++) {
      acc.fill(0);
      for (let n = 0; n < N; n++) {
        const d = dout[m * N + n];
        const r = n * K;
        for (let k = 0; k < K; k++) acc[k] += d * w[r + k];
      }
      const o = m * K;
      for (let k = 0; k < K; k++) dinp[o + k] += acc[k];
    }
  } else {
    // W(k,n) = w[k,n]: dinp[m,k] = dout[m,:] · w[k,:]  (dot of two contiguous rows)
    for (let m = 0; m < M; m++) {
      const a = m * N;
      for (let k = 0; k < K; k++) {
        const r = k * N;
        let s = 0;
        for (let n = 0; n < N; n++) s += dout[a + n] * w[r + n];
        dinp[m * K + k] += s;
      }
    }
  }

  // dW = inpᵀ · dout
  if (transW) {
    // dw[n,:] = Σ_m dout[m,n] · inp[m,:]
    const acc = new Float64Array(K);
    for (let n = 0; n < N; n++) {
      acc.fill(0);
      for (let m = 0; m < M; m++) {
        const d = dout[m * N + n];
        const a = m * K;
        for (let k = 0; k < K; k++) acc[k] += d * inp[a + k];
      }
      const r = n * K;
      for (let k = 0; k < K; k++) dw[r + k] += acc[k];
    }
  } else {
    // dw[k,:] = Σ_m inp[m,k] · dout[m,:]
    const acc = new Float64Array(N);
    for (let k = 0; k < K; k++) {
      acc.fill(0);
      for (let m = 0; m < M; m++) {
        const x = inp[m * K + k];
        const a = m * N;
        for (let n = 0; n < N; n++) acc[n] += x * dout[a + n];
      }
      const r = k * N;
      for (let n = 0; n < N; n++) dw[r + n] += acc[n];
    }
  }

  // dbias[n] = Σ_m dout[m,n]
  if (dbias) {
    const acc = new Float64Array(N);
    for (let m = 0; m < M; m++) {
      const a = m * N;
      for (let n = 0; n < N; n++) acc[n] += dout[a + n];
    }
    for (let n = 0; n < N; n++) dbias[n] += acc[n];
  }
}
