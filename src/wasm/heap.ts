// The one WebAssembly.Memory every CPU kernel and worker thread sees: parameters, activations and
// the KV cache are allocated here, so a wasm kernel reads them in place (a pointer is the view's
// byteOffset) and worker threads share them without copies.
//
// Process-wide on purpose: a model's parameters are allocated (and filled by the loader) before any
// backend exists, and a worker can only read memory it was handed at start. The memory is shared
// (SharedArrayBuffer) where the runtime allows, otherwise plain (one thread).
//
// Allocator: first fit over a sorted free list, 64-byte aligned blocks, each followed by 64 bytes of
// slack so a kernel may read one vector past the end of a row without leaving memory. Blocks are
// freed explicitly (`free`) or when every array registered for the block is garbage collected
// (FinalizationRegistry on the array `allocF32` returned). Caveat: views (`subarray`) do not keep
// the block: keep the array you were given alive while you use views of it (Params.data,
// Activations.buffer and KVCache.buffer do).

import { envVar, wasmApi, type WasmMemory } from './api.ts';
import { wasmFeatures } from './features.ts';

const PAGE = 65536;
const ALIGN_BYTES = 64;
/** bytes kept after every block (one cache line: vector over-reads stay inside memory) */
const SLACK = 64;
/** wasm32 addresses 4 GiB at most */
export const MAX_PAGES = 65536;
/**
 * Without shared memory, growing a memory detaches every array already handed out; so a plain
 * heap is reserved once at this size (1 GiB, committed lazily by the OS) and never grows:
 * allocations that do not fit become plain arrays (the JS kernels read those).
 */
const PLAIN_PAGES = 16384;
/** the first bytes of memory are reserved (address 0 is never handed out) */
const RESERVED = 1024;

interface Block {
  id: number;
  start: number; // byte offset
  size: number; // bytes, including slack
  length: number; // floats handed out
  refs: number; // registered arrays still alive
}

export class WasmHeap {
  readonly memory: WasmMemory;
  readonly shared: boolean;
  /** every ArrayBuffer object this memory has had (growth replaces `memory.buffer`) */
  private readonly buffers = new WeakSet<ArrayBufferLike>();
  private free: [number, number][] = []; // [start, size] sorted by start, coalesced
  private top = RESERVED; // bytes in use from the bottom (everything above is unallocated)
  private highWater = RESERVED; // memory at and above this offset has never been handed out (zero)
  /** live blocks by start offset */
  private readonly blocks = new Map<number, Block>();
  private nextId = 1;
  /** held value: the block id (a start offset could be reused by a later block) */
  private readonly registry = new FinalizationRegistry<number>((id) => this.unref(id));
  private readonly byId = new Map<number, Block>();

  constructor(shared: boolean, initialPages = 16) {
    this.shared = shared;
    const wa = wasmApi();
    if (!wa) throw new Error('internal: WasmHeap without WebAssembly');
    this.memory = shared
      ? new wa.Memory({ initial: initialPages, maximum: MAX_PAGES, shared })
      : new wa.Memory({ initial: PLAIN_PAGES, maximum: PLAIN_PAGES });
    this.buffers.add(this.memory.buffer);
  }

  /** The memory's current buffer (a new object after growth; old views stay valid). */
  get buffer(): ArrayBufferLike {
    const b = this.memory.buffer;
    this.buffers.add(b);
    return b;
  }

  /** True when `a` is a view of this memory, so a kernel can address it by `a.byteOffset`. */
  contains(a: ArrayBufferView): boolean {
    if (this.buffers.has(a.buffer)) return true;
    // after a growth the newest buffer object may not have been seen yet
    if (a.buffer === this.memory.buffer) {
      this.buffers.add(a.buffer);
      return true;
    }
    return false;
  }

  /** A zero-filled Float32Array of n elements in this memory, or null when 4 GiB would not hold it. */
  allocF32(n: number): Float32Array | null {
    const bytes = Math.ceil((n * 4 + SLACK) / ALIGN_BYTES) * ALIGN_BYTES;
    const [start, fresh] = this.take(bytes);
    if (start < 0) return null;
    const b: Block = { id: this.nextId++, start, size: bytes, length: n, refs: 0 };
    this.blocks.set(start, b);
    this.byId.set(b.id, b);
    const a = new Float32Array(this.buffer, start, n);
    if (!fresh) a.fill(0); // a reused block holds old data; never-used memory is zero already
    this.track(a, b);
    return a;
  }

