// The user-facing model: parameters loaded from a Hugging Face folder (or given), resident on a
// backend, with forward and generation. `loadModel(path?, { backend })` is the entry point.

import type { Backend } from '../backend.ts';
import { type BackendName, createBackend } from '../backends.ts';
import type { GPT2Config } from '../config.ts';
import { type GenerateOptions, type GenerateResult, generate } from '../generate/generate.ts';
import { type ModelSource, loadModelFiles } from '../io/model.ts';
import { defaultModelPath } from '../io/paths.ts';
import { resolveModelPath } from '../hub/pull.ts';
import { type EmbedOptions, type Embeddings, embedTexts } from '../embed/embed.ts';
import type { Params } from '../params.ts';
import { Tokenizer } from '../tokenizer/index.ts';
import { type Activations, allocActivations } from './activations.ts';
import { type DeviceParams, gpt2Forward, uploadParams } from './gpt2.ts';

export interface LoadOptions {
  /** 'cpu' (default) or 'webgpu', or a backend instance you created */
  backend?: BackendName | Backend<unknown, unknown>;
}

export interface ForwardCallOptions {
  /** (B, T) of 1 = token, 0 = padding (right padding); absent: every token is real */
  attentionMask?: readonly (readonly number[])[];
  /** also return the embeddings and every block's output (HF hidden states) */
  hidden?: boolean;
}

export interface ForwardOutput {
  B: number;
  T: number;
  /** (B, T, V) */
  logits: Float32Array;
  /** (B, T, C) after ln_f (HF last_hidden_state) */
  lnf: Float32Array;
  /** with `hidden`: L + 1 arrays (B, T, C): embeddings, then each block's output */
  hidden: Float32Array[];
}

export class GPT2Model<F = unknown, I = unknown> {
  readonly config: GPT2Config;
  readonly device: DeviceParams<F>;
  private acts: Activations<F> | null = null;
  private actsKey = '';
  private tok: Tokenizer | null = null;

  constructor(readonly backend: Backend<F, I>, readonly params: Params, readonly source: ModelSource | null = null) {
    this.config = params.config;
    this.device = uploadParams(backend, params);
  }

  /** Check a batch of token ids (rectangular, in range, within n_positions) and flatten it. */
  private flatIds(ids: readonly (readonly number[])[]): { flat: Int32Array; B: number; T: number } {
    const B = ids.length;
    if (B === 0) throw new RangeError('input_ids is empty');
    const T = ids[0].length;
    if (T === 0) throw new RangeError('input_ids rows are empty');
    if (T > this.config.nPositions) throw new RangeError(`sequence of ${T} tokens exceeds n_positions ${this.config.nPositions}`);
    const flat = new Int32Array(B * T);
    const V = this.config.vocabSize;
    ids.forEach((row, b) => {
      if (row.length !== T) throw new RangeError(`input_ids row ${b} has ${row.length} tokens, row 0 has ${T}`);
      row.forEach((id, t) => {
        if (!Number.isInteger(id) || id < 0 || id >= V) throw new RangeError(`token id ${id} at [${b}][${t}] is outside the vocabulary (0..${V - 1})`);
        flat[b * T + t] = id;
      });
    });
    return { flat, B, T };
  }

