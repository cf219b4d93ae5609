// The command stream under the WebGPU backend: one uniform ring buffer, one open command encoder
// (ops are recorded, and submitted at a read, a sync, a host write, when the ring fills, and on a
// real GPU every `submitEvery` dispatches), the readback buffer, timestamp timing and per-dispatch
// profiles, and staging for operands that cannot be bound directly. Pipelines and bind groups come
// from the caches in pipelines.ts. The uniform ring is written once per submit (one writeBuffer),
// never per dispatch.
//
// Why submit before the result is needed: a decode step of the 124M model records ~155 dispatches
// (≈2 ms of host time on the H100 machine) and runs ≈1.8 ms on the GPU; submitted as one command
// buffer at the readback the two add up (2.87 ms/token), submitted every 32 dispatches the GPU
// starts while the host records the rest (2.34 ms/token; bench/results/webgpu-h100.log).
//
// Binding rules it enforces: a storage binding starts on a 256-byte boundary and is at most
// `maxBinding` bytes; binders split larger tensors themselves (split.ts). An operand that is not
// aligned, or an output that overlaps another operand of the same op, goes through scratch space
// (copy in, run, copy out) — never the case for the model's own buffers, whose views are aligned.

import { type AnyGpuBuf, BufferPool, type GpuBuf, type GpuRoot, type GpuStats, Scratch } from './buffers.ts';
import type { Constants, KernelName } from './kernels.ts';
import { type Bound, PipelineCache } from './pipelines.ts';

export type { Bound } from './pipelines.ts';

const SLOT = 256; // bytes per uniform slot (minUniformBufferOffsetAlignment ≤ 256 everywhere)
const RING_SLOTS = 1024;

/** A float field of a uniform Params struct (plain numbers are u32). */
export interface F32Field {
  f32: number;
}
export const f32 = (x: number): F32Field => ({ f32: x });

export type OperandMode = 'in' | 'out';

/** One dispatch's GPU time (profileGpu). */
export interface KernelTime {
  kernel: KernelName;
  ms: number;
}

const PROFILE_MAX = 1024; // dispatches one profile can time

export class Runtime {
  readonly pool: BufferPool;
  /** largest storage binding in bytes (the device limit, or smaller for tests of the splitting) */
  readonly maxBinding: number;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly ring: GPUBuffer;
  private readonly ringData = new ArrayBuffer(SLOT * RING_SLOTS);
  private readonly ringU32 = new Uint32Array(this.ringData);
  private readonly ringF32 = new Float32Array(this.ringData);
  private ringUsed = 0;
  private readonly cache: PipelineCache;
  private readonly dummy: GPUBuffer;
  private readonly stage: Scratch[] = [];
  private readonly scratches = new Map<string, Scratch>();
  private readbackBuf: GPUBuffer | null = null;
  private readbackBytes = 0;
  private readLock: Promise<void> = Promise.resolve();
  /** timestamp query set and its resolve buffer, made on first use */
  private timer: { querySet: GPUQuerySet; resolve: GPUBuffer } | null = null;
  /** while timing: whether the next pass is the first timed one, and how many were timed */
  private timed: { first: boolean; passes: number } | null = null;
  /** while profiling: one pass per dispatch, timestamps 2i, 2i + 1 around dispatch i */
  private profiling: { querySet: GPUQuerySet; resolve: GPUBuffer; kernels: KernelName[] } | null = null;
  private profiler: { querySet: GPUQuerySet; resolve: GPUBuffer } | null = null;
  private error: string | null = null;
  /** the pipeline last set in the open pass (not set again for the next dispatch) */
  private passPipeline: GPUComputePipeline | null = null;
  private sinceSubmit = 0;
  /**
   * Submit after this many dispatches (0: only when the host needs a result). On a real GPU the
   * work recorded so far then runs while the host records the rest: a decode step's host
   * recording and GPU time overlap instead of adding up.
   */
  submitEvery = 0;

  constructor(readonly device: GPUDevice, readonly stats: GpuStats, maxBufferSize: number, maxBinding: number,
    readonly timestamps: boolean) {
    this.pool = new BufferPool(device, stats, maxBufferSize);
    this.cache = new PipelineCache(device, stats);
    this.maxBinding = Math.floor(maxBinding / 256) * 256;
    this.ring = this.pool.create(SLOT * RING_SLOTS, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, 'uniform ring');
    // 8 distinct 256-byte slots: null operands of one dispatch must not alias each other
    this.dummy = this.pool.create(SLOT * 8, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST, 'dummy');
    device.addEventListener('uncapturederror', (ev) => {
      this.error ??= (ev as GPUUncapturedErrorEvent).error.message;
    });
    void device.lost.then((info) => {
      this.error ??= `device lost: ${info.message}`;
    });
  }