  /**
   * Explicit free of an array this heap returned (the whole array, not a view of part of it: a
   * partial view is ignored); later use of it, or of views of it, is a bug.
   */
  freeArray(a: Float32Array): void {
    if (!this.contains(a)) return;
    const b = this.blocks.get(a.byteOffset);
    if (b && b.length === a.length) this.drop(b);
  }

  private unref(id: number): void {
    const b = this.byId.get(id);
    if (b && --b.refs <= 0) this.drop(b);
  }

  private drop(b: Block): void {
    this.byId.delete(b.id);
    this.blocks.delete(b.start);
    this.give(b.start, b.size);
  }

  /** bytes handed out and not yet freed (for tests and reports) */
  get used(): number {
    let n = 0;
    for (const b of this.blocks.values()) n += b.size;
    return n;
  }

  private track(a: ArrayBufferView, b: Block): void {
    b.refs++;
    this.registry.register(a, b.id);
  }

  /** [start, fresh]: a block of `bytes` (start -1 when memory is full); fresh = never handed out before */
  private take(bytes: number): [number, boolean] {
    for (let i = 0; i < this.free.length; i++) {
      const [s, n] = this.free[i];
      if (n >= bytes) {
        if (n === bytes) this.free.splice(i, 1);
        else this.free[i] = [s + bytes, n - bytes];
        return [s, false];
      }
    }
    const start = this.top;
    const end = start + bytes;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      if (!this.shared) return [-1, false]; // growth would detach the arrays handed out
      // grow by what is missing, at least 1/8 of the current size (amortized growth), in pages
      const need = Math.ceil((end - have) / PAGE);
      const pages = Math.min(MAX_PAGES - have / PAGE, Math.max(need, Math.ceil(have / PAGE / 8)));
      if (pages < need) return [-1, false];
      try {
        this.memory.grow(pages);
      } catch {
        return [-1, false];
      }
      this.buffers.add(this.memory.buffer);
    }
    this.top = end;
    // memory below the high-water mark may have been used and returned to `top`: not fresh
    const fresh = start >= this.highWater;
    this.highWater = Math.max(this.highWater, end);
    return [start, fresh];
  }

  private give(start: number, size: number): void {
    let i = 0;
    while (i < this.free.length && this.free[i][0] < start) i++;
    this.free.splice(i, 0, [start, size]);
    // coalesce with neighbours
    if (i + 1 < this.free.length && this.free[i][0] + this.free[i][1] === this.free[i + 1][0]) {
      this.free[i][1] += this.free[i + 1][1];
      this.free.splice(i + 1, 1);
    }
    if (i > 0 && this.free[i - 1][0] + this.free[i - 1][1] === this.free[i][0]) {
      this.free[i - 1][1] += this.free[i][1];
      this.free.splice(i, 1);
      i--;
    }
    // a free run that ends at the top returns to the unallocated region
    const last = this.free[this.free.length - 1];
    if (last && last[0] + last[1] === this.top) {
      this.top = last[0];
      this.free.pop();
    }
  }
}

let theHeap: WasmHeap | null | undefined;

/**
 * The process-wide heap, created on first use: shared memory where the runtime has it, plain
 * memory otherwise; null where WebAssembly SIMD is missing (the JS kernels then use plain arrays).
 * Set GPT2TS_WASM=0 to keep every allocation in plain arrays (debugging, comparisons).
 */
export function wasmHeap(): WasmHeap | null {
  if (theHeap !== undefined) return theHeap;
  const f = wasmFeatures();
  theHeap = !f.simd || envVar('GPT2TS_WASM') === '0' ? null : new WasmHeap(f.sharedMemory);
  return theHeap;
}

/** A zero-filled Float32Array in the wasm heap when there is one and it has room, else a plain one. */
export function allocShared(n: number): Float32Array {
  return wasmHeap()?.allocF32(n) ?? new Float32Array(n);
}
