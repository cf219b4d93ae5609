// The generation loop: prompt → prefill through the KV cache → one token per step, with Hugging
// Face's stopping and length rules. Reference: transformers `GenerationMixin._sample`.
//
// - `numReturnSequences` rows decode side by side from copies of the prompt (B = rows).
// - A row stops at eos (unless `stopAtEos` is false); finished rows are fed eos until every row is
//   done, as HF pads them with pad_token_id (= eos for GPT-2). The eos token is part of the output.
// - `minNewTokens` suppresses eos (logit −∞) until that many tokens exist (HF MinNewTokensLength).
// - A prompt plus `maxNewTokens` beyond n_positions is an error, unless `truncation: 'left'`
//   drops the oldest prompt tokens to fit.

import type { Backend } from '../backend.ts';
import type { DeviceParams } from '../model/gpt2.ts';
import { DecodeSession } from '../model/session.ts';
import { Rng } from './rng.ts';
import { HF_SAMPLING_DEFAULTS, type SamplingOptions, argmaxOf, sampleFromLogits, validateSampling, warpLogits } from './sampling.ts';

export interface GenerateOptions extends Partial<SamplingOptions> {
  /** tokens to generate at most (default 50) */
  maxNewTokens?: number;
  /** eos is suppressed until this many tokens were generated (default 0) */
  minNewTokens?: number;
  /** independent samples of the same prompt (default 1; sampling only, as in HF) */
  numReturnSequences?: number;
  /** PRNG seed (default 0): the same seed gives the same tokens on the same backend */
  seed?: number;
  /** stop a row at eos (default true) */
  stopAtEos?: boolean;
  /** 'error' (default) or 'left': drop the oldest prompt tokens to fit n_positions */
  truncation?: 'error' | 'left';
  /** keep each step's next-token logits (B, V) in the result (tests, `trace`) */
  returnLogits?: boolean;
  /** called for every new token of every row as soon as it is chosen */
  onToken?: (row: number, id: number) => void;
}

export interface GenerateResult {
  /** the prompt as used (after any truncation) */
  prompt: number[];
  /** new tokens per row (eos included when a row stopped there) */
  sequences: number[][];
  /** per step, (B, V) logits from which the step's tokens were chosen (when returnLogits) */
  logits: Float32Array[];
}

export async function generate<F, I>(be: Backend<F, I>, model: DeviceParams<F>, promptIn: readonly number[], opts: GenerateOptions = {}): Promise<GenerateResult> {
  const cfg = model.config;
  const V = cfg.vocabSize, P = cfg.nPositions, eos = cfg.eosTokenId;
  const maxNew = opts.maxNewTokens ?? 50;
  const minNew = opts.minNewTokens ?? 0;
  const B = opts.numReturnSequences ?? 1;
  const sampling: SamplingOptions = {
    doSample: opts.doSample ?? HF_SAMPLING_DEFAULTS.doSample,
    temperature: opts.temperature ?? HF_SAMPLING_DEFAULTS.temperature,
    topK: opts.topK ?? HF_SAMPLING_DEFAULTS.topK,
    topP: opts.topP ?? HF_SAMPLING_DEFAULTS.topP,
  };
  if (!Number.isSafeInteger(maxNew) || maxNew < 1) throw new RangeError(`max_new_tokens must be an integer ≥ 1, got ${maxNew}`);
  if (!Number.isSafeInteger(minNew) || minNew < 0) throw new RangeError(`min_new_tokens must be an integer ≥ 0, got ${minNew}`);
  if (!Number.isSafeInteger(B) || B < 1 || B > 1024) throw new RangeError(`num_return_sequences must be an integer in 1..1024, got ${B}`);
  if (sampling.doSample) validateSampling(sampling);
  else if (B > 1) throw new RangeError('greedy decoding gives one sequence; num_return_sequences > 1 needs sampling');
  for (const id of promptIn) {
    if (!Number.isInteger(id) || id < 0 || id >= V) throw new RangeError(`prompt token id ${id} is outside the vocabulary (0..${V - 1})`);
  }
  // an empty prompt starts from bos, as HF generate does
  let prompt = promptIn.length ? [...promptIn] : [cfg.bosTokenId];
  if (maxNew >= P) throw new RangeError(`max_new_tokens ${maxNew} must be below n_positions ${P}`);
  if (prompt.length + maxNew > P) {
    if (opts.truncation !== 'left') {
      throw new RangeError(`prompt (${prompt.length} tokens) + max_new_tokens (${maxNew}) exceeds n_positions ${P}; shorten it or allow left truncation`);
    }
    prompt = prompt.slice(prompt.length + maxNew - P);
  }

  const rng = new Rng(opts.seed ?? 0);
  const session = new DecodeSession(be, model, B, prompt.length + maxNew, Math.max(prompt.length, 1));
  const sequences: number[][] = Array.from({ length: B }, () => []);
  const logitsOut: Float32Array[] = [];
  const done = new Array<boolean>(B).fill(false);
  const stopAtEos = opts.stopAtEos ?? true;
  try {
    let feed = new Int32Array(B * prompt.length);
    for (let b = 0; b < B; b++) feed.set(prompt, b * prompt.length);
    let T = prompt.length;
    for (let step = 0; step < maxNew; step++) {
      const next = new Int32Array(B);
      // greedy without logits to keep: argmax on the device, read back B ids only
      if (!sampling.doSample && !opts.returnLogits && step >= minNew) {
        next.set(await session.feedArgmax(feed, T));
      } else {
        const logits = await session.feedAndRead(feed, T);
        if (opts.returnLogits) logitsOut.push(logits.slice());
        for (let b = 0; b < B; b++) {
          const row = logits.subarray(b * V, (b + 1) * V);
          if (step < minNew) row[eos] = -Infinity;
          if (sampling.doSample) {
            warpLogits(row, sampling);
            next[b] = sampleFromLogits(row, rng);
          } else {
            next[b] = argmaxOf(row);
          }
        }
      }
      for (let b = 0; b < B; b++) {
        if (done[b]) {
          next[b] = eos; // finished rows are fed eos, as HF pads them
          continue;
        }
        sequences[b].push(next[b]);
        opts.onToken?.(b, next[b]);
        if (stopAtEos && next[b] === eos) done[b] = true;
      }
      if (done.every(Boolean)) break;
      feed = next;
      T = 1;
    }
  } finally {
    session.dispose();
  }
  return { prompt, sequences, logits: logitsOut };
}
