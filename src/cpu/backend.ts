// The CPU backend: the Backend interface over Float32Array / Int32Array, one file per layer.
// Ops run synchronously when called; read* and sync resolve at once.
//
// Memory: float buffers are allocated in the process's wasm heap (src/wasm/heap.ts), a shared
// WebAssembly.Memory, so the SIMD kernels and the worker threads read them in place; Params are
// allocated there too. Matmul ladder (bench/cpu.ts times every rung):
//   naive (matmul.ts, the reference) → blocked JS (matmul-blocked.ts, one thread)
//   → wasm SIMD across threads (matmul-wasm.ts; kernels generated in src/wasm/).
// Default: the wasm rung on every core where the runtime has WebAssembly SIMD (and shared memory
// for threads); buffers outside the heap, or `kernels: 'js'`, take the blocked JS rung.

import type { Backend, KVLayer, TrainingBackend } from '../backend.ts';
import { attentionBackward, attentionDropoutForward } from './attention.ts';
import { IGNORE_INDEX, checkTarget, crossEntropyBackward, crossEntropyForward } from './crossentropy.ts';
import { dropoutBackward, dropoutForward } from './dropout.ts';
import { encoderBackward } from './encoder.ts';
import { geluBackward } from './gelu.ts';
import { layernormBackward } from './layernorm.ts';
import { matmulBackwardNaive } from './matmul.ts';
import { residualBackward } from './residual.ts';
import { attentionCached, attentionForward, kvCacheWrite } from './attention.ts';
import { encoderForward } from './encoder.ts';
import { geluForward } from './gelu.ts';
import { layernormForward } from './layernorm.ts';
import { matmulForwardBlocked } from './matmul-blocked.ts';
import { WasmBackward } from './matmul-backward.ts';
import { Bf16Weights } from './matmul-bf16.ts';
import { WasmMatmul } from './matmul-wasm.ts';
import { type AdamWScalars, type UpdateRange, WasmOps } from './ops-wasm.ts';
import { acquirePool, coreCount, releasePool, type WorkerPool } from './pool/pool.ts';
import { residualForward } from './residual.ts';
import { argmax, softmaxForward } from './softmax.ts';
import { wasmFeatures } from '../wasm/features.ts';
import { type WasmHeap, wasmHeap } from '../wasm/heap.ts';
import { kernelModule } from '../wasm/kernels.ts';

export type CpuBuf = Float32Array;
export type CpuIntBuf = Int32Array;

export interface CpuBackendOptions {
  /** threads for the matmul kernels, the calling thread included (default: the core count) */
  threads?: number;
  /** 'wasm': WebAssembly SIMD kernels (the default where the runtime has SIMD); 'js': plain JavaScript, one thread */
  kernels?: 'js' | 'wasm';
  /**
   * 'bf16': matmuls read a bfloat16 copy of the uploaded parameters (half the bytes per decoded
   * token; weights rounded to bfloat16, activations and sums stay float32; the copy is held beside
   * the float32 parameters). Default 'f32'. Needs the wasm kernels.
   */
  weights?: 'f32' | 'bf16';
}

let noticed = false;
/** one line on stderr, once per process, when the backend runs with less than was asked */
function notice(msg: string): void {
  if (noticed) return;
  noticed = true;
  const p = (globalThis as { process?: { stderr?: { write(s: string): unknown } } }).process;
  if (p?.stderr) p.stderr.write(`gpt2ts: ${msg}\n`);
  else console.error(`gpt2ts: ${msg}`);
}

export class CpuBackend implements Backend<Float32Array, Int32Array>, TrainingBackend<Float32Array, Int32Array> {
  readonly name = 'cpu';
  readonly description: string;
  /** the matmul rung in use: 'wasm' or 'js' */
  readonly kernels: 'js' | 'wasm';
  /** threads the matmul kernels use (1 for 'js') */
  readonly threads: number;
  private readonly heap: WasmHeap | null;
  private pool: WorkerPool | null = null;
  private readonly wasm: WasmMatmul | null = null;
  private readonly wasmBack: WasmBackward | null = null;
  /** GELU, cross-entropy and optimizer kernels (ops-wasm.ts), or null on the JS rung */
  private readonly ops: WasmOps | null = null;
  /** bfloat16 mirrors of uploaded parameters (weights: 'bf16'), else null */
  private readonly bf16: Bf16Weights | null = null;

