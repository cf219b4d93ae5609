// The wasm rung of the non-matmul training ops: GELU forward/backward, the cross-entropy forward
// and backward, and the optimizer's two passes (Σ g² for clip_grad_norm_, the AdamW update), on
// the kernels of src/wasm/elementwise.ts, split across the worker pool by element or row ranges.
// Each method returns false (nothing done) when a buffer is outside the wasm heap; the caller then
// runs the JavaScript reference (cpu/gelu.ts, cpu/crossentropy.ts, train/adamw.ts).

import type { KVLayer } from '../backend.ts';
import { ATT_BLOCK_WORDS, ATT_MAX_HS, ATT_SCALE_BYTE, ATT_SCORES_BYTE, BWD, FWD } from '../wasm/attention.ts';
import { ADAMW_HYPER, ADAMW_HYPER_WORDS } from '../wasm/elementwise.ts';
import type { KernelModule } from '../wasm/kernels.ts';
import type { WasmHeap } from '../wasm/heap.ts';
import { SCRATCH_BYTES, type WorkerPool } from './pool/pool.ts';
import { callKernel, KERNELS, type KernelName, MAX_ITEMS } from './pool/protocol.ts';

/** below this many elements an element-wise op runs on the calling thread (waking a worker costs more) */
const PARALLEL_MIN = 1 << 15;
/** Σ g² is summed in chunks of this many elements (or more, for ≤ MAX_ITEMS chunks), added in order */
const SUMSQ_CHUNK = 1 << 16;

/** One range of the flat parameter buffer the optimizer updates, and whether it decays. */
export interface UpdateRange {
  offset: number;
  numel: number;
  decay: boolean;
}

export interface AdamWScalars {
  beta1: number;
  beta2: number;
  eps: number;
  /** lr / (1 − β1^t) */
  stepSize: number;
  /** sqrt(1 − β2^t) */
  bc2Sqrt: number;
  /** 1 − lr·weight_decay (for decayed ranges) */
  decay: number;
  /** the clip coefficient to scale the gradients by first, or 1 (no clipping) */
  coef: number;
}

export class WasmOps {
  private f64Bufs: Float32Array[] = [];

  constructor(private readonly heap: WasmHeap, private readonly km: KernelModule, private readonly pool: WorkerPool | null) {}

  private get threads(): number {
    return this.pool?.threads ?? 1;
  }

  inHeap(...xs: (ArrayBufferView | null)[]): boolean {
    for (const x of xs) if (x && !this.heap.contains(x)) return false;
    return true;
  }

  /** run `kernel` (layout 'ew') over the items, across the pool when there is one and more than one item */
  private run(kernel: KernelName, args: readonly number[], items: readonly (readonly [number, number])[]): void {
    for (let s = 0; s < items.length; s += MAX_ITEMS) {
      const part = items.slice(s, s + MAX_ITEMS);
      if (this.pool) this.pool.run(kernel, args, part);
      else {
        const f = this.km.kernels[kernel] as (...x: number[]) => void;
        for (const [n0, n1] of part) callKernel(f, KERNELS[kernel].layout, args, 0, n0, n1, this.scratch().byteOffset);
      }
    }
  }

  private scratchBuf: Float32Array | null = null;
  /** this thread's kernel scratch when there is no pool (the pool's threads have their own) */
  private scratch(): Float32Array {
    this.scratchBuf ??= this.heap.allocF32(SCRATCH_BYTES / 4);
    if (!this.scratchBuf) throw new Error('gpt2ts: no room in the wasm heap for kernel scratch');
    return this.scratchBuf;
  }

  /** [0, n) cut into about 2 items per thread (each a multiple of `align`), or one item when small */
  private split(n: number, align: number, parallelMin: number): [number, number][] {
    if (this.threads === 1 || n < parallelMin) return [[0, n]];
    const groups = Math.ceil(n / align);
    const k = Math.min(groups, 2 * this.threads);
    const per = Math.ceil(groups / k) * align;
    const out: [number, number][] = [];
    for (let a = 0; a < n; a += per) out.push([a, Math.min(n, a + per)]);
    return out;
  }

  /** grow-only float64 scratch number `slot` of at least n doubles, in the heap */
  private f64(slot: number, n: number): Float64Array {
    let b = this.f64Bufs[slot];
    if (!b || b.length < 2 * n) {
      if (b) this.heap.freeArray(b);
      const nb = this.heap.allocF32(Math.max(2 * n, 64));
      if (!nb) throw new Error('gpt2ts: no room in the wasm heap for kernel scratch');
      this.f64Bufs[slot] = b = nb;
    }
    return new Float64Array(b.buffer, b.byteOffset, n);
  }

