// The GPT-2 forward and backward passes, written once against the Backend interface (the forward
// runs on every device, the backward on every TrainingBackend).
// Reference: HF GPT2LMHeadModel / GPT2Model / GPT2Block; llm.c gpt2_forward / gpt2_backward
// (https://github.com/karpathy/llm.c/blob/master/train_gpt2.c).
//
//   x = wte[ids] + wpe[pos0 .. pos0+T-1]
//   for each block:  x = x + attn(ln_1(x));  x = x + mlp(ln_2(x))
//     attn(h) = c_proj(causal_attention(split(h · c_attn.W + c_attn.b)))
//     mlp(h)  = c_proj(gelu_new(h · c_fc.W + c_fc.b))
//   logits = ln_f(x) · lmHeadᵀ       (lmHead = wte when tied)
//
// With a KV cache, the chunk's keys and values are stored at positions [pos0, pos0 + T) and its
// queries attend over the whole cache; without one, the chunk attends to itself (pos0 = 0).
// In training mode (ForwardOptions.dropout) dropout is applied where HF's training mode applies it:
//   x = drop(wte[ids] + wpe);  x = x + drop(attn(...)) with drop on the attention probabilities
//   too;  x = x + drop(mlp(...)).
// The backward pass (gpt2Backward, below) is this call list in reverse.

import { type Backend, type TrainingBackend, isTrainingBackend } from '../backend.ts';
import { type GPT2Config, headSize } from '../config.ts';
import { fillDropoutMask } from '../cpu/dropout.ts';
import type { Rng } from '../generate/rng.ts';
import type { ParamViews, Params } from '../params.ts';
import { makeViews } from '../params.ts';
import type { Activations, DropoutUsed, GradActivations } from './activations.ts';
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
  /**
   * Training mode: dropout as in HF training mode, masks drawn from `dropout.rng`. Needs a
   * TrainingBackend and activations allocated with `perLayer` and `dropout`; no KV cache.
   * Absent or null (the default, and always in eval and generation): no dropout.
   */
  dropout?: DropoutOptions | null;
}

export interface DropoutOptions {
  /**
   * The stream the masks are drawn from, in a fixed order: embeddings, then per block the attention
   * probabilities, attn.c_proj's output, mlp.c_proj's output (one draw per element).
   */
  rng: Pick<Rng, 'nextU32'>;
  /** probabilities overriding the config's embd_pdrop, attn_pdrop, resid_pdrop */
  embd?: number;
  attn?: number;
  resid?: number;
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

  // training mode: which dropouts apply, and a host array the masks are drawn into
  const pd = dropoutProbs(cfg, opts.dropout ?? null);
  const used: DropoutUsed = { embd: pd.embd > 0, attn: pd.attn > 0, resid: pd.resid > 0 };
  acts.dropoutUsed = used;
  const training = used.embd || used.attn || used.resid;
  let tb: TrainingBackend<F, I> | null = null;
  let drawMask = (_buf: F | null, _n: number, _p: number): F => {
    throw new Error('internal: no dropout in this forward');
  };
  if (training) {
    if (cache) throw new Error('dropout is for training; it cannot run with a KV cache');
    if (!isTrainingBackend(be)) throw new Error(`the ${be.name} backend has no training ops (dropout)`);
    if (!acts.embdDrop) throw new Error('internal: dropout needs activations allocated with { perLayer: true, dropout: true }');
    tb = be;
    const rng = opts.dropout?.rng;
    if (!rng) throw new Error('internal: dropout without an rng');
    const host = new Float32Array(Math.max(BT * C, B * NH * T * T));
    drawMask = (buf: F | null, n: number, p: number): F => {
      if (!buf) throw new Error('internal: missing dropout mask buffer');
      fillDropoutMask(host, n, p, rng);
      be.writeF32(buf, host.subarray(0, n));
      return v(buf, n);
    };
  }

  be.encoderForward(res(0), ids, w.wte, w.wpe, B, T, C, pos0);
  if (tb && used.embd) tb.dropoutForward(res(0), res(0), drawMask(acts.embdDrop, BT * C, pd.embd), BT * C);
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
    } else if (tb && used.attn) {
      if (!a.att) throw new Error('internal: attention dropout needs perLayer activations');
      const m = drawMask(a.attDrop, B * NH * T * T, pd.attn);
      tb.attentionDropoutForward(atty, a.att, m, qkv, mask, T, B, T, C, NH, scale);
    } else {
      be.attentionForward(atty, a.att, qkv, mask, T, B, T, C, NH, scale);
    }
    be.matmulForward(attproj, atty, p.attprojw, p.attprojb, BT, C, C, false);
    if (tb && used.resid) tb.dropoutForward(attproj, attproj, drawMask(a.attprojDrop, BT * C, pd.resid), BT * C);
    be.residualForward(residual2, x, attproj, BT * C);
    be.layernormForward(ln2, a.ln2Mean, a.ln2Rstd, residual2, p.ln2w, p.ln2b, BT, C, cfg.layerNormEpsilon);
    be.matmulForward(fch, ln2, p.fcw, p.fcb, BT, C, Fi, false);
    be.geluForward(fchGelu, fch, BT * Fi);
    be.matmulForward(fcproj, fchGelu, p.fcprojw, p.fcprojb, BT, Fi, C, false);
    if (tb && used.resid) tb.dropoutForward(fcproj, fcproj, drawMask(a.fcprojDrop, BT * C, pd.resid), BT * C);
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


