// gelu_new: the tanh approximation of GELU that GPT-2 uses, forward (the backward slots in beside it).
// Reference: HF `NewGELUActivation`; torch.nn.functional.gelu(x, approximate="tanh").
//   gelu_new(x) = 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³)))

export const GELU_SCALE = Math.sqrt(2 / Math.PI);

/** out = gelu_new(inp), n elements (out may alias inp) */
export function geluForward(out: Float32Array, inp: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const x = inp[i];
    out[i] = 0.5 * x * (1 + Math.tanh(GELU_SCALE * (x + 0.044715 * x * x * x)));
  }
}
