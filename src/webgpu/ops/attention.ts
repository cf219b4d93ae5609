// Binder for the attention ladder (kernels/attention_unfused.wgsl, attention_flash.wgsl,
// attention_decode.wgsl) and the KV-cache write (kernels/kvcache_write.wgsl).
//
//   qkv (B, T, 3C) = q | k | v, heads (NH, hs);  out (B, T, C);  cache k, v (B, NH, cap, hs)
//
// Rungs:
//   unfused  scores → softmax → weighted sum through a (B, NH, T, T) matrix: the reference, and
//            the rung that fills `att` (the probabilities the backward pass reads)
//   flash    fused causal prefill, online softmax over key tiles, no T × T in memory
//   decode   new queries over the GPU-resident KV cache (attentionCached): one workgroup per
//            (query, head), walking the cache in chunks
//   split    the same over the cache split in WG-position pieces, one workgroup each, and their
//            partial softmax sums combined (flash-decoding; many workgroups at B = 1, for GPUs)

import type { KVLayer } from '../../backend.ts';
import type { GpuBuf, GpuIntBuf } from '../buffers.ts';
import { f32, type Runtime } from '../runtime.ts';

export type AttentionRung = 'unfused' | 'flash';
export const ATTENTION_RUNGS: readonly AttentionRung[] = ['unfused', 'flash'];
/** Rungs of cached attention (attentionCached). */
export type DecodeRung = 'decode' | 'split';
export const DECODE_RUNGS: readonly DecodeRung[] = ['decode', 'split'];

const FLASH_MAX_HS = 64; // MAX_HS4 · 4 in attention_flash.wgsl
const FLASH_BQ = 32;
const DECODE_WG = 64;
const SPLIT_WG = 64; // cached positions per split (and threads per workgroup)

/** The split rung reads q, k and v as vec4 rows: C and hs multiples of 4, hs ≤ 4·SPLIT_WG. */
export function splitSupports(C: number, NH: number): boolean {
  const hs = C / NH;
  return C % 4 === 0 && hs % 4 === 0 && hs <= 4 * SPLIT_WG;
}

/**
 * The cached-attention rung: on GPUs, split when there are too few (query, head) pairs to fill the
 * device with one workgroup each (decode: B·NH workgroups); on software adapters (lavapipe runs
 * workgroups on a few CPU threads) always the single pass.
 */
export function pickDecodeRung(B: number, T: number, C: number, NH: number, device: 'gpu' | 'software'): DecodeRung {
  return device === 'gpu' && B * T * NH < 512 && splitSupports(C, NH) ? 'split' : 'decode';
}

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
export function attentionCached(rt: Runtime, rung: DecodeRung, out: GpuBuf, qkv: GpuBuf, cache: KVLayer<GpuBuf>, mask: GpuIntBuf | null,
  maskStride: number, B: number, T: number, C: number, NH: number, pos0: number, cap: number, scale: number): void {
  if (B === 0 || T === 0) return;
  const hs = C / NH;
  if (rung === 'split') {
    attentionCachedSplit(rt, out, qkv, cache, mask, maskStride, B, T, C, NH, pos0, cap, scale);
    return;
  }
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

/** attentionCached through attention_decode_split.wgsl: partial sums per WG positions, then combine. */
function attentionCachedSplit(rt: Runtime, out: GpuBuf, qkv: GpuBuf, cache: KVLayer<GpuBuf>, mask: GpuIntBuf | null,
  maskStride: number, B: number, T: number, C: number, NH: number, pos0: number, cap: number, scale: number): void {
  if (!splitSupports(C, NH)) throw new Error(`internal: split cached attention cannot run C ${C}, NH ${NH}`);
  const hs = C / NH;
  const splits = Math.ceil((pos0 + T) / SPLIT_WG);
  // the partials are sized (and bound) for the whole cache, so every step of a decode binds the
  // same range: no new bind groups as the sequence grows
  const most = B * NH * T * Math.ceil(Math.max(cap, pos0 + T) / SPLIT_WG) * (hs + 2);
  const { bufs, unstage } = rt.stageOperands<GpuBuf | GpuIntBuf>([
    { buf: out, mode: 'out' }, { buf: qkv, mode: 'in' }, { buf: cache.k, mode: 'in' }, { buf: cache.v, mode: 'in' },
    { buf: mask, mode: 'in' },
  ]);
  const [o, x, k, v, m] = bufs as [GpuBuf, GpuBuf, GpuBuf, GpuBuf, GpuIntBuf | null];
  const part = rt.scratchF32('decode partials', most);
  const bound = [rt.bind(o), rt.bind(x, 0, x.length, true), rt.bind(k, 0, k.length, true), rt.bind(v, 0, v.length, true),
    m ? rt.bind(m) : rt.none(4), rt.bind(part, 0, most)];
  const constants = { WG: SPLIT_WG, HS4: hs / 4 };
  // Params: B, T, C, NH, pos0, cap, mask_stride, has_mask, scale, splits
  const params = [B, T, C, NH, pos0, cap, maskStride, m ? 1 : 0, f32(scale), splits];
  rt.dispatch('attnDecodePartial', constants, params, bound, [splits, T, B * NH]);
  if (splits > 1) rt.dispatch('attnDecodeCombine', constants, params, bound, [T, B * NH]);
  else rt.prepare('attnDecodeCombine', constants); // made now: a decode that grows past WG positions creates nothing
  unstage();
}
