// gelu_new: the tanh approximation of GELU that GPT-2 uses, forward and backward side by side.
// Reference: HF `NewGELUActivation`; torch.nn.functional.gelu(x, approximate="tanh");
// llm.c gelu_forward / gelu_backward (https://github.com/karpathy/llm.c/blob/master/train_gpt2.c).
//
//   gelu_new(x) = 0.5·x·(1 + tanh(u)),   u = sqrt(2/π)·(x + 0.044715·x³)
//   d/dx        = 0.5·(1 + tanh(u)) + 0.5·x·(1 − tanh²(u)) · sqrt(2/π)·(1 + 3·0.044715·x²)
//                 └ through the factor x ┘  └──────────── through tanh(u) ────────────────┘

import type { Floats } from '../backend.ts';

export const GELU_SCALE = Math.sqrt(2 / Math.PI);

/** out = gelu_new(inp), n elements (out may alias inp) */
export function geluForward(out: Floats, inp: Floats, n: number): void {
  for (let i = 0; i < n; i++) {
    const x = inp[i];
    out[i] = 0.5 * x * (1 + Math.tanh(GELU_SCALE * (x + 0.044715 * x * x * x)));
  }
}

/** gelu_new'(x), the derivative above (float64) */
export function geluGrad(x: number): number {
  const th = Math.tanh(GELU_SCALE * (x + 0.044715 * x * x * x));
  return 0.5 * (1 + th) + 0.5 * x * (1 - th * th) * GELU_SCALE * (1 + 3 * 0.044715 * x * x);
}

/** dinp += gelu_new'(inp) · dout, n elements; inp is the forward's input */
export function geluBackward(dinp: Floats, inp: Floats, dout: Floats, n: number): void {
  for (let i = 0; i < n; i++) dinp[i] += geluGrad(inp[i]) * dout[i];
}
