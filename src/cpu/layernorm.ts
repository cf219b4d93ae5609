// LayerNorm over the channel dimension, forward (the backward slots in beside it).
// Reference: torch.nn.LayerNorm (biased variance, eps inside the sqrt); llm.c layernorm_forward.
//   mean = Σx / C,  var = Σ(x - mean)² / C,  rstd = 1 / sqrt(var + eps)
//   out = (x - mean) · rstd · w + b
// Sums run in float64 (JS numbers), so the result is the float32 rounding of a near-exact value.

/** out (N,C), inp (N,C), w (C), b (C); mean and rstd (N) are cached for the backward when given */
export function layernormForward(out: Float32Array, mean: Float32Array | null, rstd: Float32Array | null,
  inp: Float32Array, w: Float32Array, b: Float32Array, N: number, C: number, eps: number): void {
  for (let r = 0; r < N; r++) {
    const o = r * C;
    let s = 0;
    for (let i = 0; i < C; i++) s += inp[o + i];
    const m = s / C;
    let v = 0;
    for (let i = 0; i < C; i++) {
      const d = inp[o + i] - m;
      v += d * d;
    }
    const rs = 1 / Math.sqrt(v / C + eps);
    for (let i = 0; i < C; i++) out[o + i] = (inp[o + i] - m) * rs * w[i] + b[i];
    if (mean) mean[r] = m;
    if (rstd) rstd[r] = rs;
  }
}
