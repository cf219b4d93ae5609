// Token + position embedding, forward (the backward slots in beside it).
// Reference: HF GPT2Model.forward `inputs_embeds + position_embeds`; llm.c encoder_forward.

/**
 * out[b,t,:] = wte[ids[b,t],:] + wpe[pos0 + t,:]
 * out (B,T,C), ids (B,T), wte (V,C), wpe (P,C)
 */
export function encoderForward(out: Float32Array, ids: Int32Array, wte: Float32Array, wpe: Float32Array,
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
