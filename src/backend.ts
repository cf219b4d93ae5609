// The Backend interface: every op the GPT-2 model uses, implemented once per device
// (cpu/ and webgpu/). The model code calls only this interface, so a missing op is a compile
// error and the model reads the same on every device (candle `BackendStorage`, MLX eval_cpu/eval_gpu).
//
// Buffers are opaque handles of the backend's own types: `F` holds float32 values, `I` holds int32
// values (token ids, attention masks, argmax results). On the CPU they are Float32Array and
// Int32Array; on WebGPU they are ranges of GPUBuffers. Ops only *enqueue* work: on the CPU they
// run at once, on WebGPU they are recorded and submitted. Only `read*` and `sync` are async.
//
// Conventions:
//  - shapes are given explicitly on each call (B, T, C, NH, ...; see the glossary in config.ts),
//    buffers are row-major and dense, and every op writes its output (no accumulation) unless its
//    name says `Backward`: backward ops *accumulate* (`+=`) into parameter gradients, as in llm.c,
//    and one `zero` clears them.
//  - a forward that a backward needs caches what the backward reads (LayerNorm mean and rstd,
//    attention probabilities) in buffers the caller passes; `null` means "not needed" (inference).
//  - views: `view(buf, offset, n)` cuts a sub-range without copying. Offsets are multiples of
//    ALIGN floats (params.ts) so a GPU backend can bind them.

/** Where the key/value vectors of past tokens live between decode steps: one layer's worth. */
export interface KVLayer<F> {
  k: F; // (B, NH, cap, hs)
  v: F; // (B, NH, cap, hs)
}

export interface Backend<F, I> {
  /** 'cpu' or 'webgpu' */
  readonly name: string;
  /** a human-readable description of the device (adapter, core count) */
  readonly description: string;

  // ---- memory ----------------------------------------------------------------------------
  /** a zero-filled float32 buffer of n elements */
  allocF32(n: number): F;
  /** a zero-filled int32 buffer of n elements */
  allocI32(n: number): I;
  /**
   * A device buffer holding `data` (the flat parameters: uploaded once). The CPU backend may use
   * `data` itself, without a copy, so a 500 MB model is never held twice.
   */
  upload(data: Float32Array): F;
  /** a sub-range [offset, offset + n) of buf, without copying */
  view(buf: F, offset: number, n: number): F;
  /** dst[dstOffset ..] = src */
  writeF32(dst: F, src: Float32Array, dstOffset?: number): void;
  /** dst[0 ..] = src */
  writeI32(dst: I, src: Int32Array): void;
  /** copy n floats from src[srcOffset..] to dst[dstOffset..] */
  copyF32(dst: F, dstOffset: number, src: F, srcOffset: number, n: number): void;
  /** buf[0 .. n) = 0 (gradients before a backward) */
  zero(buf: F, n: number): void;
  /** the first n (default all) values, after all queued work is done */
  readF32(src: F, n?: number): Promise<Float32Array>;
  readI32(src: I, n?: number): Promise<Int32Array>;
  /** wait until every queued op has finished */
  sync(): Promise<void>;
  /** release a buffer (optional on the CPU, where the garbage collector does it) */
  free(buf: F | I): void;
  /** release everything the backend holds (device, pools, workers) */
  dispose(): void;

  // ---- forward ops ---------------------------------------------------------------------------
  /**
   * out[b,t,:] = wte[ids[b,t],:] + wpe[pos0 + t,:]
   * out (B,T,C), ids (B,T), wte (V,C), wpe (P,C). The caller checks ids < V and pos0 + T ≤ P.
   */
  encoderForward(out: F, ids: I, wte: F, wpe: F, B: number, T: number, C: number, pos0: number): void;

