// Matrix multiply with fused bias, forward (the backward slots in beside it). The reference rung
// of the CPU matmul ladder: plain loops, one thread. Faster kernels live beside it and are held
// against it in the tests.
// Reference: HF Conv1D `torch.addmm(bias, x, weight)` with weight stored (in, out); llm.c matmul_forward.
//
//   transW = false: out[m,n] = bias[n] + Σ_k inp[m,k] · w[k,n]    w (K,N)  (Conv1D layout)
//   transW = true:  out[m,n] = bias[n] + Σ_k inp[m,k] · w[n,k]    w (N,K)  (lm-head against wte)

/** out (M,N), inp (M,K), w (K,N) or (N,K) when transW, bias (N) or null */
export function matmulForwardNaive(out: Float32Array, inp: Float32Array, w: Float32Array, bias: Float32Array | null,
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
