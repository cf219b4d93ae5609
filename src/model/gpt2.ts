// The GPT-2 forward pass, written once against the Backend interface (it runs on every device).
// Reference: HF GPT2LMHeadModel / GPT2Model / GPT2Block; llm.c gpt2_forward.
//
//   x = wte[ids] + wpe[pos0 .. pos0+T-1]
//   for each block:  x = x + attn(ln_1(x));  x = x + mlp(ln_2(x))
//     attn(h) = c_proj(causal_attention(split(h · c_attn.W + c_attn.b)))
//     mlp(h)  = c_proj(gelu_new(h · c_fc.W + c_fc.b))
//   logits = ln_f(x) · lmHeadᵀ       (lmHead = wte when tied)
//
// With a KV cache, the chunk's keys and values are stored at positions [pos0, pos0 + T) and its
// queries attend over the whole cache; without one, the chunk attends to itself (pos0 = 0).
// The backward pass (gpt2Backward) is this call list in reverse.

import type { Backend } from '../backend.ts';
import { type GPT2Config, headSize } from '../config.ts';
import type { ParamViews, Params } from '../params.ts';
import { makeViews } from '../params.ts';
import type { Activations } from './activations.ts';
import type { KVCache } from './kvcache.ts';

/** Parameters resident on a backend: the flat buffer and its named views. */
export interface DeviceParams<F> {
  config: GPT2Config;
  buffer: F;
  views: ParamViews<F>;
}

/** Upload the flat parameter buffer once (one write; none on the CPU) and cut the named views out of it. */
export function uploadParams<F, I>(be: Backend<F, I>, params: Params): DeviceParams<F> {
  const buffer = be.upload(params.data);
  return { config: params.config, buffer, views: makeViews(params.specs, (o, n) => be.view(buffer, o, n)) };
}

/** The attention score scale for block `layer`: 1/sqrt(hs), and 1/(layer+1) if the config asks. */
export function attentionScale(cfg: GPT2Config, layer: number): number {
  let s = cfg.scaleAttnWeights ? 1 / Math.sqrt(headSize(cfg)) : 1;
  if (cfg.scaleAttnByInverseLayerIdx) s /= layer + 1;
  return s;
}

export interface ForwardOptions<F, I> {
  /**
   * Attention mask, 1 = token, 0 = padding: (B, T) without a cache; (B, cache.cap) over absolute
   * cache positions with one. null or absent: every token is real.
   */
  mask?: I | null;
  /** Incremental decoding: write this chunk's k, v at [cache.length, cache.length + T), attend over
   * the cache, then advance cache.length by T. */
  cache?: KVCache<F> | null;
  /** 'all' positions (B·T rows), 'last' position of each row (B rows), or 'none' */
  logits?: 'all' | 'last' | 'none';
}

export interface ForwardResult<F> {
  /** (B·T, V) or (B, V), per ForwardOptions.logits; null for 'none' */
  logits: F | null;
  /** (BT, C) ln_f output (HF last_hidden_state) */
  lnf: F;
  /** (BT, C) embeddings then each block's output, when the activations keep hidden states */
  hidden: F[];
}

/**
 * Run the model on ids (B, T), already written to a backend int buffer. Every op is enqueued on
 * `be`; read the result buffers with be.readF32. The caller validates ids (< V) and positions
 * (pos0 + T ≤ P) and sizes `acts` for at least (B, T).
 */
