// Token + position embedding, forward and backward side by side.
// Reference: HF GPT2Model.forward `inputs_embeds + position_embeds`; llm.c encoder_forward /
// encoder_backward (https://github.com/karpathy/llm.c/blob/master/train_gpt2.c).
//
//   forward:  out[b,t,:] = wte[ids[b,t],:] + wpe[pos0 + t,:]
//   backward: the lookup routes each row's gradient back to the rows it read:
//             dwte[ids[b,t],:] += dout[b,t,:]      (a token seen twice collects both)
//             dwpe[pos0 + t,:] += dout[b,t,:]      (summed over the batch; unused positions get 0)

import type { Floats } from '../backend.ts';

/**
 * out[b,t,:] = wte[ids[b,t],:] + wpe[pos0 + t,:]
 * out (B,T,C), ids (B,T), wte (V,C), wpe (P,C)
 */
export function encoderForward(out: Floats, ids: Int32Array, wte: Floats, wpe: Floats,
  B: number, T: number, C: number, pos0: number): void {
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const o = (b * T + t) * C;
      const we = ids[b * T + t] * C;
      const pe = (pos0 + t) * C;
      for (let i = 0; i < C; i++) out[o + i] = wte[we + i] + wpe[pe + i];
    }
  }
}

/**
 * dwte (V,C) and dwpe (P,C) += the gradient of the lookup, from dout (B,T,C) and ids (B,T).
 * With a tied lm-head, dwte also receives the lm-head's gradient (matmulBackward); both add up.
 */
export function encoderBackward(dwte: Floats, dwpe: Floats, dout: Floats, ids: Int32Array,
  B: number, T: number, C: number, pos0: number): void {
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const o = (b * T + t) * C;
      const we = ids[b * T + t] * C;
      const pe = (pos0 + t) * C;
      for (let i = 0; i < C; i++) {
        const d = dout[o + i];
        dwte[we + i] += d;
        dwpe[pe + i] += d;
      }
    }
  }
}