  constructor(opts: CpuBackendOptions = {}) {
    this.heap = wasmHeap();
    let kernels = opts.kernels ?? (this.heap ? 'wasm' : 'js');
    if (kernels === 'wasm' && !this.heap) {
      notice('WebAssembly SIMD is unavailable; the CPU backend uses its JavaScript kernels');
      kernels = 'js';
    }
    let threads = kernels === 'wasm' ? Math.max(1, Math.floor(opts.threads ?? coreCount())) : 1;
    if (this.heap && kernels === 'wasm') {
      if (threads > 1 && !this.heap.shared) {
        notice('shared memory is unavailable; the CPU backend runs on one thread');
        threads = 1;
      }
      const km = kernelModule(this.heap);
      if (threads > 1) {
        try {
          this.pool = acquirePool(this.heap, km, threads);
          threads = this.pool.threads;
        } catch (e) {
          notice(`worker threads are unavailable (${e instanceof Error ? e.message : String(e)}); the CPU backend runs on one thread`);
          threads = 1;
        }
      }
      this.wasm = new WasmMatmul(this.heap, km, this.pool);
      this.wasmBack = new WasmBackward(this.wasm);
      this.ops = new WasmOps(this.heap, km, this.pool);
      if (opts.weights === 'bf16') this.bf16 = new Bf16Weights(this.heap);
    }
    if (opts.weights === 'bf16' && !this.bf16) throw new Error('CpuBackend: weights "bf16" needs the WebAssembly kernels');
    this.kernels = kernels;
    this.threads = threads;
    this.description = kernels === 'wasm'
      ? `CPU (WebAssembly SIMD${wasmFeatures().relaxedSimd ? ' + relaxed FMA' : ''}, ${threads} thread${threads > 1 ? 's' : ''}${this.bf16 ? ', bfloat16 weights' : ''})`
      : 'CPU (JavaScript, 1 thread)';
  }

  allocF32(n: number): Float32Array {
    return this.heap?.allocF32(n) ?? new Float32Array(n);
  }
  allocI32(n: number): Int32Array {
    return new Int32Array(n);
  }
  /**
   * The parameters as the kernels read them: `data` itself when it is in the wasm heap (Params
   * allocates it there), otherwise one copy into the heap (the wasm kernels cannot address other
   * memory; drop the original to avoid holding the weights twice).
   */
  upload(data: Float32Array): Float32Array {
    let buf = data;
    if (this.wasm && this.heap && !this.heap.contains(data)) {
      const copy = this.heap.allocF32(data.length);
      if (copy) {
        copy.set(data);
        buf = copy;
      } // else the heap is full: the JS kernels read it where it is
    }
    if (this.bf16 && this.heap?.contains(buf)) this.bf16.add(buf);
    return buf;
  }
  view(buf: Float32Array, offset: number, n: number): Float32Array {
    if (offset < 0 || offset + n > buf.length) throw new RangeError(`view [${offset}, ${offset + n}) outside a buffer of ${buf.length}`);
    return buf.subarray(offset, offset + n);
  }
  writeF32(dst: Float32Array, src: Float32Array, dstOffset = 0): void {
    dst.set(src, dstOffset);
  }
  writeI32(dst: Int32Array, src: Int32Array): void {
    dst.set(src);
  }
  copyF32(dst: Float32Array, dstOffset: number, src: Float32Array, srcOffset: number, n: number): void {
    dst.set(src.subarray(srcOffset, srcOffset + n), dstOffset);
  }
  zero(buf: Float32Array, n: number): void {
    buf.fill(0, 0, n);
  }
  readF32(src: Float32Array, n = src.length): Promise<Float32Array> {
    return Promise.resolve(src.slice(0, n));
  }
  readI32(src: Int32Array, n = src.length): Promise<Int32Array> {
    return Promise.resolve(src.slice(0, n));
  }
  sync(): Promise<void> {
    return Promise.resolve();
  }
  free(buf: Float32Array | Int32Array): void {
    if (buf instanceof Float32Array) this.heap?.freeArray(buf);
  }
  /** Release this backend's hold on the worker pool (the last user's release stops the workers). */
  dispose(): void {
    if (this.pool) releasePool(this.pool);
    this.pool = null; // later matmuls run on this thread (the wasm rung falls back when its pool is gone)
  }

