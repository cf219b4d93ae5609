// Row softmax over the vocabulary, and argmax for greedy decoding.
// Reference: torch.softmax(logits, -1) (max-subtracted for stability); torch.argmax (first maximum).

/** probs[r,:] = exp(logits[r,:] - max) / Σ exp(...), rows × V */
export function softmaxForward(probs: Float32Array, logits: Float32Array, rows: number, V: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * V;
    let max = -Infinity;
    for (let i = 0; i < V; i++) if (logits[o + i] > max) max = logits[o + i];
    let sum = 0;
    for (let i = 0; i < V; i++) {
      const e = Math.exp(logits[o + i] - max);
      probs[o + i] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let i = 0; i < V; i++) probs[o + i] *= inv;
  }
}

/** out[r] = the first index of the largest logit in row r (NaN never wins), rows × V */
export function argmax(out: Int32Array, logits: Float32Array, rows: number, V: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * V;
    let best = 0;
    let bv = -Infinity;
    for (let i = 0; i < V; i++) {
      if (logits[o + i] > bv) {
        bv = logits[o + i];
        best = i;
      }
    }
    out[r] = best;
  }
}