/** The dropout probabilities of a forward: the overrides, else the config's; all 0 without options. */
function dropoutProbs(cfg: GPT2Config, d: DropoutOptions | null): { embd: number; attn: number; resid: number } {
  if (!d) return { embd: 0, attn: 0, resid: 0 };
  const p = { embd: d.embd ?? cfg.embdPdrop, attn: d.attn ?? cfg.attnPdrop, resid: d.resid ?? cfg.residPdrop };
  for (const [k, x] of Object.entries(p)) {
    if (!(x >= 0 && x < 1)) throw new RangeError(`dropout probability ${k} must be in [0, 1), got ${x}`);
  }
  return p;
}

// ---- training: loss and backward ---------------------------------------------------------------

/**
 * A zero gradient buffer with the parameters' layout (one allocation; the padding between
 * tensors stays zero) and the same named views. With a tied lm-head, `views.lmHead` is `views.wte`,
 * so the lm-head's gradient and the lookup's gradient add up in one tensor.
 */
export function allocGrads<F, I>(be: Backend<F, I>, params: Params): DeviceParams<F> {
  const buffer = be.allocF32(params.data.length);
  return { config: params.config, buffer, views: makeViews(params.specs, (o, n) => be.view(buffer, o, n)) };
}

/**
 * Mean cross-entropy of the last forward's logits (all B·T positions) against targets (B,T),
 * over the `count` targets that are not −100 (cpu/crossentropy.ts countTargets); NaN when count is
 * 0, as PyTorch. Leaves the per-position losses in gacts.losses.
 */
export async function gpt2Loss<F, I>(be: TrainingBackend<F, I>, model: DeviceParams<F>, acts: Activations<F>,
  gacts: GradActivations<F>, targets: I, B: number, T: number, count: number): Promise<number> {
  const BT = B * T, V = model.config.vocabSize;
  if (acts.logitRows < BT) throw new Error('internal: the loss needs logits for every position');
  const losses = be.view(gacts.losses, 0, BT);
  be.crossEntropyForward(losses, be.view(acts.logits, 0, BT * V), targets, BT, V);
  const host = await be.readF32(losses, BT);
  let sum = 0;
  for (let i = 0; i < BT; i++) sum += host[i];
  return sum / count;
}

export interface BackwardOptions<I> {
  /** the attention mask the forward used (B, T), or null */
  mask?: I | null;
  /**
   * ∂loss/∂(one position's cross-entropy): 1/count for the mean over counted targets, divided
   * further by the number of micro-batches when gradients are accumulated (HF Trainer: loss /
   * gradient_accumulation_steps).
   */
  lossScale: number;
}

/**
 * Gradients of the loss for the last forward (which must have run on `acts` with `perLayer` and
 * logits 'all'), *added* to `grads` (allocGrads; zero it with be.zero first, or keep adding for
 * gradient accumulation). ids and targets (B,T) are the forward's. The forward's call list in
 * reverse; each line names the forward op it undoes.
 */
