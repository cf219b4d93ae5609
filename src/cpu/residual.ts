// Residual connection, forward (its backward is a pass-through of the gradient to both inputs).
// Reference: HF GPT2Block `hidden_states = residual + attn_output`.

/** out = a + b, n elements (out may alias a or b) */
export function residualForward(out: Float32Array, a: Float32Array, b: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
}