  encoderForward(out: Float32Array, ids: Int32Array, wte: Float32Array, wpe: Float32Array, B: number, T: number, C: number, pos0: number): void {
    encoderForward(out, ids, wte, wpe, B, T, C, pos0);
  }
  layernormForward(out: Float32Array, mean: Float32Array | null, rstd: Float32Array | null, inp: Float32Array, w: Float32Array, b: Float32Array, N: number, C: number, eps: number): void {
    layernormForward(out, mean, rstd, inp, w, b, N, C, eps);
  }
  matmulForward(out: Float32Array, inp: Float32Array, w: Float32Array, bias: Float32Array | null, M: number, K: number, N: number, transW: boolean): void {
    if (this.wasm?.forward(out, inp, w, bias, M, K, N, transW, this.bf16 ? this.bf16.address(w) : -1)) return;
    matmulForwardBlocked(out, inp, w, bias, M, K, N, transW);
  }
  attentionForward(out: Float32Array, att: Float32Array | null, qkv: Float32Array, mask: Int32Array | null, maskStride: number, B: number, T: number, C: number, NH: number, scale: number): void {
    if (this.ops?.attentionForward(out, att, null, qkv, mask, maskStride, B, T, C, NH, scale)) return;
    attentionForward(out, att, qkv, mask, maskStride, B, T, C, NH, scale);
  }
  kvCacheWrite(cache: KVLayer<Float32Array>, qkv: Float32Array, B: number, T: number, C: number, NH: number, pos0: number, cap: number): void {
    kvCacheWrite(cache, qkv, B, T, C, NH, pos0, cap);
  }
  attentionCached(out: Float32Array, qkv: Float32Array, cache: KVLayer<Float32Array>, mask: Int32Array | null, maskStride: number, B: number, T: number, C: number, NH: number, pos0: number, cap: number, scale: number): void {
    if (this.ops?.attentionCached(out, qkv, cache, mask, maskStride, B, T, C, NH, pos0, cap, scale)) return;
    attentionCached(out, qkv, cache, mask, maskStride, B, T, C, NH, pos0, cap, scale);
  }
  geluForward(out: Float32Array, inp: Float32Array, n: number): void {
    if (this.ops?.geluForward(out, inp, n)) return;
    geluForward(out, inp, n);
  }
  residualForward(out: Float32Array, a: Float32Array, b: Float32Array, n: number): void {
    residualForward(out, a, b, n);
  }
  softmaxForward(probs: Float32Array, logits: Float32Array, rows: number, V: number): void {
    softmaxForward(probs, logits, rows, V);
  }
  argmax(out: Int32Array, logits: Float32Array, rows: number, V: number): void {
    argmax(out, logits, rows, V);
  }

