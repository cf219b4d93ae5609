// The plain-JavaScript fast rung of the matmul ladder (one thread): register-blocked loops for
// runtimes without WebAssembly SIMD, and for buffers outside the wasm heap. Same contract as
// matmulForwardNaive (matmul.ts):
//   transW = false: out[m,n] = bias[n] + Σ_k inp[m,k] · w[k,n]    w (K,N)
//   transW = true:  out[m,n] = bias[n] + Σ_k inp[m,k] · w[n,k]    w (N,K)
//
// V8 keeps JS numbers (float64) in registers but neither vectorizes nor fuses multiply-adds, so
// the gain over the naive loops is from reuse: a 4×4 block of outputs in 16 locals, each loaded
// input used 4 times. Sums are float64 until stored, like the naive rung.

/** out (M,N), inp (M,K), w (K,N) or (N,K) when transW, bias (N) or null */
export function matmulForwardBlocked(out: Float32Array, inp: Float32Array, w: Float32Array, bias: Float32Array | null,
  M: number, K: number, N: number, transW: boolean): void {
  const M4 = M - (M % 4), N4 = N - (N % 4);
  for (let m = 0; m < M4; m += 4) {
    const a0 = m * K, a1 = a0 + K, a2 = a1 + K, a3 = a2 + K;
    for (let n = 0; n < N4; n += 4) {
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      if (transW) {
        // 4 rows of A against 4 rows of W, both contiguous in k
        const r0 = n * K, r1 = r0 + K, r2 = r1 + K, r3 = r2 + K;
        for (let k = 0; k < K; k++) {
          const x0 = inp[a0 + k], x1 = inp[a1 + k], x2 = inp[a2 + k], x3 = inp[a3 + k];
          const y0 = w[r0 + k], y1 = w[r1 + k], y2 = w[r2 + k], y3 = w[r3 + k];
          c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2; c03 += x0 * y3;
          c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2; c13 += x1 * y3;
          c20 += x2 * y0; c21 += x2 * y1; c22 += x2 * y2; c23 += x2 * y3;
          c30 += x3 * y0; c31 += x3 * y1; c32 += x3 * y2; c33 += x3 * y3;
        }
      } else {
        // 4 rows of A against a 4-wide segment of each W row
        for (let k = 0, r = n; k < K; k++, r += N) {
          const x0 = inp[a0 + k], x1 = inp[a1 + k], x2 = inp[a2 + k], x3 = inp[a3 + k];
          const y0 = w[r], y1 = w[r + 1], y2 = w[r + 2], y3 = w[r + 3];
          c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2; c03 += x0 * y3;
          c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2; c13 += x1 * y3;
          c20 += x2 * y0; c21 += x2 * y1; c22 += x2 * y2; c23 += x2 * y3;
          c30 += x3 * y0; c31 += x3 * y1; c32 += x3 * y2; c33 += x3 * y3;
        }
      }
      const b0 = bias ? bias[n] : 0, b1 = bias ? bias[n + 1] : 0, b2 = bias ? bias[n + 2] : 0, b3 = bias ? bias[n + 3] : 0;
      let o = m * N + n;
      out[o] = c00 + b0; out[o + 1] = c01 + b1; out[o + 2] = c02 + b2; out[o + 3] = c03 + b3; o += N;
      out[o] = c10 + b0; out[o + 1] = c11 + b1; out[o + 2] = c12 + b2; out[o + 3] = c13 + b3; o += N;
      out[o] = c20 + b0; out[o + 1] = c21 + b1; out[o + 2] = c22 + b2; out[o + 3] = c23 + b3; o += N;
      out[o] = c30 + b0; out[o + 1] = c31 + b1; out[o + 2] = c32 + b2; out[o + 3] = c33 + b3;
    }
    // leftover columns of this row block
    for (let r = m; r < m + 4; r++) for (let n = N4; n < N; n++) out[r * N + n] = dot(inp, w, bias, r, n, K, N, transW);
  }
  // leftover rows
  for (let r = M4; r < M; r++) {
    if (!transW) {
      rowTimesW(out, inp, w, bias, r, K, N);
      continue;
    }
    for (let n = 0; n < N; n++) out[r * N + n] = dot(inp, w, bias, r, n, K, N, transW);
  }
}

/** one output: bias[n] + Σ_k inp[r,k] · W(k,n) */
function dot(inp: Float32Array, w: Float32Array, bias: Float32Array | null, r: number, n: number, K: number, N: number, transW: boolean): number {
  let s = 0;
  const a = r * K;
  if (transW) for (let k = 0, q = n * K; k < K; k++) s += inp[a + k] * w[q + k];
  else for (let k = 0, q = n; k < K; k++, q += N) s += inp[a + k] * w[q];
  return s + (bias ? bias[n] : 0);
}

/** one row of out for W (K,N): stream W's rows (the M = 1 decode shape), sums in float64 */
function rowTimesW(out: Float32Array, inp: Float32Array, w: Float32Array, bias: Float32Array | null, r: number, K: number, N: number): void {
  const acc = new Float64Array(N);
  const a = r * K;
  for (let k = 0; k < K; k++) {
    const x = inp[a + k];
    const q = k * N;
    for (let n = 0; n < N; n++) acc[n] += x * w[q + n];
  }
  const o = r * N;
  for (let n = 0; n < N; n++) out[o + n] = acc[n] + (bias ? bias[n] : 0);
}