  /**
   * out = (inp - mean) * rstd * w + b per row, mean and biased variance over C, rstd = 1/sqrt(var + eps).
   * out (N,C), inp (N,C), w (C), b (C); mean, rstd (N) cached for the backward, or null.
   */
  layernormForward(out: F, mean: F | null, rstd: F | null, inp: F, w: F, b: F, N: number, C: number, eps: number): void;

  /**
   * out = inp · W + bias, with W stored (K, N) (HF Conv1D layout), or with `transW` W stored
   * (N, K) and used transposed (the tied lm-head against `wte`, no copy).
   * out (M,N), inp (M,K), bias (N) or null.
   */
  matmulForward(out: F, inp: F, w: F, bias: F | null, M: number, K: number, N: number, transW: boolean): void;

  /**
   * Causal multi-head attention over one chunk of B·T queries whose keys are the same chunk
   * (no past). qkv (B,T,3C) holds q | k | v, each viewed (B,T,NH,hs). out (B,T,C) heads merged.
   * score[t,s] = (q_t · k_s) * scale for s ≤ t, minus infinity where mask[b,s] = 0;
   * att = softmax over s; out_t = Σ_s att[t,s] v_s.
   * mask (B, maskStride) of 1/0, read at columns 0..T-1, or null (all tokens); att (B,NH,T,T) receives the probabilities for the
   * backward, or null. A query whose every visible key is masked attends uniformly to them
   * (Hugging Face's finite mask value gives the same).
   */
  attentionForward(out: F, att: F | null, qkv: F, mask: I | null, maskStride: number, B: number, T: number, C: number, NH: number, scale: number): void;

  /**
   * Store the k and v of a chunk of T new tokens at cache positions [pos0, pos0 + T).
   * qkv (B,T,3C); cache.k, cache.v (B,NH,cap,hs).
   */
  kvCacheWrite(cache: KVLayer<F>, qkv: F, B: number, T: number, C: number, NH: number, pos0: number, cap: number): void;

  /**
   * Attention of T new queries (from qkv) over the cache, whose positions [0, pos0 + T) are filled
   * (this chunk's k, v written by kvCacheWrite first). Query t sees positions 0..pos0+t.
   * out (B,T,C); mask (B, maskStride) of 1/0 over cache positions, or null.
   */
  attentionCached(out: F, qkv: F, cache: KVLayer<F>, mask: I | null, maskStride: number, B: number, T: number, C: number, NH: number, pos0: number, cap: number, scale: number): void;

  /** out = gelu_new(inp) = 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³))), n elements */
  geluForward(out: F, inp: F, n: number): void;

  /** out = a + b, n elements */
  residualForward(out: F, a: F, b: F, n: number): void;

  /** probs[r,:] = softmax(logits[r,:]) over V columns, for `rows` rows (max-subtracted) */
  softmaxForward(probs: F, logits: F, rows: number, V: number): void;

  /** out[r] = the first index of the largest value of logits[r, 0..V) (greedy decoding) */
  argmax(out: I, logits: F, rows: number, V: number): void;
}

/**
 * Host arrays the CPU layer functions take: float32 in the engine, float64 where a test needs exact
 * arithmetic (the finite-difference gradient check runs the same layer code in float64).
 */
export type Floats = Float32Array | Float64Array;

/**
 * The ops training needs on top of `Backend`: each layer's backward (beside its forward in
 * cpu/<layer>.ts), the softmax cross-entropy loss, and dropout. A backend that only runs inference
 * (WebGPU today) implements `Backend` alone; the trainer asks for a `TrainingBackend`.
 *
 * Backward ops *accumulate* (`+=`) into every gradient they write, activation gradients included
 * (llm.c convention): the caller zeroes gradient buffers once, with `zero`, before a backward.
 * `d<x>` is ∂loss/∂x and has x's shape.
 */
