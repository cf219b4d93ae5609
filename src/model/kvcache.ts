// The key/value cache for incremental decoding: per layer, k and v of every past position,
// laid out (B, NH, cap, hs) so one head's keys are contiguous. One allocation for all layers.

import type { Backend, KVLayer } from '../backend.ts';
import type { GPT2Config } from '../config.ts';
import { ALIGN } from '../params.ts';

export interface KVCache<F> {
  layers: KVLayer<F>[]; // L entries
  B: number;
  /** positions the cache can hold (≤ n_positions) */
  cap: number;
  /** positions filled so far; the next chunk's first position */
  length: number;
  buffer: F;
}

export function allocKVCache<F, I>(be: Backend<F, I>, cfg: GPT2Config, B: number, cap: number): KVCache<F> {
  if (cap > cfg.nPositions) throw new Error(`KV cache of ${cap} positions exceeds n_positions ${cfg.nPositions}`);
  const n = B * cfg.nEmbd * cap; // B·NH·cap·hs
  const stride = Math.ceil(n / ALIGN) * ALIGN;
  const buffer = be.allocF32(stride * 2 * cfg.nLayer);
  const layers: KVLayer<F>[] = [];
  for (let l = 0; l < cfg.nLayer; l++) {
    layers.push({ k: be.view(buffer, 2 * l * stride, n), v: be.view(buffer, (2 * l + 1) * stride, n) });
  }
  return { layers, B, cap, length: 0, buffer };
}
