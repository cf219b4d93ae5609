// GPU buffer handles, the buffer pool and the readback buffer.
//
// A handle (GpuBuf for float32, GpuIntBuf for int32) is a range [offset, offset + length) in
// elements of one pooled GPUBuffer (its root). `view` cuts sub-ranges without copying, exactly like
// Float32Array.subarray on the CPU. Freed roots go back to the pool by size, so a steady-state decode
// creates and destroys no GPUBuffer at all (the pool never destroys before dispose).
//
// Dawn on lavapipe has crashed after destroy / map-readback cycles between submits, so readback uses
// one MAP_READ buffer that only grows, and buffers are only destroyed at dispose.

/** One GPUBuffer handed out by the pool. */
export interface GpuRoot {
  readonly buffer: GPUBuffer;
  /** unique per GPUBuffer (bind groups are cached by it) */
  readonly id: number;
  readonly bytes: number;
  freed: boolean;
}

/** float32 elements [offset, offset + length) of a root */
export interface GpuBuf {
  readonly kind: 'f32';
  readonly root: GpuRoot;
  readonly offset: number;
  readonly length: number;
}

/** int32 elements [offset, offset + length) of a root (token ids, masks, argmax results) */
export interface GpuIntBuf {
  readonly kind: 'i32';
  readonly root: GpuRoot;
  readonly offset: number;
  readonly length: number;
}

export type AnyGpuBuf = GpuBuf | GpuIntBuf;

/** Counters the leak tests and the benchmark read. */
export interface GpuStats {
  buffersCreated: number;
  buffersDestroyed: number;
  pipelines: number;
  shaderModules: number;
  bindGroupsCreated: number;
  submits: number;
  /** operands copied through scratch because they were unaligned or overlapped an output */
  staged: number;
}

export function newStats(): GpuStats {
  return { buffersCreated: 0, buffersDestroyed: 0, pipelines: 0, shaderModules: 0, bindGroupsCreated: 0, submits: 0, staged: 0 };
}

/** GPUBuffers currently alive (created and not destroyed). */
export function liveBuffers(s: GpuStats): number {
  return s.buffersCreated - s.buffersDestroyed;
}

let nextId = 1;

/** Storage buffers, pooled by size (rounded up to 256 bytes). */
export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly all: GPUBuffer[] = [];
  private readonly ids = new WeakMap<GPUBuffer, number>();

  constructor(private readonly device: GPUDevice, private readonly stats: GpuStats, private readonly maxBufferSize: number) {}

  static sizeClass(bytes: number): number {
    return Math.max(256, Math.ceil(bytes / 256) * 256);
  }

  /** A root of at least `bytes`; `fresh` tells whether its contents are the GPU's zero fill. */
  acquire(bytes: number, label: string): { root: GpuRoot; fresh: boolean } {
    const size = BufferPool.sizeClass(bytes);
    if (size > this.maxBufferSize) {
      throw new Error(`WebGPU: a buffer of ${size} bytes exceeds this device's maxBufferSize (${this.maxBufferSize})`);
    }
    const list = this.free.get(size);
    const reused = list?.pop();
    if (reused) return { root: { buffer: reused, id: this.ids.get(reused) ?? 0, bytes: size, freed: false }, fresh: false };
    const buffer = this.create(size, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, label);
    return { root: { buffer, id: this.ids.get(buffer) ?? 0, bytes: size, freed: false }, fresh: true };
  }

  release(root: GpuRoot): void {
    if (root.freed) throw new Error('WebGPU: buffer freed twice');
    root.freed = true;
    const list = this.free.get(root.bytes);
    if (list) list.push(root.buffer);
    else this.free.set(root.bytes, [root.buffer]);
  }

  /** Any other buffer the backend keeps (uniform ring, scratch, readback), counted in the stats. */
  create(size: number, usage: number, label: string): GPUBuffer {
    const buffer = this.device.createBuffer({ size, usage, label });
    this.ids.set(buffer, nextId++);
    this.all.push(buffer);
    this.stats.buffersCreated++;
    return buffer;
  }

  idOf(buffer: GPUBuffer): number {
    return this.ids.get(buffer) ?? 0;
  }

  destroyAll(): void {
    for (const b of this.all) b.destroy();
    this.stats.buffersDestroyed += this.all.length;
    this.all.length = 0;
    this.free.clear();
  }
}

/**
 * Growable scratch space (staging copies, the unfused attention's score matrix). Outgrown buffers
 * are kept until dispose rather than destroyed mid-stream (see the header).
 */
export class Scratch {
  private buffer: GPUBuffer | null = null;
  private bytes = 0;

  constructor(private readonly pool: BufferPool, private readonly label: string) {}

  /** A root of at least `bytes` (contents undefined). */
  get(bytes: number): GpuRoot {
    if (!this.buffer || this.bytes < bytes) {
      this.bytes = BufferPool.sizeClass(Math.max(bytes, this.bytes * 2));
      this.buffer = this.pool.create(this.bytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, this.label);
    }
    return { buffer: this.buffer, id: this.pool.idOf(this.buffer), bytes: this.bytes, freed: false };
  }
}