export function gpt2Backward<F, I>(be: TrainingBackend<F, I>, model: DeviceParams<F>, grads: DeviceParams<F>,
  acts: Activations<F>, gacts: GradActivations<F>, ids: I, targets: I, B: number, T: number, opts: BackwardOptions<I>): void {
  const cfg = model.config;
  const C = cfg.nEmbd, NH = cfg.nHead, Fi = cfg.nInner, V = cfg.vocabSize, L = cfg.nLayer;
  const BT = B * T;
  const w = model.views, g = grads.views;
  const mask = opts.mask ?? null;
  const used = acts.dropoutUsed;
  if (B > acts.B || T > acts.T || B > gacts.B || T > gacts.T) {
    throw new Error(`internal: activations sized for ${acts.B}×${acts.T} / ${gacts.B}×${gacts.T}, got ${B}×${T}`);
  }
  if (acts.residual.length !== L + 1 || acts.logitRows < BT) {
    throw new Error('internal: the backward needs perLayer activations with logits for every position');
  }
  const v = (buf: F, n: number): F => be.view(buf, 0, n);
  const need = (buf: F | null, what: string): F => {
    if (!buf) throw new Error(`internal: the backward needs the cached ${what} (perLayer activations)`);
    return buf;
  };
  const res = (i: number): F => v(acts.residual[i], BT * C);
  const dres = (i: number): F => v(gacts.dres[i % 2], BT * C); // d(residual i), two buffers in turn
  const gl = gacts.layer;
  const dlogits = v(gacts.dlogits, BT * V), dlnf = v(gacts.dlnf, BT * C), lnf = v(acts.lnf, BT * C);
  be.zero(dlogits, BT * V);
  be.zero(dlnf, BT * C);
  be.zero(dres(L), BT * C);

  // loss = Σ_r scale · crossentropy(logits_r, target_r)
  be.crossEntropyBackward(dlogits, v(acts.logits, BT * V), targets, BT, V, opts.lossScale);
  // logits = lnf · lmHeadᵀ  (tied: the lm-head gradient lands in dwte)
  be.matmulBackward(dlnf, g.lmHead, null, dlogits, lnf, w.lmHead, BT, C, V, true);
  // lnf = ln_f(residual L)
  be.layernormBackward(dres(L), g.lnfw, g.lnfb, dlnf, res(L), w.lnfw,
    need(acts.lnfMean, 'ln_f mean'), need(acts.lnfRstd, 'ln_f rstd'), BT, C);

  for (let l = L - 1; l >= 0; l--) {
    const p = w.blocks[l], gp = g.blocks[l], a = acts.layers[l];
    const x = res(l), dx = dres(l), dout = dres(l + 1);
    be.zero(gacts.layerBuffer, gacts.layerLength);
    be.zero(dx, BT * C);
    const dres2 = v(gl.dres2, BT * C), dln2 = v(gl.dln2, BT * C), dfch = v(gl.dfch, BT * Fi);
    const dfchGelu = v(gl.dfchGelu, BT * Fi), dfcproj = v(gl.dfcproj, BT * C), datty = v(gl.datty, BT * C);
    const dattproj = v(gl.dattproj, BT * C), dqkv = v(gl.dqkv, BT * 3 * C), dln1 = v(gl.dln1, BT * C);
    const ln1 = v(a.ln1, BT * C), qkv = v(a.qkv, BT * 3 * C), atty = v(a.atty, BT * C), residual2 = v(a.residual2, BT * C);
    const ln2 = v(a.ln2, BT * C), fch = v(a.fch, BT * Fi), fchGelu = v(a.fchGelu, BT * Fi);
    const scale = attentionScale(cfg, l);

    // residual l+1 = residual2 + drop(fcproj)
    be.residualBackward(dres2, dfcproj, dout, BT * C);
    let dfcprojPre = dfcproj;
    if (used.resid) {
      dfcprojPre = v(gl.dfcprojPre, BT * C);
      be.dropoutBackward(dfcprojPre, dfcproj, v(need(a.fcprojDrop, 'mlp dropout mask'), BT * C), BT * C);
    }
    // fcproj = fchGelu · mlp.c_proj.W + b
    be.matmulBackward(dfchGelu, gp.fcprojw, gp.fcprojb, dfcprojPre, fchGelu, p.fcprojw, BT, Fi, C, false);
    // fchGelu = gelu_new(fch)
    be.geluBackward(dfch, fch, dfchGelu, BT * Fi);
    // fch = ln2 · mlp.c_fc.W + b
    be.matmulBackward(dln2, gp.fcw, gp.fcb, dfch, ln2, p.fcw, BT, C, Fi, false);
    // ln2 = ln_2(residual2)
    be.layernormBackward(dres2, gp.ln2w, gp.ln2b, dln2, residual2, p.ln2w,
      need(a.ln2Mean, 'ln_2 mean'), need(a.ln2Rstd, 'ln_2 rstd'), BT, C);
    // residual2 = x + drop(attproj)
    be.residualBackward(dx, dattproj, dres2, BT * C);
    let dattprojPre = dattproj;
    if (used.resid) {
      dattprojPre = v(gl.dattprojPre, BT * C);
      be.dropoutBackward(dattprojPre, dattproj, v(need(a.attprojDrop, 'attn dropout mask'), BT * C), BT * C);
    }
    // attproj = atty · attn.c_proj.W + b
    be.matmulBackward(datty, gp.attprojw, gp.attprojb, dattprojPre, atty, p.attprojw, BT, C, C, false);
    // atty = attention(qkv), from the cached probabilities (and their dropout mask)
    const attDrop = used.attn ? v(need(a.attDrop, 'attention dropout mask'), B * NH * T * T) : null;
    be.attentionBackward(dqkv, datty, qkv, v(need(a.att, 'attention probabilities'), B * NH * T * T), attDrop,
      mask, T, B, T, C, NH, scale);
    // qkv = ln1 · attn.c_attn.W + b
    be.matmulBackward(dln1, gp.qkvw, gp.qkvb, dqkv, ln1, p.qkvw, BT, C, 3 * C, false);
    // ln1 = ln_1(x)
    be.layernormBackward(dx, gp.ln1w, gp.ln1b, dln1, x, p.ln1w,
      need(a.ln1Mean, 'ln_1 mean'), need(a.ln1Rstd, 'ln_1 rstd'), BT, C);
  }

  // residual 0 = drop(wte[ids] + wpe[0..T-1])
  let demb = dres(0);
  if (used.embd) {
    demb = v(gacts.dembd, BT * C);
    be.zero(demb, BT * C);
    be.dropoutBackward(demb, dres(0), v(need(acts.embdDrop, 'embedding dropout mask'), BT * C), BT * C);
  }
  be.encoderBackward(g.wte, g.wpe, demb, ids, B, T, C, 0);
}
