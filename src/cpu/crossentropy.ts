// Softmax cross-entropy of next-token logits against targets, forward and backward side by side,
// with ignore_index −100. The mean over counted targets is taken by the caller (model/gpt2.ts
// gpt2Loss), which passes scale = 1/count to the backward.
// Reference: torch.nn.CrossEntropyLoss(ignore_index=-100) (reduction 'mean' over counted targets);
// llm.c crossentropy_forward / crossentropy_softmax_backward
// (https://github.com/karpathy/llm.c/blob/master/train_gpt2.c).
//
//   forward:  loss_r = logsumexp(z_r) − z_r[y_r] = −log softmax(z_r)[y_r]      (0 when y_r = −100)
//   backward: ∂loss_r/∂z_r[j] = softmax(z_r)[j] − [j = y_r]
//             dz_r += scale · (softmax(z_r) − onehot(y_r))                     (nothing when y_r = −100)
// Max-subtracted, in float64 (JS numbers).

import type { Floats } from '../backend.ts';

export const IGNORE_INDEX = -100;

/** throws unless 0 ≤ y < V (the caller has excluded −100) */
export function checkTarget(y: number, r: number, V: number): void {
  if (!(y >= 0 && y < V)) throw new RangeError(`target ${y} at position ${r} is outside the vocabulary (0..${V - 1}) and not ${IGNORE_INDEX}`);
}

/** max and log Σ exp(z − max) of one row: logsumexp = max + logZ */
function rowLogSumExp(logits: Floats, o: number, V: number): { max: number; logZ: number } {
  let max = -Infinity;
  for (let j = 0; j < V; j++) if (logits[o + j] > max) max = logits[o + j];
  let z = 0;
  for (let j = 0; j < V; j++) z += Math.exp(logits[o + j] - max);
  return { max, logZ: Math.log(z) };
}

/** losses (rows) = per-row cross-entropy (0 where the target is −100); logits (rows, V), targets (rows) */
export function crossEntropyForward(losses: Floats, logits: Floats, targets: Int32Array, rows: number, V: number): void {
  for (let r = 0; r < rows; r++) {
    const y = targets[r];
    if (y === IGNORE_INDEX) {
      losses[r] = 0;
      continue;
    }
    checkTarget(y, r, V);
    const o = r * V;
    const { max, logZ } = rowLogSumExp(logits, o, V);
    losses[r] = max + logZ - logits[o + y];
  }
}

/** dlogits (rows, V) += scale · (softmax(logits) − onehot(targets)); rows with target −100 are skipped */
export function crossEntropyBackward(dlogits: Floats, logits: Floats, targets: Int32Array, rows: number, V: number,
  scale: number): void {
  const e = new Float64Array(V); // exp(z_j − max) of one row, kept so each logit is exponentiated once
  for (let r = 0; r < rows; r++) {
    const y = targets[r];
    if (y === IGNORE_INDEX) continue;
    checkTarget(y, r, V);
    const o = r * V;
    let max = -Infinity;
    for (let j = 0; j < V; j++) if (logits[o + j] > max) max = logits[o + j];
    let z = 0;
    for (let j = 0; j < V; j++) {
      e[j] = Math.exp(logits[o + j] - max);
      z += e[j];
    }
    const k = scale / z; // softmax_j · scale = e_j · scale / Σe
    for (let j = 0; j < V; j++) dlogits[o + j] += k * e[j];
    dlogits[o + y] -= scale;
  }
}

/** The number of targets that count (not −100). */
export function countTargets(targets: ArrayLike<number>): number {
  let n = 0;
  for (let i = 0; i < targets.length; i++) if (targets[i] !== IGNORE_INDEX) n++;
  return n;
}
