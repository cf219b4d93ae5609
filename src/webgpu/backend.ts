// The WebGPU backend: the Backend interface over GPU buffer ranges, one binder per kernel
// (ops/*.ts), one command stream (runtime.ts). Ops are recorded into a command encoder and submitted
// when the host needs a result (read*, sync) or writes a buffer — a whole forward pass is one
// submit on software adapters — and on a real GPU also every 32 dispatches, so the GPU runs while
// the host records (runtime.ts). Nothing is allocated, destroyed or compiled per token once a decode is warm: buffers come
// from a pool, pipelines and bind groups from caches, uniforms from one ring buffer.

import type { Backend, KVLayer } from '../backend.ts';
import { type AnyGpuBuf, type GpuBuf, type GpuIntBuf, type GpuStats, liveBuffers, newStats } from './buffers.ts';
import { type AcquiredDevice, type AdapterSummary, type DeviceLimits, type DeviceOptions, acquireDevice } from './device.ts';
import * as attn from './ops/attention.ts';
import type { AttentionRung, DecodeRung } from './ops/attention.ts';
import * as layers from './ops/layers.ts';
import { type DeviceClass, type MatmulRung, type MatmulTuning, matmulForward } from './ops/matmul.ts';
import { type KernelTime, Runtime } from './runtime.ts';

export type { GpuBuf, GpuIntBuf } from './buffers.ts';

/** Which rung each ladder uses: 'auto' picks by shape (tests and benchmarks force one). */
export interface RungChoice {
  matmul: MatmulRung | 'auto';
  attention: AttentionRung | 'auto';
  /** cached attention (decode) */
  decode: DecodeRung | 'auto';
}

export interface WebGPUBackendOptions extends DeviceOptions {
  /** cap storage bindings below the device limit (bytes), to exercise the splitting in tests */
  maxBindingBytes?: number;
  rungs?: Partial<RungChoice>;
  /** tune the rung choice for a real GPU or a software adapter (default: from the adapter) */
  deviceClass?: DeviceClass;
  /**
   * submit after this many dispatches, so the GPU starts while the host records the rest (default:
   * 32 on a real GPU; 0 — submit only when a result is needed — on a software adapter)
   */
  submitEvery?: number;
}

export class WebGPUBackend implements Backend<GpuBuf, GpuIntBuf> {
  readonly name = 'webgpu';
  readonly description: string;
  readonly adapter: AdapterSummary;
  readonly limits: DeviceLimits;
  readonly stats: GpuStats = newStats();
  /** mutable: tests and benchmarks switch rungs between calls */
  rungs: RungChoice;
  /** mutable: fixed gemm / gemv configurations instead of the by-shape choice (sweeps, tests) */
  tuning: MatmulTuning = {};
  /** what 'auto' rung choices are tuned for */
  readonly deviceClass: DeviceClass;
  private readonly rt: Runtime;
  private disposed = false;

  constructor(private readonly acquired: AcquiredDevice, opts: WebGPUBackendOptions = {}) {
    this.adapter = acquired.adapter;
    this.limits = acquired.limits;
    const a = acquired.adapter;
    this.description = `WebGPU: ${a.description || a.device || a.vendor || 'unknown adapter'} (${a.runtime}${a.software ? ', software' : ''})`;
    const maxBinding = Math.min(acquired.limits.maxStorageBufferBindingSize, opts.maxBindingBytes ?? Infinity);
    this.rt = new Runtime(acquired.device, this.stats, acquired.limits.maxBufferSize, maxBinding, acquired.timestamps);
    this.rungs = { matmul: opts.rungs?.matmul ?? 'auto', attention: opts.rungs?.attention ?? 'auto', decode: opts.rungs?.decode ?? 'auto' };
    this.deviceClass = opts.deviceClass ?? (acquired.adapter.software ? 'software' : 'gpu');
    this.rt.submitEvery = opts.submitEvery ?? (acquired.adapter.software ? 0 : 32);
  }

  /** Dispatches per submit (0: submit only when a result is needed); benchmarks vary it. */
  get submitEvery(): number {
    return this.rt.submitEvery;
  }
  set submitEvery(n: number) {
    this.rt.submitEvery = n;
  }

