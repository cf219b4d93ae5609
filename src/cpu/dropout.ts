// Dropout (inverted, as torch.nn.Dropout in training mode), forward and backward side by side,
// and the seeded mask it multiplies by.
// Reference: torch.nn.functional.dropout (training=True); HF GPT-2 applies it to the embeddings
// (`embd_pdrop`), the attention probabilities (`attn_pdrop`) and both residual branches
// (`resid_pdrop`); in eval and generation it is the identity.
//
//   mask[i] = 1/(1−p) with probability 1−p, else 0        (so E[mask] = 1 and E[out] = inp)
//   forward:  out  = inp ⊙ mask
//   backward: dinp += dout ⊙ mask
//
// The mask is drawn on the host from a seeded PCG32 stream (generate/rng.ts), one 32-bit draw per
// element in order, so the same seed gives the same masks on every backend, and a checkpoint that
// saves the RNG state resumes the same stream.

import type { Floats } from '../backend.ts';
import type { Rng } from '../generate/rng.ts';

/**
 * Fill mask[0..n) for dropout probability p (0 ≤ p < 1): element i is kept (1/(1−p)) when its
 * draw u ∈ [0, 2³²) satisfies u ≥ p·2³², i.e. with probability 1 − p; otherwise it is 0.
 */
export function fillDropoutMask(mask: Floats, n: number, p: number, rng: Pick<Rng, 'nextU32'>): void {
  if (!(p >= 0 && p < 1)) throw new RangeError(`dropout probability must be in [0, 1), got ${p}`);
  const threshold = p * 4294967296;
  const keep = 1 / (1 - p);
  for (let i = 0; i < n; i++) mask[i] = rng.nextU32() >= threshold ? keep : 0;
}

/** out = inp ⊙ mask, n elements (out may alias inp) */
export function dropoutForward(out: Floats, inp: Floats, mask: Floats, n: number): void {
  for (let i = 0; i < n; i++) out[i] = inp[i] * mask[i];
}

/** dinp += dout ⊙ mask, n elements */
export function dropoutBackward(dinp: Floats, dout: Floats, mask: Floats, n: number): void {
  for (let i = 0; i < n; i++) dinp[i] += dout[i] * mask[i];
}