  /** Throw the first WebGPU error seen since the last check (then forget it: one report per error). */
  check(): void {
    const e = this.error;
    this.error = null;
    if (e !== null) throw new Error(`WebGPU error: ${e}`);
  }

  // ---- bindings ----------------------------------------------------------------------------------

  /**
   * The storage binding of elements [from, from + n) of a handle; must be aligned and ≤ maxBinding.
   * `vec4`: the kernel declares it array<vec4<f32>>, so the size is rounded up to 16 bytes (the
   * extra floats are never used; pool buffers are whole multiples of 256 bytes, so they exist).
   */
  bind(buf: AnyGpuBuf, from = 0, n = buf.length - from, vec4 = false): Bound {
    const offset = (buf.offset + from) * 4;
    let size = Math.max(n, 1) * 4;
    if (vec4) size = Math.min(Math.ceil(size / 16) * 16, buf.root.bytes - offset);
    if (offset % 256 !== 0) throw new Error(`internal: unaligned binding at byte ${offset} (stage it first)`);
    if (size > this.maxBinding) {
      throw new Error(`WebGPU: a binding of ${size} bytes exceeds maxStorageBufferBindingSize (${this.maxBinding}); this op cannot split it`);
    }
    return { buffer: buf.root.buffer, id: buf.root.id, offset, size };
  }

  /** A 256-byte placeholder for an absent operand; `slot` (0..7) keeps two of them apart. */
  none(slot: number): Bound {
    return { buffer: this.dummy, id: this.pool.idOf(this.dummy), offset: slot * SLOT, size: SLOT };
  }

  /**
   * Make every operand of one op bindable: an unaligned operand, or an output overlapping another
   * operand, is replaced by a scratch copy (inputs copied in now). Call `unstage` after the op's
   * dispatches to copy staged outputs back. Returns handles in the same order.
   */
  stageOperands<B extends AnyGpuBuf>(ops: readonly { buf: B | null; mode: OperandMode }[]): { bufs: (B | null)[]; unstage: () => void } {
    const bufs: (B | null)[] = [];
    const back: [B, B][] = [];
    ops.forEach(({ buf, mode }, i) => {
      if (!buf) return void bufs.push(null);
      const overlaps = mode === 'out' && ops.some((o, j) => j !== i && o.buf !== null && overlap(o.buf, buf));
      if (buf.offset % 64 === 0 && !overlaps) return void bufs.push(buf);
      const bytes = buf.length * 4;
      if (bytes > this.maxBinding) throw new Error(`WebGPU: an unaligned or aliased operand of ${bytes} bytes is too large to stage`);
      while (this.stage.length <= i) this.stage.push(new Scratch(this.pool, `stage ${this.stage.length}`));
      const root: GpuRoot = this.stage[i].get(bytes);
      const staged = { kind: buf.kind, root, offset: 0, length: buf.length } as B;
      if (mode === 'in') this.copy(buf.root.buffer, buf.offset * 4, root.buffer, 0, bytes);
      else back.push([staged, buf]);
      this.stats.staged++;
      bufs.push(staged);
    });
    return {
      bufs,
      unstage: () => {
        for (const [s, d] of back) this.copy(s.root.buffer, 0, d.root.buffer, d.offset * 4, d.length * 4);
      },
    };
  }

  /** A float32 scratch handle of n elements (contents undefined), one growable buffer per label. */
  scratchF32(label: string, n: number): GpuBuf {
    let s = this.scratches.get(label);
    if (!s) {
      s = new Scratch(this.pool, label);
      this.scratches.set(label, s);
    }
    return { kind: 'f32', root: s.get(n * 4), offset: 0, length: n };
  }

  // ---- pipelines and dispatch --------------------------------------------------------------------

  /** Create the pipeline of (kernel, constants) now, for a dispatch that comes later (not mid-decode). */
  prepare(kernel: KernelName, constants: Constants): void {
    this.cache.pipeline(kernel, constants);
  }

