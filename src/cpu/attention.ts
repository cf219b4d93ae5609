// Causal multi-head self-attention, forward and backward side by side, with an optional padding
// mask and optional dropout on the probabilities; and the KV-cache variant for incremental decoding.
// Reference: HF GPT2Attention._attn (eager); llm.c attention_forward / attention_backward
// (https://github.com/karpathy/llm.c/blob/master/train_gpt2.c).
//
//   qkv (B,T,3C) = q | k | v along the last axis, each viewed (B,T,NH,hs), hs = C/NH
//   score[t,s] = (q_t · k_s) · scale      for s ≤ t (causal), -∞ where mask[b,s] = 0
//   att[t,:] = softmax(score[t,:]);  out_t = Σ_s att[t,s] · drop[t,s] · v_s,  heads merged to (B,T,C)
//   (drop = 1 without dropout; in training, 0 or 1/(1−p) per probability, HF `attn_dropout`)
//
//   backward, per (b, h, t), with P = att[t,:] and P' = P ⊙ drop[t,:] the probabilities used:
//     dv_s    += P'[s] · dout_t
//     dP'[s]   = dout_t · v_s,   dP[s] = dP'[s] · drop[t,s]
//     dscore[s] = P[s] · (dP[s] − Σ_u P[u]·dP[u])        (softmax backward)
//     dq_t    += Σ_s dscore[s] · scale · k_s
//     dk_s    += dscore[s] · scale · q_t
//   masked keys are constants (−∞ scores) and get no score gradient.
// Scores, the softmax and the backward's sums run in float64 (JS numbers).

import type { Floats, KVLayer } from '../backend.ts';

/**
 * out (B,T,C); att (B,NH,T,T) receives the probabilities (zeros above the diagonal) or null;
 * qkv (B,T,3C); mask (B, maskStride) of 1/0 (columns 0..T-1 are read) or null.
 */
export function attentionForward(out: Floats, att: Floats | null, qkv: Floats,
  mask: Int32Array | null, maskStride: number, B: number, T: number, C: number, NH: number, scale: number): void {
  attentionCore(out, att, null, qkv, mask, maskStride, B, T, C, NH, scale);
}

/**
 * attentionForward with dropout on the probabilities: dropMask (B,NH,T,T) of 0 or 1/(1−p) multiplies
 * att[t,s] where it meets v_s. att receives the probabilities before dropout (the backward needs them).
 */
export function attentionDropoutForward(out: Floats, att: Floats, dropMask: Floats, qkv: Floats,
  mask: Int32Array | null, maskStride: number, B: number, T: number, C: number, NH: number, scale: number): void {
  attentionCore(out, att, dropMask, qkv, mask, maskStride, B, T, C, NH, scale);
}

function attentionCore(out: Floats, att: Floats | null, dropMask: Floats | null, qkv: Floats,
  mask: Int32Array | null, maskStride: number, B: number, T: number, C: number, NH: number, scale: number): void {
  const hs = C / NH;
  const C3 = 3 * C;
  const score = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      for (let t = 0; t < T; t++) {
        const q = (b * T + t) * C3 + h * hs;
        // scores against keys 0..t
        for (let s = 0; s <= t; s++) {
          const k = (b * T + s) * C3 + C + h * hs;
          let d = 0;
          for (let i = 0; i < hs; i++) d += qkv[q + i] * qkv[k + i];
          score[s] = d * scale;
        }
        softmaxMasked(score, t + 1, mask, b * maskStride);
        const a = ((b * NH + h) * T + t) * T;
        const o = (b * T + t) * C + h * hs;
        for (let i = 0; i < hs; i++) out[o + i] = 0;
        for (let s = 0; s <= t; s++) {
          const p = dropMask ? score[s] * dropMask[a + s] : score[s];
          const v = (b * T + s) * C3 + 2 * C + h * hs;
          for (let i = 0; i < hs; i++) out[o + i] += p * qkv[v + i];
        }
        if (att) {
          for (let s = 0; s < T; s++) att[a + s] = s <= t ? score[s] : 0;
        }
      }
    }
  }
}

/**
 * dqkv (B,T,3C) += the gradient of attentionForward / attentionDropoutForward, from dout (B,T,C),
 * the forward's qkv (B,T,3C), its probabilities att (B,NH,T,T) and dropout mask (or null);
 * mask (B, maskStride) of 1/0 or null, as in the forward.
 */