  // ---- attention (src/wasm/attention.ts): heads split across the pool ----

  /** the parameter block (int32 words, the scale as float64 at ATT_SCALE_BYTE) */
  private attBlock(words: Record<string, number>, scale: number): number {
    const buf = this.f64(5, ATT_BLOCK_WORDS / 2);
    const i32 = new Int32Array(buf.buffer, buf.byteOffset, ATT_BLOCK_WORDS);
    i32.fill(0);
    for (const [k, v] of Object.entries(words)) i32[Number(k)] = v;
    buf[ATT_SCALE_BYTE / 8] = scale;
    return buf.byteOffset;
  }

  /** a heap copy of the first n mask values (the caller's Int32Array lives outside the heap), or 0 */
  private maskInHeap(mask: Int32Array | null, n: number): number {
    if (!mask) return 0;
    const buf = this.f64(6, Math.ceil(n / 2));
    const i32 = new Int32Array(buf.buffer, buf.byteOffset, n);
    i32.set(mask.subarray(0, n));
    return buf.byteOffset;
  }

  /** keys a row can see at most, with hs, fit the kernel scratch */
  private attFits(hs: number, keys: number): boolean {
    return Number.isInteger(hs) && hs <= ATT_MAX_HS && 8 * keys <= SCRATCH_BYTES - ATT_SCORES_BYTE;
  }

  /** attentionForward / attentionDropoutForward (cpu/attention.ts) on the kernels; false: not possible here */
  attentionForward(out: Float32Array, att: Float32Array | null, drop: Float32Array | null, qkv: Float32Array, mask: Int32Array | null,
    maskStride: number, B: number, T: number, C: number, NH: number, scale: number): boolean {
    if (!this.inHeap(out, att, drop, qkv) || !this.attFits(C / NH, T)) return false;
    const pb = this.attBlock({
      [FWD.qkv]: qkv.byteOffset, [FWD.out]: out.byteOffset, [FWD.att]: att?.byteOffset ?? 0, [FWD.drop]: drop?.byteOffset ?? 0,
      [FWD.mask]: this.maskInHeap(mask, (B - 1) * maskStride + T), [FWD.maskStride]: maskStride, [FWD.T]: T, [FWD.C]: C, [FWD.NH]: NH,
    }, scale);
    this.run('attn_fwd', [pb], this.split(B * NH, 1, 2));
    return true;
  }

  /** attentionCached (cpu/attention.ts) on the kernels: the same row code as the forward */
  attentionCached(out: Float32Array, qkv: Float32Array, cache: KVLayer<Float32Array>, mask: Int32Array | null, maskStride: number,
    B: number, T: number, C: number, NH: number, pos0: number, cap: number, scale: number): boolean {
    if (!this.inHeap(out, qkv, cache.k, cache.v) || !this.attFits(C / NH, pos0 + T)) return false;
    const pb = this.attBlock({
      [FWD.qkv]: qkv.byteOffset, [FWD.out]: out.byteOffset, [FWD.mask]: this.maskInHeap(mask, (B - 1) * maskStride + pos0 + T),
      [FWD.maskStride]: maskStride, [FWD.T]: T, [FWD.C]: C, [FWD.NH]: NH, [FWD.cacheK]: cache.k.byteOffset,
      [FWD.cacheV]: cache.v.byteOffset, [FWD.cap]: cap, [FWD.pos0]: pos0,
    }, scale);
    this.run('attn_fwd', [pb], this.split(B * NH, 1, 2));
    return true;
  }

  /** attentionBackward (cpu/attention.ts) on the kernels */
  attentionBackward(dqkv: Float32Array, dout: Float32Array, qkv: Float32Array, att: Float32Array, drop: Float32Array | null,
    mask: Int32Array | null, maskStride: number, B: number, T: number, C: number, NH: number, scale: number): boolean {
    if (!this.inHeap(dqkv, dout, qkv, att, drop) || !this.attFits(C / NH, T)) return false;
    const pb = this.attBlock({
      [BWD.dqkv]: dqkv.byteOffset, [BWD.dout]: dout.byteOffset, [BWD.qkv]: qkv.byteOffset, [BWD.att]: att.byteOffset,
      [BWD.drop]: drop?.byteOffset ?? 0, [BWD.mask]: this.maskInHeap(mask, (B - 1) * maskStride + T), [BWD.maskStride]: maskStride,
      [BWD.T]: T, [BWD.C]: C, [BWD.NH]: NH,
    }, scale);
    this.run('attn_bwd', [pb], this.split(B * NH, 1, 2));
    return true;
  }