  /** Record one dispatch of `kernel` with its Params fields, storage bindings and workgroup counts. */
  dispatch(kernel: KernelName, constants: Constants, params: readonly (number | F32Field)[], bound: readonly Bound[],
    groups: readonly [number, number?, number?]): void {
    const p = this.cache.pipeline(kernel, constants);
    if (bound.length !== p.buffers) throw new Error(`internal: ${kernel} binds ${p.buffers} buffers, got ${bound.length}`);
    if (this.ringUsed === RING_SLOTS) this.flush();
    const slot = this.ringUsed++;
    const w = (slot * SLOT) / 4;
    params.forEach((v, i) => {
      if (typeof v === 'number') this.ringU32[w + i] = v;
      else this.ringF32[w + i] = v.f32;
    });
    const bg = this.cache.bindGroup(p, this.ring, SLOT, bound);
    const prof = this.profiling;
    let pass: GPUComputePassEncoder;
    if (prof && prof.kernels.length < PROFILE_MAX) {
      this.endPass();
      const i = prof.kernels.length;
      prof.kernels.push(kernel);
      pass = this.pass = this.enc().beginComputePass({
        timestampWrites: { querySet: prof.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 },
      });
    } else {
      pass = this.computePass();
    }
    if (this.passPipeline !== p.pipeline) pass.setPipeline(p.pipeline);
    this.passPipeline = p.pipeline;
    pass.setBindGroup(0, bg, [slot * SLOT]);
    pass.dispatchWorkgroups(groups[0], groups[1] ?? 1, groups[2] ?? 1);
    if (prof) this.endPass();
    if (this.submitEvery > 0 && ++this.sinceSubmit >= this.submitEvery) this.flush();
  }

  /** Workgroup counts for a flattened 1-D grid of `n` workgroups (the kernels use gy·gx + gx). */
  grid(n: number): [number, number] {
    const max = 65535;
    if (n <= max) return [Math.max(n, 1), 1];
    const y = Math.ceil(n / max);
    return [Math.ceil(n / y), y];
  }

  // ---- the command stream ------------------------------------------------------------------------