  /** GPUBuffers alive now (the decode leak test watches this stay flat). */
  get liveBuffers(): number {
    return liveBuffers(this.stats);
  }
  /** bytes per storage binding this backend plans with */
  get maxBinding(): number {
    return this.rt.maxBinding;
  }
  get hasTimestamps(): boolean {
    return this.acquired.timestamps;
  }

  // ---- memory ------------------------------------------------------------------------------------

  private alloc(n: number, label: string): { root: GpuBuf['root'] } {
    const { root, fresh } = this.rt.pool.acquire(n * 4, label);
    if (!fresh) this.rt.clear(root.buffer, 0, root.bytes); // a pooled buffer: zero it, in stream order
    return { root };
  }
  allocF32(n: number): GpuBuf {
    return { kind: 'f32', root: this.alloc(n, 'f32').root, offset: 0, length: n };
  }
  allocI32(n: number): GpuIntBuf {
    return { kind: 'i32', root: this.alloc(n, 'i32').root, offset: 0, length: n };
  }
  /** The flat parameters: one buffer, one write (chunked inside the runtime). */
  upload(data: Float32Array): GpuBuf {
    const buf = this.allocF32(data.length);
    this.writeF32(buf, data);
    return buf;
  }
  view(buf: GpuBuf, offset: number, n: number): GpuBuf {
    if (offset < 0 || n < 0 || offset + n > buf.length) throw new RangeError(`view [${offset}, ${offset + n}) outside a buffer of ${buf.length}`);
    return { kind: 'f32', root: buf.root, offset: buf.offset + offset, length: n };
  }
  writeF32(dst: GpuBuf, src: Float32Array, dstOffset = 0): void {
    if (dstOffset + src.length > dst.length) throw new RangeError(`write of ${src.length} at ${dstOffset} outside a buffer of ${dst.length}`);
    this.rt.write(dst.root.buffer, (dst.offset + dstOffset) * 4, src);
  }
  writeI32(dst: GpuIntBuf, src: Int32Array): void {
    if (src.length > dst.length) throw new RangeError(`write of ${src.length} into a buffer of ${dst.length}`);
    this.rt.write(dst.root.buffer, dst.offset * 4, src);
  }
  copyF32(dst: GpuBuf, dstOffset: number, src: GpuBuf, srcOffset: number, n: number): void {
    if (srcOffset + n > src.length || dstOffset + n > dst.length) throw new RangeError('copyF32 outside a buffer');
    this.rt.copy(src.root.buffer, (src.offset + srcOffset) * 4, dst.root.buffer, (dst.offset + dstOffset) * 4, n * 4);
  }
  zero(buf: GpuBuf, n: number): void {
    this.rt.clear(buf.root.buffer, buf.offset * 4, Math.min(n, buf.length) * 4);
  }
  async readF32(src: GpuBuf, n = src.length): Promise<Float32Array> {
    return new Float32Array(await this.rt.read(src.root.buffer, src.offset * 4, n * 4));
  }
  async readI32(src: GpuIntBuf, n = src.length): Promise<Int32Array> {
    return new Int32Array(await this.rt.read(src.root.buffer, src.offset * 4, n * 4));
  }
  sync(): Promise<void> {
    return this.rt.sync();
  }
  /** Return a buffer to the pool. Views (sub-ranges) are not freed on their own: free the buffer. */
  free(buf: AnyGpuBuf): void {
    if (buf.offset !== 0 || buf.root.freed) return;
    this.rt.pool.release(buf.root);
  }
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.rt.destroy();
    this.acquired.device.destroy();
  }

  // ---- forward ops -------------------------------------------------------------------------------

  encoderForward(out: GpuBuf, ids: GpuIntBuf, wte: GpuBuf, wpe: GpuBuf, B: number, T: number, C: number, pos0: number): void {
    layers.encoderForward(this.rt, out, ids, wte, wpe, B, T, C, pos0);
  }
  layernormForward(out: GpuBuf, mean: GpuBuf | null, rstd: GpuBuf | null, inp: GpuBuf, w: GpuBuf, b: GpuBuf, N: number, C: number, eps: number): void {
    layers.layernormForward(this.rt, out, mean, rstd, inp, w, b, N, C, eps);
  }
  matmulForward(out: GpuBuf, inp: GpuBuf, w: GpuBuf, bias: GpuBuf | null, M: number, K: number, N: number, transW: boolean): void {
    const ctx = { rung: this.rungs.matmul, device: this.deviceClass, limits: this.limits, tuning: this.tuning };
    matmulForward(this.rt, ctx, out, inp, w, bias, M, K, N, transW);
  }
  attentionForward(out: GpuBuf, att: GpuBuf | null, qkv: GpuBuf, mask: GpuIntBuf | null, maskStride: number, B: number, T: number, C: number, NH: number, scale: number): void {
    attn.attentionForward(this.rt, this.rungs.attention, out, att, qkv, mask, maskStride, B, T, C, NH, scale,
      this.limits.maxComputeWorkgroupStorageSize);
  }
  kvCacheWrite(cache: KVLayer<GpuBuf>, qkv: GpuBuf, B: number, T: number, C: number, NH: number, pos0: number, cap: number): void {
    attn.kvCacheWrite(this.rt, cache, qkv, B, T, C, NH, pos0, cap);
  }
  attentionCached(out: GpuBuf, qkv: GpuBuf, cache: KVLayer<GpuBuf>, mask: GpuIntBuf | null, maskStride: number, B: number, T: number, C: number, NH: number, pos0: number, cap: number, scale: number): void {
    const r = this.rungs.decode === 'auto' ? attn.pickDecodeRung(B, T, C, NH, this.deviceClass) : this.rungs.decode;
    attn.attentionCached(this.rt, r, out, qkv, cache, mask, maskStride, B, T, C, NH, pos0, cap, scale);
  }
  geluForward(out: GpuBuf, inp: GpuBuf, n: number): void {
    layers.elementwise(this.rt, 'gelu', this.view(out, 0, n), [this.view(inp, 0, n)], n);
  }
  residualForward(out: GpuBuf, a: GpuBuf, b: GpuBuf, n: number): void {
    layers.elementwise(this.rt, 'residual', this.view(out, 0, n), [this.view(a, 0, n), this.view(b, 0, n)], n);
  }
  softmaxForward(probs: GpuBuf, logits: GpuBuf, rows: number, V: number): void {
    layers.softmaxForward(this.rt, probs, logits, rows, V);
  }
  argmax(out: GpuIntBuf, logits: GpuBuf, rows: number, V: number): void {
    // one workgroup per row: as wide as the device allows on GPUs (a 50257-logit row in 49 loads
    // per thread rather than 196), 256 threads on software adapters (measured there)
    const wg = this.deviceClass === 'gpu' ? 2 ** Math.floor(Math.log2(Math.min(1024, this.limits.maxComputeInvocationsPerWorkgroup))) : 256;
    layers.argmax(this.rt, out, logits, rows, V, wg);
  }

  // ---- benchmarks --------------------------------------------------------------------------------

  /** GPU time in ms of the work `record` enqueues (timestamp queries), or null without them. */
  async timeGpu(record: () => void): Promise<number | null> {
    if (!this.acquired.timestamps) return null;
    this.rt.beginTiming();
    try {
      record();
    } catch (e) {
      await this.rt.endTiming(); // leave timing mode before reporting
      throw e;
    }
    return (await this.rt.endTiming()) / 1e6;
  }

  /**
   * GPU time of each dispatch `record` enqueues (timestamp queries around every dispatch, each in
   * its own compute pass), or null without timestamps. For profiles: the passes add overhead.
   */
  async profileGpu(record: () => void): Promise<KernelTime[] | null> {
    if (!this.acquired.timestamps) return null;
    this.rt.beginProfile();
    try {
      record();
    } catch (e) {
      await this.rt.endProfile();
      throw e;
    }
    return this.rt.endProfile();
  }
}

/** Acquire a device and build the backend. Throws WebGPUUnavailableError with a how-to when none. */
export async function createWebGPUBackend(opts: WebGPUBackendOptions = {}): Promise<WebGPUBackend> {
  return new WebGPUBackend(await acquireDevice(opts), opts);
}
