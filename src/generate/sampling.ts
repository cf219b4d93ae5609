// Turning next-token logits into a token: Hugging Face's logits processors and warpers, in
// Hugging Face's order and with its tie and edge semantics, then a seeded multinomial draw.
// Reference: transformers `generation/logits_process.py` — MinNewTokensLengthLogitsProcessor,
// TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper (min_tokens_to_keep = 1).
//
//   1. min_new_tokens: while fewer tokens were generated, eos gets -∞
//   2. temperature:    logits / T
//   3. top-k:          keep logits ≥ the k-th largest (ties at the boundary are kept)
//   4. top-p:          sort ascending, cumulative softmax; drop tokens whose cumulative
//                      probability ≤ 1 − p, but always keep the most probable token
//   5. sample from softmax of what is left (−∞ entries have probability 0)

import type { Rng } from './rng.ts';

export interface SamplingOptions {
  /** sample (true) or take the argmax (false) */
  doSample: boolean;
  /** > 0; 1 leaves logits unchanged */
  temperature: number;
  /** 0 disables; otherwise keep the k most likely tokens */
  topK: number;
  /** in (0, 1]; 1 disables */
  topP: number;
}

/** The Hugging Face `text-generation` defaults as huggingtweets used them. */
export const HF_SAMPLING_DEFAULTS: SamplingOptions = { doSample: true, temperature: 1, topK: 50, topP: 0.95 };

export function validateSampling(o: SamplingOptions): void {
  if (!(o.temperature > 0) || !Number.isFinite(o.temperature)) {
    throw new RangeError(`temperature must be a positive number, got ${o.temperature} (use greedy decoding for temperature 0)`);
  }
  if (!Number.isSafeInteger(o.topK) || o.topK < 0) throw new RangeError(`top_k must be an integer ≥ 0, got ${o.topK}`);
  if (!(o.topP > 0 && o.topP <= 1)) throw new RangeError(`top_p must be in (0, 1], got ${o.topP}`);
}

/** In place: logits (V) after temperature, top-k and top-p (filtered entries become -Infinity). */
export function warpLogits(logits: Float32Array | Float64Array, o: SamplingOptions): void {
  const V = logits.length;
  if (o.temperature !== 1) for (let i = 0; i < V; i++) logits[i] /= o.temperature;
  if (o.topK > 0 && o.topK < V) {
    // the k-th largest value; everything strictly below it goes
    const kth = kthLargest(logits, o.topK);
    for (let i = 0; i < V; i++) if (logits[i] < kth) logits[i] = -Infinity;
  }
  if (o.topP < 1) topPFilter(logits, o.topP);
}

/** The k-th largest value of a (1 ≤ k ≤ length), by a partial sort of a copy. */
export function kthLargest(a: ArrayLike<number>, k: number): number {
  const c = Float64Array.from(a);
  // quickselect for index k-1 in descending order
  let lo = 0, hi = c.length - 1;
  const target = k - 1;
  while (lo < hi) {
    const pivot = c[(lo + hi) >>> 1];
    let i = lo, j = hi;
    while (i <= j) {
      while (c[i] > pivot) i++;
      while (c[j] < pivot) j--;
      if (i <= j) {
        const t = c[i]; c[i] = c[j]; c[j] = t;
        i++; j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else break;
  }
  return c[target];
}

/** HF TopPLogitsWarper: remove sorted tokens with cumulative probability ≤ 1 - p (ascending order). */
function topPFilter(logits: Float32Array | Float64Array, p: number): void {
  const V = logits.length;
  const idx: number[] = [];
  for (let i = 0; i < V; i++) if (logits[i] !== -Infinity) idx.push(i);
  if (idx.length <= 1) return;
  // ascending by logit; ties broken by index so the order is deterministic
  idx.sort((a, b) => logits[a] - logits[b] || a - b);
  let max = -Infinity;
  for (const i of idx) if (logits[i] > max) max = logits[i];
  let sum = 0;
  const probs = new Float64Array(idx.length);
  for (let j = 0; j < idx.length; j++) sum += probs[j] = Math.exp(logits[idx[j]] - max);
  let cum = 0;
  // the last (most probable) token is always kept (min_tokens_to_keep = 1)
  for (let j = 0; j < idx.length - 1; j++) {
    cum += probs[j] / sum;
    if (cum <= 1 - p) logits[idx[j]] = -Infinity;
    else break;
  }
}

/** Draw an index from softmax(logits) with one uniform number from rng (−∞ entries never win). */
export function sampleFromLogits(logits: ArrayLike<number>, rng: Rng): number {
  const V = logits.length;
  let max = -Infinity;
  for (let i = 0; i < V; i++) if (logits[i] > max) max = logits[i];
  if (max === -Infinity || Number.isNaN(max)) throw new Error('cannot sample: every token was filtered out or the logits are NaN');
  let sum = 0;
  for (let i = 0; i < V; i++) if (logits[i] !== -Infinity) sum += Math.exp(logits[i] - max);
  const u = rng.next() * sum;
  let cum = 0;
  let last = -1;
  for (let i = 0; i < V; i++) {
    if (logits[i] === -Infinity) continue;
    cum += Math.exp(logits[i] - max);
    last = i;
    if (u < cum) return i;
  }
  return last; // rounding left u ≥ the final sum: the last allowed token
}

/** First index of the largest value (torch.argmax semantics for finite logits). */
export function argmaxOf(logits: ArrayLike<number>): number {
  let best = 0, bv = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > bv) { bv = logits[i]; best = i; }
  return best;
}