export interface TrainingBackend<F, I> extends Backend<F, I> {
  // ---- training-only forward ops -------------------------------------------------------------
  /**
   * losses[r] = logsumexp(logits[r,:]) − logits[r, targets[r]] (natural log, max-subtracted), and
   * 0 where targets[r] = −100 (ignore_index). losses (rows), logits (rows, V), targets (rows).
   * A target outside 0..V-1 other than −100 is an error.
   */
  crossEntropyForward(losses: F, logits: F, targets: I, rows: number, V: number): void;

  /**
   * dlogits[r,:] += scale · (softmax(logits[r,:]) − onehot(targets[r])); rows whose target is −100
   * get nothing. With loss = (Σ_r losses[r]) / count, scale = 1/count (and /accumSteps when the
   * loss is averaged over micro-batches). dlogits, logits (rows, V); targets (rows).
   */
  crossEntropyBackward(dlogits: F, logits: F, targets: I, rows: number, V: number, scale: number): void;

  /** out = inp ⊙ mask, n elements (out may alias inp); mask holds 0 or 1/(1−p) (see cpu/dropout.ts) */
  dropoutForward(out: F, inp: F, mask: F, n: number): void;

  /**
   * attentionForward with dropout on the probabilities (HF `attn_dropout`):
   * out_t = Σ_s att[t,s] · dropMask[b,h,t,s] · v_s. att (B,NH,T,T) still receives the probabilities
   * *before* dropout (the softmax backward needs them); dropMask (B,NH,T,T).
   */
  attentionDropoutForward(out: F, att: F, dropMask: F, qkv: F, mask: I | null, maskStride: number,
    B: number, T: number, C: number, NH: number, scale: number): void;

  // ---- backward ops (accumulate) ---------------------------------------------------------------
  /** dwte[ids[b,t],:] += dout[b,t,:];  dwpe[pos0 + t,:] += dout[b,t,:].  dout (B,T,C) */
  encoderBackward(dwte: F, dwpe: F, dout: F, ids: I, B: number, T: number, C: number, pos0: number): void;

  /**
   * LayerNorm backward from the cached mean and rstd (N): dinp (N,C), dw (C), db (C) from dout (N,C),
   * the forward input inp (N,C) and weight w (C).
   */
  layernormBackward(dinp: F, dw: F, db: F, dout: F, inp: F, w: F, mean: F, rstd: F, N: number, C: number): void;

  /**
   * Backward of out = inp · W + bias (W (K,N), or (N,K) used transposed when transW):
   * dinp (M,K) += dout · Wᵀ;  dw (shape of w) += inpᵀ · dout (transposed when transW);
   * dbias (N) += Σ_m dout[m,:], or null when there is no bias.
   */
  matmulBackward(dinp: F, dw: F, dbias: F | null, dout: F, inp: F, w: F, M: number, K: number, N: number, transW: boolean): void;

  /**
   * Causal attention backward from the cached probabilities att (B,NH,T,T) (before dropout) and
   * the dropout mask the forward used (or null): dqkv (B,T,3C) += ∂/∂(q | k | v), from dout (B,T,C).
   * mask/maskStride as in attentionForward.
   */
  attentionBackward(dqkv: F, dout: F, qkv: F, att: F, dropMask: F | null, mask: I | null, maskStride: number,
    B: number, T: number, C: number, NH: number, scale: number): void;

  /** dinp += gelu_new'(inp) · dout, n elements */
  geluBackward(dinp: F, inp: F, dout: F, n: number): void;

  /** out = a + b:  da += dout;  db += dout, n elements */
  residualBackward(da: F, db: F, dout: F, n: number): void;

  /** out = inp ⊙ mask:  dinp += dout ⊙ mask, n elements */
  dropoutBackward(dinp: F, dout: F, mask: F, n: number): void;
}

/** True when `be` implements the training ops (the CPU backend does). */
export function isTrainingBackend<F, I>(be: Backend<F, I>): be is TrainingBackend<F, I> {
  const t = be as Partial<TrainingBackend<F, I>>;
  return typeof t.matmulBackward === 'function' && typeof t.crossEntropyBackward === 'function';
}
