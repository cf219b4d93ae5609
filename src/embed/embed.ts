// Sentence embeddings from a GPT-2: tokenize, batch by length with right padding and an attention
// mask, run the forward pass without the lm-head, pool the chosen hidden state by the mask,
// optionally L2-normalize, and return the vectors in input order.
//
// The result has `dims` and a flat Float32Array, as transformers.js's feature-extraction pipeline
// returns (pooling 'mean' | 'last' | 'first' | 'none', `normalize`):
//   pooled:          dims [N, C]
//   pooling 'none':  dims [N, Tmax, C], zeros after each text's last token; `lengths` gives the
//                    real token counts and toArray() returns only real tokens (ragged).
// An empty text is embedded as GPT-2 sees "nothing": the single token <|endoftext|>.

import type { Backend } from '../backend.ts';
import { allocActivations } from '../model/activations.ts';
import { type DeviceParams, gpt2Forward } from '../model/gpt2.ts';
import { type Pooling, pool } from './pooling.ts';

export type EmbedPooling = Pooling | 'none';

export interface EmbedOptions {
  /** 'mean' (default) over real tokens, 'last' real token, 'first' token, or 'none' (every token) */
  pooling?: EmbedPooling;
  /** L2-normalize each vector (each token vector with pooling 'none') */
  normalize?: boolean;
  /**
   * Which hidden state, in Hugging Face `hidden_states` numbering: 0 = embeddings, i = output of
   * block i-1 (1 ≤ i < L), L or 'ln_f' = after the final LayerNorm (`last_hidden_state`, default).
   * Negative numbers count from the end (-1 = ln_f).
   */
  layer?: number | 'ln_f';
  /** texts per forward pass (default 8) */
  batchSize?: number;
  /** a text longer than n_positions tokens: 'error' (default) or 'right' (keep the first P tokens) */
  truncation?: 'error' | 'right';
}

export class Embeddings {
  constructor(
    /** [N, C] pooled, or [N, Tmax, C] for pooling 'none' */
    readonly dims: number[],
    readonly data: Float32Array,
    /** real token count of each text */
    readonly lengths: number[],
    readonly pooling: EmbedPooling,
  ) {}

  /** number[][] (pooled) or number[][][] of real tokens only (pooling 'none') */
  toArray(): number[][] | number[][][] {
    const [N] = this.dims;
    const C = this.dims[this.dims.length - 1];
    if (this.pooling !== 'none') {
      return Array.from({ length: N }, (_, i) => Array.from(this.data.subarray(i * C, (i + 1) * C)));
    }
    const Tmax = this.dims[1];
    return Array.from({ length: N }, (_, i) => Array.from({ length: this.lengths[i] }, (_, t) =>
      Array.from(this.data.subarray((i * Tmax + t) * C, (i * Tmax + t + 1) * C))));
  }
}

export interface EmbedModel<F, I> {
  backend: Backend<F, I>;
  device: DeviceParams<F>;
  encode(text: string): number[];
}

/** Check the options and fill in the defaults. */
export function embedDefaults(opts: EmbedOptions, L: number): Required<Omit<EmbedOptions, 'layer'>> & { layer: number } {
  const pooling = opts.pooling ?? 'mean';
  if (!['mean', 'last', 'first', 'none'].includes(pooling)) throw new RangeError(`pooling must be mean, last, first or none; got "${String(pooling)}"`);
  const batchSize = opts.batchSize ?? 8;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > 4096) throw new RangeError(`batchSize must be an integer in 1..4096, got ${batchSize}`);
  const truncation = opts.truncation ?? 'error';
  if (truncation !== 'error' && truncation !== 'right') throw new RangeError(`truncation must be 'error' or 'right', got "${String(truncation)}"`);
  let layer = opts.layer === undefined || opts.layer === 'ln_f' ? L : opts.layer;
  if (!Number.isSafeInteger(layer) || layer > L || layer < -(L + 1)) {
    throw new RangeError(`layer must be 'ln_f' or an integer in ${-(L + 1)}..${L} (hidden_states numbering), got ${String(opts.layer)}`);
  }
  if (layer < 0) layer += L + 1;
  return { pooling, normalize: opts.normalize ?? false, batchSize, truncation, layer };
}