export function gpt2Forward<F, I>(be: Backend<F, I>, model: DeviceParams<F>, acts: Activations<F>, ids: I,
  B: number, T: number, opts: ForwardOptions<F, I> = {}): ForwardResult<F> {
  const cfg = model.config;
  const C = cfg.nEmbd, NH = cfg.nHead, Fi = cfg.nInner, V = cfg.vocabSize, L = cfg.nLayer;
  const BT = B * T;
  const w = model.views;
  const cache = opts.cache ?? null;
  const mask = opts.mask ?? null;
  const pos0 = cache ? cache.length : 0;
  if (B > acts.B || T > acts.T) throw new Error(`internal: activations sized for ${acts.B}×${acts.T}, got ${B}×${T}`);
  if (cache && (cache.B !== B || pos0 + T > cache.cap)) {
    throw new Error(`internal: KV cache (B ${cache.B}, cap ${cache.cap}, length ${cache.length}) cannot take ${B}×${T}`);
  }
  const rs = acts.residual;
  const res = (i: number): F => be.view(rs[i % rs.length], 0, BT * C);
  const v = (buf: F, n: number): F => be.view(buf, 0, n);

  be.encoderForward(res(0), ids, w.wte, w.wpe, B, T, C, pos0);
  for (let l = 0; l < L; l++) {
    const p = w.blocks[l];
    const a = acts.layers[l];
    const x = res(l);
    const ln1 = v(a.ln1, BT * C), qkv = v(a.qkv, BT * 3 * C), atty = v(a.atty, BT * C);
    const attproj = v(a.attproj, BT * C), residual2 = v(a.residual2, BT * C), ln2 = v(a.ln2, BT * C);
    const fch = v(a.fch, BT * Fi), fchGelu = v(a.fchGelu, BT * Fi), fcproj = v(a.fcproj, BT * C);
    const scale = attentionScale(cfg, l);

    be.layernormForward(ln1, a.ln1Mean, a.ln1Rstd, x, p.ln1w, p.ln1b, BT, C, cfg.layerNormEpsilon);
    be.matmulForward(qkv, ln1, p.qkvw, p.qkvb, BT, C, 3 * C, false);
    if (cache) {
      const kv = cache.layers[l];
      be.kvCacheWrite(kv, qkv, B, T, C, NH, pos0, cache.cap);
      if (pos0 === 0 && T > 1) {
        // a first chunk attends only to itself: the plain (prefill) kernel, mask columns 0..T-1
        be.attentionForward(atty, a.att, qkv, mask, cache.cap, B, T, C, NH, scale);
      } else {
        be.attentionCached(atty, qkv, kv, mask, cache.cap, B, T, C, NH, pos0, cache.cap, scale);
      }
    } else {
      be.attentionForward(atty, a.att, qkv, mask, T, B, T, C, NH, scale);
    }
    be.matmulForward(attproj, atty, p.attprojw, p.attprojb, BT, C, C, false);
    be.residualForward(residual2, x, attproj, BT * C);
    be.layernormForward(ln2, a.ln2Mean, a.ln2Rstd, residual2, p.ln2w, p.ln2b, BT, C, cfg.layerNormEpsilon);
    be.matmulForward(fch, ln2, p.fcw, p.fcb, BT, C, Fi, false);
    be.geluForward(fchGelu, fch, BT * Fi);
    be.matmulForward(fcproj, fchGelu, p.fcprojw, p.fcprojb, BT, Fi, C, false);
    be.residualForward(res(l + 1), residual2, fcproj, BT * C);
  }
  const lnf = v(acts.lnf, BT * C);
  be.layernormForward(lnf, acts.lnfMean, acts.lnfRstd, res(L), w.lnfw, w.lnfb, BT, C, cfg.layerNormEpsilon);

  let logits: F | null = null;
  const mode = opts.logits ?? 'all';
  if (mode === 'all') {
    if (acts.logitRows < BT) throw new Error('internal: activations hold last-position logits only');
    logits = v(acts.logits, BT * V);
    be.matmulForward(logits, lnf, w.lmHead, null, BT, C, V, true);
  } else if (mode === 'last') {
    // gather the last position of every row, then one (B, C) × (C, V) product
    const last = v(acts.lastRows, B * C);
    for (let b = 0; b < B; b++) be.copyF32(last, b * C, lnf, (b * T + T - 1) * C, C);
    logits = v(acts.logits, B * V);
    be.matmulForward(logits, last, w.lmHead, null, B, C, V, true);
  }
  if (cache) cache.length += T;
  const hidden = rs.length === L + 1 ? rs.map((r) => be.view(r, 0, BT * C)) : [];
  return { logits, lnf, hidden };
}