  /** Logits (and hidden states) of a batch, no cache. */
  async forward(ids: readonly (readonly number[])[], opts: ForwardCallOptions = {}): Promise<ForwardOutput> {
    const be = this.backend;
    const { flat, B, T } = this.flatIds(ids);
    const C = this.config.nEmbd, V = this.config.vocabSize;
    let maskBuf: I | null = null;
    if (opts.attentionMask) {
      const m = this.flatIds(opts.attentionMask.map((r) => r.map((x) => x)));
      if (m.B !== B || m.T !== T) throw new RangeError(`attention_mask is ${m.B}×${m.T}, input_ids ${B}×${T}`);
      for (const x of m.flat) if (x !== 0 && x !== 1) throw new RangeError(`attention_mask values must be 0 or 1, got ${x}`);
      maskBuf = be.allocI32(B * T);
      be.writeI32(maskBuf, m.flat);
    }
    const key = `${B}x${T}:${opts.hidden ? 1 : 0}`;
    if (this.actsKey !== key) {
      if (this.acts) be.free(this.acts.buffer);
      this.acts = allocActivations(be, this.config, { B, T, perLayer: false, keepHidden: Boolean(opts.hidden), allLogits: true });
      this.actsKey = key;
    }
    const acts = this.acts;
    if (!acts) throw new Error('internal: no activations');
    const idsBuf = be.allocI32(B * T);
    be.writeI32(idsBuf, flat);
    try {
      const r = gpt2Forward(be, this.device, acts, idsBuf, B, T, { mask: maskBuf, logits: 'all' });
      if (!r.logits) throw new Error('internal: no logits');
      const logits = await be.readF32(r.logits, B * T * V);
      const lnf = await be.readF32(r.lnf, B * T * C);
      const hidden: Float32Array[] = [];
      if (opts.hidden) for (const h of r.hidden) hidden.push(await be.readF32(h, B * T * C));
      return { B, T, logits, lnf, hidden };
    } finally {
      be.free(idsBuf);
      if (maskBuf) be.free(maskBuf);
    }
  }

  /** The model folder's tokenizer files when it has them, else GPT-2's (loaded on first use). */
  get tokenizer(): Tokenizer {
    this.tok ??= this.source ? Tokenizer.fromModel(this.source.path) : Tokenizer.default();
    return this.tok;
  }

  /**
   * Encode text for this model: special tokens (<|endoftext|>) recognised when `special`, and every
   * id checked against the model's vocabulary (a tiny test model may have fewer than 50257 tokens).
   */
  encode(text: string, special = false): number[] {
    const ids = this.tokenizer.encode(text, { allowedSpecial: special ? 'all' : 'none' });
    const V = this.config.vocabSize;
    const bad = ids.find((id) => id >= V);
    if (bad !== undefined) {
      throw new RangeError(`the text encodes to token id ${bad}, but this model's vocabulary has ${V} tokens (its tokenizer does not match; give token ids instead)`);
    }
    return ids;
  }

  /**
   * Sentence embeddings (see EmbedOptions): mean-pooled ln_f states by default, batched by length
   * with right padding; an empty text is embedded as the single token <|endoftext|>.
   */
  embed(texts: readonly string[], opts: EmbedOptions = {}): Promise<Embeddings> {
    if (!Array.isArray(texts)) throw new TypeError('embed() takes an array of strings');
    return embedTexts({ backend: this.backend, device: this.device, encode: (t) => this.encode(t) }, texts, opts);
  }

  /** Generate new tokens after a prompt of token ids (see GenerateOptions). */
  generate(prompt: readonly number[], opts: GenerateOptions = {}): Promise<GenerateResult> {
    return generate(this.backend, this.device, prompt, opts);
  }

  /** Release device memory (and the backend, when the model created it). */
  dispose(): void {
    if (this.acts) this.backend.free(this.acts.buffer);
    this.acts = null;
    this.actsKey = '';
    if (this.ownsBackend) this.backend.dispose();
  }

  /** set by loadModel when it created the backend */
  ownsBackend = false;
}

/**
 * Load a GPT-2 onto a backend from a Hugging Face folder, a .safetensors or pytorch_model.bin file,
 * or `hf:owner/name[@revision]` (downloaded into the shared Hugging Face cache when missing);
 * default: the embedded model in weights/.
 */
export async function loadModel(path?: string, opts: LoadOptions = {}): Promise<GPT2Model> {
  const loaded = loadModelFiles(path === undefined ? defaultModelPath() : await resolveModelPath(path));
  const b = opts.backend ?? 'cpu';
  const backend = typeof b === 'string' ? await createBackend(b) : b;
  const model = new GPT2Model(backend, loaded.params, loaded.source);
  model.ownsBackend = typeof b === 'string';
  return model;
}