  private enc(): GPUCommandEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    return this.encoder;
  }

  private computePass(): GPUComputePassEncoder {
    if (!this.pass) {
      const t = this.timed;
      if (t && this.timer) {
        // every timed pass writes the end stamp (the last one wins); only the first writes the start
        const querySet = this.timer.querySet;
        const timestampWrites: GPUComputePassTimestampWrites = t.first
          ? { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 }
          : { querySet, endOfPassWriteIndex: 1 };
        t.first = false;
        t.passes++;
        this.pass = this.enc().beginComputePass({ timestampWrites });
      } else {
        this.pass = this.enc().beginComputePass();
      }
    }
    return this.pass;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
    this.passPipeline = null;
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    if (bytes === 0) return;
    this.endPass();
    if (src === dst) {
      // copyBufferToBuffer refuses one buffer as both ends (ranges within the one activation
      // buffer, e.g. the last-position rows of ln_f): go through scratch
      const tmp = this.scratchF32('copy', bytes / 4).root.buffer;
      this.enc().copyBufferToBuffer(src, srcOffset, tmp, 0, bytes);
      this.enc().copyBufferToBuffer(tmp, 0, dst, dstOffset, bytes);
      return;
    }
    this.enc().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  clear(buf: GPUBuffer, offset: number, bytes: number): void {
    if (bytes === 0) return;
    this.endPass();
    this.enc().clearBuffer(buf, offset, bytes);
  }

  /** Submit everything recorded so far (with the uniform slots it uses). */
  flush(): void {
    this.endPass();
    if (!this.encoder) return;
    if (this.ringUsed > 0) this.device.queue.writeBuffer(this.ring, 0, this.ringData, 0, this.ringUsed * SLOT);
    this.device.queue.submit([this.encoder.finish()]);
    this.stats.submits++;
    this.encoder = null;
    this.ringUsed = 0;
    this.sinceSubmit = 0;
  }

  /** Host → GPU, after the work already recorded (which may read the old contents). */
  write(dst: GPUBuffer, byteOffset: number, data: ArrayBufferView): void {
    this.flush();
    const CHUNK = 64 << 20; // Dawn stages writeBuffer data; keep each staging copy modest
    const shared = !(data.buffer instanceof ArrayBuffer);
    for (let o = 0; o < data.byteLength; o += CHUNK) {
      const size = Math.min(CHUNK, data.byteLength - o);
      let part = new Uint8Array(data.buffer, data.byteOffset + o, size);
      // Dawn (node) crashes on views of a SharedArrayBuffer (the wasm heap that holds Params.data):
      // hand it a private copy of each chunk instead
      if (shared) part = new Uint8Array(part);
      this.device.queue.writeBuffer(dst, byteOffset + o, part);
    }
  }

  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    this.check();
  }

  /** GPU → host: `bytes` from `src` at `byteOffset`, after all recorded work. Reads are serialised. */
  async read(src: GPUBuffer, byteOffset: number, bytes: number): Promise<ArrayBuffer> {
    let release = (): void => {};
    const prev = this.readLock;
    this.readLock = new Promise((r) => (release = r));
    await prev;
    try {
      if (bytes === 0) return new ArrayBuffer(0);
      if (!this.readbackBuf || this.readbackBytes < bytes) {
        this.readbackBytes = BufferPool.sizeClass(Math.max(bytes, this.readbackBytes * 2));
        this.readbackBuf = this.pool.create(this.readbackBytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'readback');
      }
      const rb = this.readbackBuf;
      this.copy(src, byteOffset, rb, 0, bytes);
      this.flush();
      await rb.mapAsync(GPUMapMode.READ, 0, bytes);
      const out = rb.getMappedRange(0, bytes).slice(0);
      rb.unmap();
      this.check();
      return out;
    } finally {
      release();
    }
  }

  // ---- timing (benchmarks) -----------------------------------------------------------------------

  /** Start timing the GPU work recorded from now on (timestamp queries; needs `timestamps`). */
  beginTiming(): void {
    if (!this.timestamps) throw new Error('internal: this device has no timestamp-query');
    this.flush();
    this.timer ??= {
      querySet: this.device.createQuerySet({ type: 'timestamp', count: 2 }),
      resolve: this.pool.create(256, GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, 'timestamps'),
    };
    this.timed = { first: true, passes: 0 };
  }

  /** GPU nanoseconds from the start of the first timed pass to the end of the last one. */
  async endTiming(): Promise<number> {
    const t = this.timed;
    if (!t || !this.timer) throw new Error('internal: endTiming without beginTiming');
    this.endPass();
    this.timed = null;
    if (t.passes === 0) return 0;
    this.enc().resolveQuerySet(this.timer.querySet, 0, 2, this.timer.resolve, 0);
    const raw = new BigInt64Array(await this.read(this.timer.resolve, 0, 16));
    return Number(raw[1] - raw[0]);
  }

  /** Time every dispatch recorded from now on, each in its own pass (needs `timestamps`). */
  beginProfile(): void {
    if (!this.timestamps) throw new Error('internal: this device has no timestamp-query');
    this.flush();
    this.profiler ??= {
      querySet: this.device.createQuerySet({ type: 'timestamp', count: 2 * PROFILE_MAX }),
      resolve: this.pool.create(16 * PROFILE_MAX, GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, 'profile timestamps'),
    };
    this.profiling = { ...this.profiler, kernels: [] };
  }

  /** The GPU time of each dispatch since beginProfile (the first PROFILE_MAX of them). */
  async endProfile(): Promise<KernelTime[]> {
    const prof = this.profiling;
    if (!prof) throw new Error('internal: endProfile without beginProfile');
    this.endPass();
    this.profiling = null;
    const n = prof.kernels.length;
    if (n === 0) return [];
    this.enc().resolveQuerySet(prof.querySet, 0, 2 * n, prof.resolve, 0);
    const raw = new BigInt64Array(await this.read(prof.resolve, 0, 16 * n));
    return prof.kernels.map((kernel, i) => ({ kernel, ms: Number(raw[2 * i + 1] - raw[2 * i]) / 1e6 }));
  }

  destroy(): void {
    this.endPass();
    this.encoder = null;
    this.cache.clear();
    this.timer?.querySet.destroy();
    this.profiler?.querySet.destroy();
    this.pool.destroyAll();
  }
}

/** Do two handles share any bytes? */
function overlap(a: AnyGpuBuf, b: AnyGpuBuf): boolean {
  return a.root.buffer === b.root.buffer && a.offset < b.offset + b.length && b.offset < a.offset + a.length;
}
