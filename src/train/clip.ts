// Gradient clipping by global norm, as torch.nn.utils.clip_grad_norm_ (norm_type 2).
// Reference: torch/nn/utils/clip_grad.py.
//
//   norm = sqrt(Σ g²) over every parameter (a tied wte counted once: it is one tensor)
//   coef = min(1, max_norm / (norm + 1e-6));   g ← g · coef
// Over the flat gradient buffer: the alignment padding between tensors is zero and adds nothing.

/** sqrt(Σ g²) over the flat gradient buffer, summed in float64 */
export function gradNorm(grads: Float32Array): number {
  let s = 0;
  for (let i = 0; i < grads.length; i++) s += grads[i] * grads[i];
  return Math.sqrt(s);
}

/** The clip coefficient clip_grad_norm_ uses: min(1, maxNorm / (norm + 1e-6)). */
export function clipCoef(norm: number, maxNorm: number): number {
  return Math.min(1, maxNorm / (norm + 1e-6));
}

/**
 * Scale grads in place so their global norm is at most maxNorm; returns the norm before clipping
 * and the coefficient applied (1 when the norm was within bounds: grads untouched). A NaN or
 * infinite norm is returned as is, and the gradients are left alone (the caller stops on it).
 */
export function clipGradNorm(grads: Float32Array, maxNorm: number): { norm: number; coef: number } {
  if (!(maxNorm > 0)) throw new RangeError(`max grad norm must be positive, got ${maxNorm}`);
  const norm = gradNorm(grads);
  if (!Number.isFinite(norm)) return { norm, coef: 1 };
  const coef = clipCoef(norm, maxNorm);
  if (coef < 1) for (let i = 0; i < grads.length; i++) grads[i] *= coef;
  return { norm, coef };
}