  // ---- training ops ---- (TrainingBackend: backward ops accumulate; see src/backend.ts)
  crossEntropyForward(losses: Float32Array, logits: Float32Array, targets: Int32Array, rows: number, V: number): void {
    for (let r = 0; r < rows; r++) if (targets[r] !== IGNORE_INDEX) checkTarget(targets[r], r, V);
    // per row: max and Σ exp(z − max) on the wasm kernels; loss = max + log Σ − z_y
    const stats = this.ops?.rowStats(logits, rows, V);
    if (!stats) {
      crossEntropyForward(losses, logits, targets, rows, V);
      return;
    }
    for (let r = 0; r < rows; r++) {
      const y = targets[r];
      losses[r] = y === IGNORE_INDEX ? 0 : stats[2 * r] + Math.log(stats[2 * r + 1]) - logits[r * V + y];
    }
  }
  crossEntropyBackward(dlogits: Float32Array, logits: Float32Array, targets: Int32Array, rows: number, V: number, scale: number): void {
    for (let r = 0; r < rows; r++) if (targets[r] !== IGNORE_INDEX) checkTarget(targets[r], r, V);
    const stats = this.ops?.inHeap(dlogits) ? this.ops.rowStats(logits, rows, V) : null;
    if (!this.ops || !stats) {
      crossEntropyBackward(dlogits, logits, targets, rows, V, scale);
      return;
    }
    // dlogits[r,:] += (scale/Σ_r)·exp(z − max_r), then −scale at the target (rows with −100: nothing)
    const k: number[] = [];
    for (let r = 0; r < rows; r++) k.push(targets[r] === IGNORE_INDEX ? 0 : scale / stats[2 * r + 1]);
    this.ops.softmaxScaledAdd(dlogits, logits, stats, k, rows, V);
    for (let r = 0; r < rows; r++) if (targets[r] !== IGNORE_INDEX) dlogits[r * V + targets[r]] -= scale;
  }
  dropoutForward(out: Float32Array, inp: Float32Array, mask: Float32Array, n: number): void {
    dropoutForward(out, inp, mask, n);
  }
  attentionDropoutForward(out: Float32Array, att: Float32Array, dropMask: Float32Array, qkv: Float32Array, mask: Int32Array | null, maskStride: number, B: number, T: number, C: number, NH: number, scale: number): void {
    if (this.ops?.attentionForward(out, att, dropMask, qkv, mask, maskStride, B, T, C, NH, scale)) return;
    attentionDropoutForward(out, att, dropMask, qkv, mask, maskStride, B, T, C, NH, scale);
  }
  encoderBackward(dwte: Float32Array, dwpe: Float32Array, dout: Float32Array, ids: Int32Array, B: number, T: number, C: number, pos0: number): void {
    encoderBackward(dwte, dwpe, dout, ids, B, T, C, pos0);
  }
  layernormBackward(dinp: Float32Array, dw: Float32Array, db: Float32Array, dout: Float32Array, inp: Float32Array, w: Float32Array, mean: Float32Array, rstd: Float32Array, N: number, C: number): void {
    layernormBackward(dinp, dw, db, dout, inp, w, mean, rstd, N, C);
  }
  matmulBackward(dinp: Float32Array, dw: Float32Array, dbias: Float32Array | null, dout: Float32Array, inp: Float32Array, w: Float32Array, M: number, K: number, N: number, transW: boolean): void {
    if (this.wasmBack?.backward(dinp, dw, dbias, dout, inp, w, M, K, N, transW)) return;
    matmulBackwardNaive(dinp, dw, dbias, dout, inp, w, M, K, N, transW);
  }
  attentionBackward(dqkv: Float32Array, dout: Float32Array, qkv: Float32Array, att: Float32Array, dropMask: Float32Array | null, mask: Int32Array | null, maskStride: number, B: number, T: number, C: number, NH: number, scale: number): void {
    if (this.ops?.attentionBackward(dqkv, dout, qkv, att, dropMask, mask, maskStride, B, T, C, NH, scale)) return;
    attentionBackward(dqkv, dout, qkv, att, dropMask, mask, maskStride, B, T, C, NH, scale);
  }
  geluBackward(dinp: Float32Array, inp: Float32Array, dout: Float32Array, n: number): void {
    if (this.ops?.geluBackward(dinp, inp, dout, n)) return;
    geluBackward(dinp, inp, dout, n);
  }
  residualBackward(da: Float32Array, db: Float32Array, dout: Float32Array, n: number): void {
    residualBackward(da, db, dout, n);
  }
  dropoutBackward(dinp: Float32Array, dout: Float32Array, mask: Float32Array, n: number): void {
    dropoutBackward(dinp, dout, mask, n);
  }
  // ---- end training ops ----

  // ---- optimizer passes (CPU extras, not in the Backend interface; train/step.ts uses them) ----
  /** Σ buf[i]² in float64 on the wasm kernels, or null (JS rung, or buf outside the heap) */
  sumSquares(buf: Float32Array): number | null {
    return this.ops ? this.ops.sumSquares(buf) : null;
  }
  /**
   * One AdamW update over `ranges` of the flat buffers (scaling the gradients by s.coef first when
   * it is < 1) on the wasm kernels; false (nothing done) on the JS rung or for buffers outside the heap.
   */
  adamwUpdate(params: Float32Array, grads: Float32Array, m: Float32Array, v: Float32Array, ranges: readonly UpdateRange[], s: AdamWScalars): boolean {
    return this.ops ? this.ops.adamw(params, grads, m, v, ranges, s) : false;
  }
}
