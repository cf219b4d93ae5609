// Binder for the attention ladder (kernels/attention_unfused.wgsl, attention_flash.wgsl,
// attention_decode.wgsl) and the KV-cache write (kernels/kvcache_write.wgsl).
//
//   qkv (B, T, 3C) = q | k | v, heads (NH, hs);  out (B, T, C);  cache k, v (B, NH, cap, hs)
//
// Rungs:
//   unfused  scores → softmax → weighted sum through a (B, NH, T, T) matrix: the reference, and
//            the rung that fills `att` (the probabilities the backward pass reads)
//   flash    fused causal prefill, online softmax over key tiles, no T × T in memory
//   decode   new queries over the GPU-resident KV cache (attentionCached)

import type { KVLayer } from '../../backend.ts';
import type { GpuBuf, GpuIntBuf } from '../buffers.ts';
import { f32, type Runtime } from '../runtime.ts';

export type AttentionRung = 'unfused' | 'flash';
export const ATTENTION_RUNGS: readonly AttentionRung[] = ['unfused', 'flash'];

const FLASH_MAX_HS = 64; // MAX_HS4 · 4 in attention_flash.wgsl
const FLASH_BQ = 32;
const DECODE_WG = 64;

/** Flash needs vec4 rows (C, hs multiples of 4) and hs ≤ 64 (its private registers). */
export function flashSupports(C: number, NH: number): boolean {
  const hs = C / NH;
  return C % 4 === 0 && hs % 4 === 0 && hs <= FLASH_MAX_HS;
}

/** The rung for attentionForward: unfused when the probabilities are wanted or flash cannot run. */
export function pickAttentionRung(C: number, NH: number, wantAtt: boolean): AttentionRung {
  return !wantAtt && flashSupports(C, NH) ? 'flash' : 'unfused';
}

/**
 * Causal attention of a chunk over itself. `att` (B, NH, T, T) receives the probabilities, or null.
 * mask (B, maskStride) of 1/0 over key positions 0..T-1, or null.
 */
export function attentionForward(rt: Runtime, rung: AttentionRung | 'auto', out: GpuBuf, att: GpuBuf | null, qkv: GpuBuf,
  mask: GpuIntBuf | null, maskStride: number, B: number, T: number, C: number, NH: number, scale: number, wgStorage: number): void {
  if (B === 0 || T === 0) return;
  const r = rung === 'auto' || att ? pickAttentionRung(C, NH, att !== null) : rung;
  if (r === 'flash' && !flashSupports(C, NH)) throw new Error(`internal: flash attention cannot run C ${C}, NH ${NH}`);
  const hs = C / NH;
  if (r === 'flash') {
    // the largest key tile whose k, v and mask bits fit in workgroup memory
    let BK = 64;
    while (BK > 4 && BK * (8 * hs + 4) > wgStorage) BK /= 2;
    const { bufs, unstage } = rt.stageOperands<GpuBuf | GpuIntBuf>([
      { buf: out, mode: 'out' }, { buf: qkv, mode: 'in' }, { buf: mask, mode: 'in' },
    ]);
    const [o, x, m] = bufs as [GpuBuf, GpuBuf, GpuIntBuf | null];
    // Params: B, T, C4, NH, mask_stride, has_mask, scale
    rt.dispatch('attnFlash', { BQ: FLASH_BQ, BK, HS4: hs / 4 },
      [B, T, C / 4, NH, maskStride, m ? 1 : 0, f32(scale)],
      [rt.bind(o), rt.bind(x), m ? rt.bind(m) : rt.none(2)],
      [Math.ceil(T / FLASH_BQ), B * NH]);
    unstage();
    return;
  }
  // unfused: probabilities go to `att`, or to scratch when the caller does not keep them
  const scores = att ?? rt.scratchF32('attention scores', B * NH * T * T);
  const { bufs, unstage } = rt.stageOperands<GpuBuf | GpuIntBuf>([
    { buf: out, mode: 'out' }, { buf: scores, mode: 'out' }, { buf: qkv, mode: 'in' }, { buf: mask, mode: 'in' },
  ]);
  const [o, a, x, m] = bufs as [GpuBuf, GpuBuf, GpuBuf, GpuIntBuf | null];
  const bound = [rt.bind(o), rt.bind(a), rt.bind(x), m ? rt.bind(m) : rt.none(3)];
  // Params: B, T, C, NH, hs, mask_stride, has_mask, scale
  const params = [B, T, C, NH, hs, maskStride, m ? 1 : 0, f32(scale)];
  const c = { WG_X: 16, WG_Y: 16 };
  rt.dispatch('attnScores', c, params, bound, [Math.ceil(T / 16), Math.ceil(T / 16), B * NH]);
  rt.dispatch('attnSoftmax', c, params, bound, rt.grid(Math.ceil((B * NH * T) / 256)));
  rt.dispatch('attnValues', c, params, bound, [Math.ceil(hs / 16), Math.ceil(T / 16), B * NH]);
  unstage();
}

/** cache.k, cache.v (B, NH, cap, hs) at positions [pos0, pos0 + T) = the k, v of qkv (B, T, 3C). */
export function kvCacheWrite(rt: Runtime, cache: KVLayer<GpuBuf>, qkv: GpuBuf, B: number, T: number, C: number,
  NH: number, pos0: number, cap: number): void {
  if (B === 0 || T === 0) return;
  const { bufs, unstage } = rt.stageOperands([
    { buf: cache.k, mode: 'out' }, { buf: cache.v, mode: 'out' }, { buf: qkv, mode: 'in' },
  ]);
  const [k, v, x] = bufs as [GpuBuf, GpuBuf, GpuBuf];
  // Params: B, T, C, NH, pos0, cap
  rt.dispatch('kvcacheWrite', { WG: 256 }, [B, T, C, NH, pos0, cap], [rt.bind(k), rt.bind(v), rt.bind(x)],
    rt.grid(Math.ceil((B * T * C) / 256)));
  unstage();
}

/** T new queries over cache positions 0..pos0+t; mask (B, maskStride) over cache positions, or null. */
export function attentionCached(rt: Runtime, out: GpuBuf, qkv: GpuBuf, cache: KVLayer<GpuBuf>, mask: GpuIntBuf | null,
  maskStride: number, B: number, T: number, C: number, NH: number, pos0: number, cap: number, scale: number): void {
  if (B === 0 || T === 0) return;
  const hs = C / NH;
  if (hs > 4 * DECODE_WG) throw new Error(`WebGPU: cached attention supports head sizes up to ${4 * DECODE_WG}, got ${hs}`);
  const { bufs, unstage } = rt.stageOperands<GpuBuf | GpuIntBuf>([
    { buf: out, mode: 'out' }, { buf: qkv, mode: 'in' }, { buf: cache.k, mode: 'in' }, { buf: cache.v, mode: 'in' },
    { buf: mask, mode: 'in' },
  ]);
  const [o, x, k, v, m] = bufs as [GpuBuf, GpuBuf, GpuBuf, GpuBuf, GpuIntBuf | null];
  // Params: B, T, C, NH, pos0, cap, mask_stride, has_mask, scale
  rt.dispatch('attnDecode', { WG: DECODE_WG, HS: hs }, [B, T, C, NH, pos0, cap, maskStride, m ? 1 : 0, f32(scale)],
    [rt.bind(o), rt.bind(x), rt.bind(k), rt.bind(v), m ? rt.bind(m) : rt.none(4)], [T, B * NH]);
  unstage();
}