/** Token ids of each text, with the empty-text and truncation rules applied. */
export function tokenizeForEmbedding(texts: readonly string[], encode: (t: string) => number[], eos: number, P: number, truncation: 'error' | 'right'): number[][] {
  return texts.map((text, i) => {
    if (typeof text !== 'string') throw new TypeError(`texts[${i}] is not a string`);
    let ids = text.length === 0 ? [eos] : encode(text);
    if (ids.length === 0) ids = [eos];
    if (ids.length > P) {
      if (truncation === 'error') throw new RangeError(`text ${i} has ${ids.length} tokens, more than n_positions ${P} (use truncation: 'right')`);
      ids = ids.slice(0, P);
    }
    return ids;
  });
}

/** Embed texts (see the file comment). Batches are sorted by length; results come back in input order. */
export async function embedTexts<F, I>(m: EmbedModel<F, I>, texts: readonly string[], options: EmbedOptions = {}): Promise<Embeddings> {
  const cfg = m.device.config;
  const o = embedDefaults(options, cfg.nLayer);
  const ids = tokenizeForEmbedding(texts, (t) => m.encode(t), cfg.eosTokenId, cfg.nPositions, o.truncation);
  return embedIds(m.backend, m.device, ids, o);
}

/** Embed pre-tokenized texts (ids already checked against the vocabulary and n_positions). */
export async function embedIds<F, I>(be: Backend<F, I>, device: DeviceParams<F>, ids: readonly number[][],
  o: ReturnType<typeof embedDefaults>): Promise<Embeddings> {
  const cfg = device.config;
  const C = cfg.nEmbd, L = cfg.nLayer;
  const N = ids.length;
  const lengths = ids.map((r) => r.length);
  const Tmax = N ? Math.max(...lengths) : 0;
  const perText = o.pooling === 'none' ? Tmax * C : C;
  const data = new Float32Array(N * perText);
  // longest first, so each batch pads little and the first batch sizes the buffers
  const order = Array.from({ length: N }, (_, i) => i).sort((a, b) => lengths[b] - lengths[a] || a - b);
  const keepHidden = o.layer !== L;
  let acts: ReturnType<typeof allocActivations<F, I>> | null = null;
  let idsBuf: I | null = null, maskBuf: I | null = null;
  try {
    for (let start = 0; start < N; start += o.batchSize) {
      const batch = order.slice(start, start + o.batchSize);
      const B = batch.length;
      const T = lengths[batch[0]];
      if (!acts) {
        acts = allocActivations(be, cfg, { B, T, perLayer: false, keepHidden, allLogits: false });
        idsBuf = be.allocI32(B * T);
        maskBuf = be.allocI32(B * T);
      }
      const flat = new Int32Array(B * T).fill(cfg.eosTokenId); // pads carry eos, as GPT-2 pipelines do
      const mask = new Int32Array(B * T);
      batch.forEach((idx, b) => {
        flat.set(ids[idx], b * T);
        mask.fill(1, b * T, b * T + lengths[idx]);
      });
      if (!idsBuf || !maskBuf) throw new Error('internal: no id buffers');
      be.writeI32(idsBuf, flat);
      be.writeI32(maskBuf, mask);
      const r = gpt2Forward(be, device, acts, idsBuf, B, T, { mask: maskBuf, logits: 'none' });
      const src = o.layer === L ? r.lnf : r.hidden[o.layer];
      const hidden = await be.readF32(src, B * T * C);
      if (o.pooling === 'none') {
        batch.forEach((idx, b) => {
          const n = lengths[idx];
          const rows = hidden.subarray(b * T * C, (b * T + n) * C);
          data.set(rows, idx * Tmax * C);
          if (o.normalize) for (let t = 0; t < n; t++) l2normalize(data.subarray((idx * Tmax + t) * C, (idx * Tmax + t + 1) * C));
        });
      } else {
        const pooled = pool(hidden, mask, B, T, C, o.pooling);
        batch.forEach((idx, b) => {
          const v = data.subarray(idx * C, (idx + 1) * C);
          v.set(pooled.subarray(b * C, (b + 1) * C));
          if (o.normalize) l2normalize(v);
        });
      }
    }
  } finally {
    if (acts) be.free(acts.buffer);
    if (idsBuf) be.free(idsBuf);
    if (maskBuf) be.free(maskBuf);
  }
  return new Embeddings(o.pooling === 'none' ? [N, Tmax, C] : [N, C], data, lengths, o.pooling);
}

/** In place: v / ||v||₂ (a zero vector stays zero), with the norm summed in float64. */
export function l2normalize(v: Float32Array): void {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  const n = Math.sqrt(s);
  if (n > 0) for (let i = 0; i < v.length; i++) v[i] /= n;
}