export function attentionBackward(dqkv: Floats, dout: Floats, qkv: Floats, att: Floats, dropMask: Floats | null,
  mask: Int32Array | null, maskStride: number, B: number, T: number, C: number, NH: number, scale: number): void {
  const hs = C / NH;
  const C3 = 3 * C;
  const dP = new Float64Array(T); // dloss/dP[t,s] for one query row
  const dq = new Float64Array(hs);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      for (let t = 0; t < T; t++) {
        const a = ((b * NH + h) * T + t) * T;
        const o = (b * T + t) * C + h * hs; // dout_t
        const q = (b * T + t) * C3 + h * hs;
        // out_t = Σ_s P'[s] v_s  →  dv_s += P'[s]·dout_t,  dP'[s] = dout_t · v_s
        let sum = 0; // Σ_u P[u]·dP[u]
        for (let s = 0; s <= t; s++) {
          const v = (b * T + s) * C3 + 2 * C + h * hs;
          const keep = dropMask ? dropMask[a + s] : 1;
          const pUsed = att[a + s] * keep;
          let d = 0;
          for (let i = 0; i < hs; i++) {
            d += dout[o + i] * qkv[v + i];
            dqkv[v + i] += pUsed * dout[o + i];
          }
          dP[s] = d * keep;
          sum += att[a + s] * dP[s];
        }
        // softmax backward, then through score = scale · q_t · k_s
        dq.fill(0);
        for (let s = 0; s <= t; s++) {
          if (mask && mask[b * maskStride + s] === 0) continue;
          const ds = att[a + s] * (dP[s] - sum) * scale;
          const k = (b * T + s) * C3 + C + h * hs;
          for (let i = 0; i < hs; i++) {
            dq[i] += ds * qkv[k + i];
            dqkv[k + i] += ds * qkv[q + i];
          }
        }
        for (let i = 0; i < hs; i++) dqkv[q + i] += dq[i];
      }
    }
  }
}

/**
 * In place: score[0..n) becomes softmax(score) with masked keys (mask[maskOff + s] = 0) at zero.
 * If every key is masked, all n keys get 1/n (what Hugging Face's finite mask value gives).
 */
export function softmaxMasked(score: Float64Array, n: number, mask: Int32Array | null, maskOff: number): void {
  let max = -Infinity;
  for (let s = 0; s < n; s++) {
    if (mask && mask[maskOff + s] === 0) score[s] = -Infinity;
    else if (score[s] > max) max = score[s];
  }
  if (max === -Infinity) {
    for (let s = 0; s < n; s++) score[s] = 1 / n;
    return;
  }
  let sum = 0;
  for (let s = 0; s < n; s++) {
    const e = Math.exp(score[s] - max);
    score[s] = e;
    sum += e;
  }
  const inv = 1 / sum;
  for (let s = 0; s < n; s++) score[s] *= inv;
}

/** cache.k, cache.v (B,NH,cap,hs) at positions [pos0, pos0 + T) = the k, v of qkv (B,T,3C) */
export function kvCacheWrite(cache: KVLayer<Float32Array>, qkv: Float32Array, B: number, T: number, C: number,
  NH: number, pos0: number, cap: number): void {
  const hs = C / NH;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const src = (b * T + t) * 3 * C;
      for (let h = 0; h < NH; h++) {
        const dst = ((b * NH + h) * cap + pos0 + t) * hs;
        for (let i = 0; i < hs; i++) {
          cache.k[dst + i] = qkv[src + C + h * hs + i];
          cache.v[dst + i] = qkv[src + 2 * C + h * hs + i];
        }
      }
    }
  }
}

/**
 * T new queries over cache positions 0..pos0+t (the chunk's own k, v already written).
 * out (B,T,C), qkv (B,T,3C), mask (B, maskStride) over cache positions or null.
 */
export function attentionCached(out: Float32Array, qkv: Float32Array, cache: KVLayer<Float32Array>,
  mask: Int32Array | null, maskStride: number, B: number, T: number, C: number, NH: number, pos0: number,
  cap: number, scale: number): void {
  const hs = C / NH;
  const score = new Float64Array(pos0 + T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      const base = (b * NH + h) * cap;
      for (let t = 0; t < T; t++) {
        const q = (b * T + t) * 3 * C + h * hs;
        const n = pos0 + t + 1;
        for (let s = 0; s < n; s++) {
          const k = (base + s) * hs;
          let d = 0;
          for (let i = 0; i < hs; i++) d += qkv[q + i] * cache.k[k + i];
          score[s] = d * scale;
        }
        softmaxMasked(score, n, mask, b * maskStride);
        const o = (b * T + t) * C + h * hs;
        for (let i = 0; i < hs; i++) out[o + i] = 0;
        for (let s = 0; s < n; s++) {
          const p = score[s];
          const v = (base + s) * hs;
          for (let i = 0; i < hs; i++) out[o + i] += p * cache.v[v + i];
        }
      }
    }
  }
}
