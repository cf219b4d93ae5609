// LayerNorm over the channel dimension, forward and backward side by side.
// Reference: torch.nn.LayerNorm (biased variance, eps inside the sqrt); llm.c layernorm_forward /
// layernorm_backward (https://github.com/karpathy/llm.c/blob/master/train_gpt2.c).
//
//   forward:  mean = Σx / C,  var = Σ(x - mean)² / C,  rstd = 1 / sqrt(var + eps)
//             n = (x - mean) · rstd,   out = n · w + b
//   backward (per row, dn = w ⊙ dout; mean and rstd depend on every x of the row):
//             db += dout
//             dw += n ⊙ dout
//             dx += rstd · ( dn − mean(dn) − n · mean(dn ⊙ n) )
//                          └ direct ┘ └ via mean ┘ └─ via rstd ─┘
// Sums run in float64 (JS numbers), so the result is the float32 rounding of a near-exact value.

import type { Floats } from '../backend.ts';

/** out (N,C), inp (N,C), w (C), b (C); mean and rstd (N) are cached for the backward when given */
export function layernormForward(out: Floats, mean: Floats | null, rstd: Floats | null,
  inp: Floats, w: Floats, b: Floats, N: number, C: number, eps: number): void {
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

/**
 * dinp (N,C), dw (C), db (C) += the LayerNorm gradients, from dout (N,C), the forward's input
 * inp (N,C), weight w (C) and its cached mean, rstd (N).
 */
export function layernormBackward(dinp: Floats, dw: Floats, db: Floats, dout: Floats, inp: Floats, w: Floats,
  mean: Floats, rstd: Floats, N: number, C: number): void {
  // dw and db are sums over the N rows: collect them in float64, add to the buffers once
  const dwSum = new Float64Array(C), dbSum = new Float64Array(C);
  for (let r = 0; r < N; r++) {
    const o = r * C;
    const m = mean[r], rs = rstd[r];
    // two reductions over the row: mean(dn) and mean(dn ⊙ n)
    let dnMean = 0, dnNormMean = 0;
    for (let i = 0; i < C; i++) {
      const n = (inp[o + i] - m) * rs;
      const dn = w[i] * dout[o + i];
      dnMean += dn;
      dnNormMean += dn * n;
    }
    dnMean /= C;
    dnNormMean /= C;
    for (let i = 0; i < C; i++) {
      const n = (inp[o + i] - m) * rs;
      const d = dout[o + i];
      dbSum[i] += d;
      dwSum[i] += n * d;
      dinp[o + i] += (w[i] * d - dnMean - n * dnNormMean) * rs;
    }
  }
  for (let i = 0; i < C; i++) {
    dw[i] += dwSum[i];
    db[i] += dbSum[i];
  }
}
