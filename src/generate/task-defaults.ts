// A model's own generation defaults, from `task_specific_params["text-generation"]` in its config.json —
// what Hugging Face's text-generation pipeline applies (TextGenerationPipeline copies these into the
// generation config). huggingtweets models ship:
//
//   "task_specific_params": { "text-generation": {
//       "do_sample": true, "min_length": 10, "max_length": 160, "temperature": 1.0, "top_p": 0.95,
//       "prefix": "<|endoftext|>" } }
//
// Semantics, as in transformers:
//   - `prefix` is prepended to the prompt text (the pipeline's `prefix`), and is not shown in the output;
//   - `max_length` / `min_length` count the whole sequence, prefix and prompt included
//     (MaxLengthCriteria, MinLengthLogitsProcessor), so the new-token counts depend on the prompt;
//   - unset keys keep the usual defaults (top_k 50 stays on).
// One more huggingtweets convention: a sample is one tweet, so the continuation is cut at its first
// newline. It applies when the params carry a `prefix` (the huggingtweets signature; GPT-2's own config
// has text-generation params too — do_sample, max_length 50 — and no prefix, and is not cut).

import type { GPT2Config } from '../config.ts';

export interface TaskDefaults {
  /** where the values came from, for messages */
  source: string;
  doSample?: boolean;
  temperature?: number;
  topK?: number;
  topP?: number;
  /** whole sequence length at most (prefix + prompt + new tokens) */
  maxLength?: number;
  /** whole sequence length before eos may end it */
  minLength?: number;
  maxNewTokens?: number;
  minNewTokens?: number;
  /** text put before the prompt (huggingtweets: "<|endoftext|>") */
  prefix?: string;
  /** keep each sample's continuation up to its first newline */
  cutAtNewline: boolean;
}

/** The generation defaults a config carries for `task`, or null when it has none. Throws on bad values. */
export function taskDefaults(config: GPT2Config, task = 'text-generation'): TaskDefaults | null {
  const p = config.taskSpecificParams?.[task];
  if (!p) return null;
  const source = `task_specific_params["${task}"]`;
  const bad = (key: string, want: string): never => {
    throw new Error(`config.json ${source}.${key} must be ${want}, got ${JSON.stringify(p[key])}`);
  };
  const num = (key: string, ok: (x: number) => boolean, want: string): number | undefined => {
    const v = p[key];
    if (v === undefined || v === null) return undefined;
    return typeof v === 'number' && ok(v) ? v : bad(key, want);
  };
  const int = (key: string, min: number) => num(key, (x) => Number.isSafeInteger(x) && x >= min, `an integer ≥ ${min}`);
  const out: TaskDefaults = { source, cutAtNewline: false };
  if (p.do_sample !== undefined && p.do_sample !== null) out.doSample = typeof p.do_sample === 'boolean' ? p.do_sample : bad('do_sample', 'true or false');
  out.temperature = num('temperature', (x) => x > 0 && Number.isFinite(x), 'a positive number');
  out.topK = int('top_k', 0);
  out.topP = num('top_p', (x) => x > 0 && x <= 1, 'in (0, 1]');
  out.maxLength = int('max_length', 1);
  out.minLength = int('min_length', 0);
  out.maxNewTokens = int('max_new_tokens', 1);
  out.minNewTokens = int('min_new_tokens', 0);
  if (p.prefix !== undefined && p.prefix !== null && p.prefix !== '') {
    out.prefix = typeof p.prefix === 'string' ? p.prefix : bad('prefix', 'a string');
    out.cutAtNewline = true;
  }
  for (const k of Object.keys(out) as (keyof TaskDefaults)[]) if (out[k] === undefined) delete out[k];
  return out;
}

/**
 * New-token counts for a prompt of `promptLen` tokens (prefix included) under these defaults:
 * max_new_tokens wins over max_length (as in transformers); the result fits in `nPositions`.
 */
export function newTokenLimits(d: TaskDefaults | null, promptLen: number, nPositions: number, fallbackMax = 50): { maxNewTokens: number; minNewTokens: number } {
  const room = Math.max(1, nPositions - promptLen);
  const wanted = d?.maxNewTokens ?? (d?.maxLength !== undefined ? d.maxLength - promptLen : fallbackMax);
  const maxNewTokens = Math.min(room, Math.max(1, wanted));
  const minWanted = d?.minNewTokens ?? (d?.minLength !== undefined ? d.minLength - promptLen : 0);
  return { maxNewTokens, minNewTokens: Math.min(maxNewTokens, Math.max(0, minWanted)) };
}

/** The continuation up to (not including) its first newline; the text unchanged when it has none. */
export function cutAtFirstNewline(text: string): string {
  const i = text.indexOf('\n');
  return i < 0 ? text : text.slice(0, i);
}
