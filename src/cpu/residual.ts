// Residual connection, forward and backward side by side.
// Reference: HF GPT2Block `hidden_states = residual + attn_output`; llm.c residual_forward /
// residual_backward (https://github.com/karpathy/llm.c/blob/master/train_gpt2.c).
//
//   forward:  out = a + b
//   backward: ∂out/∂a = ∂out/∂b = 1, so the gradient passes unchanged to both inputs:
//             da += dout;  db += dout

import type { Floats } from '../backend.ts';

/** out = a + b, n elements (out may alias a or b) */
export function residualForward(out: Floats, a: Floats, b: Floats, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
}

/** da += dout; db += dout, n elements */
export function residualBackward(da: Floats, db: Floats, dout: Floats, n: number): void {
  for (let i = 0; i < n; i++) {
    const d = dout[i];
    da[i] += d;
    db[i] += d;
  }
}