  geluForward(out: Float32Array, inp: Float32Array, n: number): boolean {
    if (!this.inHeap(out, inp)) return false;
    this.run('gelu_fwd', [out.byteOffset, inp.byteOffset], this.split(n, 4, PARALLEL_MIN));
    return true;
  }

  geluBackward(dinp: Float32Array, inp: Float32Array, dout: Float32Array, n: number): boolean {
    if (!this.inHeap(dinp, inp, dout)) return false;
    this.run('gelu_bwd', [dinp.byteOffset, inp.byteOffset, dout.byteOffset], this.split(n, 4, PARALLEL_MIN));
    return true;
  }

  /**
   * Σ g² over g (float64): chunks of a size that depends on g's length only, each summed in float64,
   * added in order, so the result does not depend on the thread count. null: g is outside the heap.
   */
  sumSquares(g: Float32Array): number | null {
    if (!this.inHeap(g)) return null;
    const n = g.length;
    if (n === 0) return 0;
    const chunk = Math.max(SUMSQ_CHUNK, Math.ceil(n / MAX_ITEMS / 4) * 4);
    const count = Math.ceil(n / chunk);
    const out = this.f64(0, count);
    const items: [number, number][] = [];
    for (let a = 0; a < n; a += chunk) items.push([a, Math.min(n, a + chunk)]);
    this.run('sumsq', [g.byteOffset, out.byteOffset, chunk], items);
    let s = 0;
    for (let i = 0; i < count; i++) s += out[i];
    return s;
  }

  /**
   * One AdamW update of the ranges (train/adamw.ts has the math; the kernel's operations match
   * adamwStep's, so results are identical), after scaling the gradients by s.coef when it is < 1.
   */
  adamw(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, ranges: readonly UpdateRange[], s: AdamWScalars): boolean {
    if (!this.inHeap(p, g, m, v)) return false;
    const total = ranges.reduce((a, r) => a + r.numel, 0);
    const chunk = Math.max(1 << 16, Math.ceil(total / 256 / 4) * 4);
    for (const decay of [true, false]) {
      const hyper = this.f64(decay ? 1 : 2, ADAMW_HYPER_WORDS);
      const H = ADAMW_HYPER;
      hyper[H.b1] = s.beta1;
      hyper[H.omb1] = 1 - s.beta1;
      hyper[H.b2] = s.beta2;
      hyper[H.omb2] = 1 - s.beta2;
      hyper[H.stepSize] = s.stepSize;
      hyper[H.bc2Sqrt] = s.bc2Sqrt;
      hyper[H.eps] = s.eps;
      hyper[H.decay] = decay ? s.decay : 1;
      hyper[H.coef] = s.coef;
      hyper[H.clip] = s.coef < 1 ? 1 : 0;
      const items: [number, number][] = [];
      for (const r of ranges) {
        if (r.decay !== decay) continue;
        for (let a = r.offset; a < r.offset + r.numel; a += chunk) items.push([a, Math.min(r.offset + r.numel, a + chunk)]);
      }
      if (items.length) this.run('adamw', [p.byteOffset, g.byteOffset, m.byteOffset, v.byteOffset, hyper.byteOffset], items);
    }
    return true;
  }

  /**
   * Per row of logits (rows, V): max and Σ exp(z − max) into a float64 scratch (2 words per row),
   * returned; null when logits is outside the heap.
   */
  rowStats(logits: Float32Array, rows: number, V: number): Float64Array | null {
    if (!this.inHeap(logits)) return null;
    const stats = this.f64(3, 2 * rows);
    this.run('ce_stats', [logits.byteOffset, V, stats.byteOffset], this.split(rows, 1, Math.ceil(PARALLEL_MIN / V)));
    return stats;
  }

  /** dlogits[r, :] += k[r]·exp(logits[r, :] − stats max_r) for rows with k[r] ≠ 0 (k: float64 per row) */
  softmaxScaledAdd(dlogits: Float32Array, logits: Float32Array, stats: Float64Array, k: readonly number[], rows: number, V: number): boolean {
    if (!this.inHeap(dlogits, logits)) return false;
    const kb = this.f64(4, rows);
    for (let r = 0; r < rows; r++) kb[r] = k[r];
    this.run('ce_bwd', [dlogits.byteOffset, logits.byteOffset, V, stats.byteOffset, kb.byteOffset], this.split(rows, 1, Math.ceil(PARALLEL_MIN / V)));
    return true;
  }
}
