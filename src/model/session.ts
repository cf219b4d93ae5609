// A decoding session: activations, a KV cache and an ids buffer sized once for (B, cap), reused
// for the prompt (prefill) and then one token per step. Nothing is allocated per token.

import type { Backend } from '../backend.ts';
import { type Activations, allocActivations } from './activations.ts';
import type { DeviceParams } from './gpt2.ts';
import { gpt2Forward } from './gpt2.ts';
import { type KVCache, allocKVCache } from './kvcache.ts';

export class DecodeSession<F, I> {
  readonly B: number;
  readonly cap: number;
  private readonly acts: Activations<F>;
  private readonly cache: KVCache<F>;
  private readonly ids: I;
  private readonly next: I; // (B) argmax results

  /** B rows, room for cap positions; prefill chunks up to maxChunk tokens (default cap) */
  constructor(private readonly be: Backend<F, I>, private readonly model: DeviceParams<F>, B: number, cap: number, maxChunk = cap) {
    this.B = B;
    this.cap = cap;
    this.acts = allocActivations(be, model.config, { B, T: maxChunk, perLayer: false, keepHidden: false, allLogits: false });
    this.cache = allocKVCache(be, model.config, B, cap);
    this.ids = be.allocI32(B * maxChunk);
    this.next = be.allocI32(B);
  }

  /** positions filled so far */
  get length(): number {
    return this.cache.length;
  }

  /**
   * Feed T tokens per row (ids (B, T), row-major) and return the logits buffer (B, V) of each row's
   * last position. The buffer is overwritten by the next call.
   */
  feed(ids: Int32Array, T: number): F {
    const V = this.model.config.vocabSize;
    if (ids.length !== this.B * T) throw new Error(`internal: feed got ${ids.length} ids for ${this.B}×${T}`);
    if (T > this.acts.T) throw new Error(`internal: chunk of ${T} exceeds ${this.acts.T}`);
    if (this.cache.length + T > this.cap) throw new Error(`sequence of ${this.cache.length + T} tokens exceeds the session's ${this.cap} positions`);
    for (const id of ids) if (!(id >= 0 && id < V)) throw new RangeError(`token id ${id} is outside the vocabulary (0..${V - 1})`);
    this.be.writeI32(this.ids, ids); // sized for the largest chunk; only the first B·T are read
    const r = gpt2Forward(this.be, this.model, this.acts, this.ids, this.B, T, { cache: this.cache, logits: 'last' });
    if (!r.logits) throw new Error('internal: no logits');
    return r.logits;
  }

  /** Logits of the last position, read back: (B, V). */
  async feedAndRead(ids: Int32Array, T: number): Promise<Float32Array> {
    const logits = this.feed(ids, T);
    return this.be.readF32(logits, this.B * this.model.config.vocabSize);
  }

  /** Feed, then argmax on the device and read back only B ids (greedy decoding). */
  async feedArgmax(ids: Int32Array, T: number): Promise<Int32Array> {
    const logits = this.feed(ids, T);
    this.be.argmax(this.next, logits, this.B, this.model.config.vocabSize);
    return this.be.readI32(this.next, this.B);
  }

  /** forget the cached positions (the buffers stay) */
  reset(): void {
    this.cache.length = 0;
  }

  dispose(): void {
    this.be.free(this.acts.buffer);
    this.be.free(this.cache.buffer);
    this.be.free(this.ids);
    this.be.free(this.next);
  }
}
