// Pooling per-token hidden states (B, T, C) into one vector per row, by the attention mask.
// Reference: sentence-transformers mean pooling (sum of mask-weighted tokens / count);
// "last" = the hidden state of each row's last real token (right padding).

export type Pooling = 'mean' | 'last' | 'first';

/** hidden (B, T, C), mask (B, T) of 1/0 → (B, C). A row without real tokens is an error. */
export function pool(hidden: Float32Array, mask: ArrayLike<number>, B: number, T: number, C: number, how: Pooling): Float32Array {
  const out = new Float32Array(B * C);
  for (let b = 0; b < B; b++) {
    let count = 0, last = -1, first = -1;
    for (let t = 0; t < T; t++) {
      if (mask[b * T + t] !== 0) {
        count++;
        last = t;
        if (first < 0) first = t;
      }
    }
    if (count === 0) throw new RangeError(`row ${b} has no real tokens (its attention mask is all 0)`);
    if (how === 'mean') {
      const acc = new Float64Array(C);
      for (let t = 0; t < T; t++) {
        if (mask[b * T + t] === 0) continue;
        const o = (b * T + t) * C;
        for (let i = 0; i < C; i++) acc[i] += hidden[o + i];
      }
      for (let i = 0; i < C; i++) out[b * C + i] = acc[i] / count;
    } else {
      const t = how === 'last' ? last : first;
      out.set(hidden.subarray((b * T + t) * C, (b * T + t + 1) * C), b * C);
    }
  }
  return out;
}
