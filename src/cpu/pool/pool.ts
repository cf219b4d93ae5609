// The CPU worker pool: threads that share the wasm heap (one shared WebAssembly.Memory) and run
// kernel jobs split into column ranges. The main thread posts a job, works on it too, and returns
// when every item is done, so `run` is synchronous like the rest of the CPU backend.
//
// Workers start once (node:worker_threads, in Node and in Deno), are unref'd so they never keep
// the process alive, spin ~0.3 ms between jobs (a forward pass posts them back to back) and then
// sleep on Atomics.wait. One pool per process and thread count, shared by every CpuBackend and
// terminated when the last backend using it is disposed.

import { availableParallelism, cpus } from 'node:os';
import { Worker } from 'node:worker_threads';
import { TN_SCRATCH_BYTES } from '../../wasm/gemm-tn.ts';
import type { KernelModule } from '../../wasm/kernels.ts';
import type { WasmHeap } from '../../wasm/heap.ts';
import { ARGS, CTL_INTS, ERR, GEN, ITEMS, KERNEL, KERNELS, type KernelName, MAX_ITEMS, NARGS, NEXT, NITEMS, QUIT, REM, callKernel } from './protocol.ts';
import { workerSource } from './worker-source.ts';

/**
 * Bytes of scratch per thread: the packed GEMM's 4 panels of (KC/4 + 3) chunks × 64 B at
 * KC ≤ MAX_KC (66 KiB), which also holds the GEMV's 4 partial-sum arrays (8 KiB); the backward's
 * weight-gradient GEMM's packed blocks (gemm-tn.ts, ≈ 1.1 MiB) are the largest user.
 */
export const MAX_KC = 1024;
export const SCRATCH_BYTES = Math.max(4 * (MAX_KC / 4 + 3) * 64, TN_SCRATCH_BYTES);

/** jobs run on the calling thread alone after the contention guard trips (≈ 2 decode tokens) */
const SERIAL_JOBS = 100;

/** Cores this process may use: os.availableParallelism() where it exists, else the CPU count. */
export function coreCount(): number {
  try {
    return Math.max(1, typeof availableParallelism === 'function' ? availableParallelism() : cpus().length);
  } catch {
    return 1;
  }
}

export class WorkerPool {
  /** threads working on a job, the main thread included */
  readonly threads: number;
  private readonly km: KernelModule;
  private readonly ctl: Int32Array;
  private readonly workers: Worker[] = [];
  /** heap arrays the workers address by byteOffset (control block, their scratch): kept alive here */
  private readonly keep: Float32Array[] = [];
  /** the main thread's packing scratch */
  private readonly mainScratch: Float32Array;
  private gen = 0;
  private disposed = false;
  // contention guard (see run): straggler strikes, and jobs left to run on this thread alone
  private strikes = 0;
  private serialLeft = 0;
  /** jobs run across threads / on the calling thread alone because of the contention guard */
  readonly stats = { parallel: 0, serialBackoff: 0, workedMs: 0, waitedMs: 0 };

  constructor(heap: WasmHeap, km: KernelModule, threads: number, spinMs = 0.3) {
    const ctlBuf = heap.allocF32(CTL_INTS);
    if (!ctlBuf) throw new Error('gpt2ts: no room in the wasm heap for the worker pool');
    this.km = km;
    this.ctl = new Int32Array(ctlBuf.buffer, ctlBuf.byteOffset, CTL_INTS);
    this.keep.push(ctlBuf);
    const src = workerSource();
    let started = 1;
    for (let t = 1; t < threads; t++) {
      const s = heap.allocF32(SCRATCH_BYTES / 4);
      if (!s) break;
      this.keep.push(s);
      const w = new Worker(src, {
        eval: true,
        workerData: { module: km.module, memory: heap.memory, ctlPtr: this.ctl.byteOffset, scratch: s.byteOffset, spinMs },
      });
      w.unref();
      // a worker that dies cannot finish its item: the pool is dead, later runs go single-threaded
      w.on('error', (e: unknown) => {
        process.stderr.write(`gpt2ts: CPU worker failed (${e instanceof Error ? e.message : String(e)}); continuing on one thread\n`);
        this.disposed = true;
      });
      this.workers.push(w);
      started++;
    }
    const main = heap.allocF32(SCRATCH_BYTES / 4);
    if (!main) throw new Error('gpt2ts: no room in the wasm heap for the worker pool');
    this.mainScratch = main;
    this.threads = started;
  }

  /**
   * Run `kernel` over column ranges `items` ((n0, n1) pairs), with `args` as in protocol.ts.
   * Returns when every item is done. Throws if a kernel failed.
   */
  run(kernel: KernelName, args: readonly number[], items: readonly (readonly [number, number])[]): void {
    if (items.length > MAX_ITEMS || args.length > NARGS) throw new Error('internal: job too large for the pool');
    if (this.workers.length === 0 || this.disposed || items.length === 1) {
      for (const [n0, n1] of items) this.call(kernel, args, n0, n1);
      return;
    }
    if (this.serialLeft > 0) {
      this.serialLeft--;
      this.stats.serialBackoff++;
      for (const [n0, n1] of items) this.call(kernel, args, n0, n1);
      return;
    }
    this.stats.parallel++;
    const t0 = performance.now();
    const ctl = this.ctl;
    ctl[KERNEL] = KERNELS[kernel].id;
    for (let i = 0; i < args.length; i++) ctl[ARGS + i] = args[i];
    for (let i = 0; i < items.length; i++) {
      ctl[ITEMS + 2 * i] = items[i][0];
      ctl[ITEMS + 2 * i + 1] = items[i][1];
    }
    ctl[NITEMS] = items.length;
    ctl[ERR] = 0;
    Atomics.store(ctl, REM, items.length);
    this.gen = (this.gen + 1) & 0x3fffffff;
    Atomics.store(ctl, NEXT, (this.gen & 0xffff) << 16);
    Atomics.store(ctl, GEN, this.gen);
    Atomics.notify(ctl, GEN);
    // work on it here too
    for (;;) {
      const v = Atomics.load(ctl, NEXT);
      const i = v & 0xffff;
      if (i >= items.length) break;
      if (Atomics.compareExchange(ctl, NEXT, v, v + 1) !== v) continue;
      try {
        this.call(kernel, args, items[i][0], items[i][1]);
      } finally {
        Atomics.sub(ctl, REM, 1);
      }
    }
    // wait for the workers' last items
    const t1 = performance.now();
    for (let s = 0; Atomics.load(ctl, REM) !== 0; s++) {
      if (s > 2000) {
        const r = Atomics.load(ctl, REM);
        if (r !== 0) Atomics.wait(ctl, REM, r, 20);
        if (this.disposed) throw new Error('gpt2ts: a CPU worker died during a job');
      }
    }
    if (ctl[ERR]) throw new Error(`gpt2ts: the ${kernel} kernel failed in a worker thread`);
    this.guard(t1 - t0, performance.now() - t1);
  }

  /**
   * Contention guard. Fork-join loses when the machine is oversubscribed: a worker descheduled in
   * the middle of an item stalls the whole job for a scheduler slice (ms). When the main thread
   * waits for stragglers longer than it worked, three times in a row (more or less), the next
   * SERIAL_JOBS jobs run on the calling thread alone; then threads are tried again.
   */
  private guard(worked: number, waited: number): void {
    this.stats.workedMs += worked;
    this.stats.waitedMs += waited;
    if (waited > 0.2 && waited > worked) this.strikes++;
    else this.strikes = Math.max(0, this.strikes - 0.5);
    if (this.strikes >= 3) {
      this.strikes = 0;
      this.serialLeft = SERIAL_JOBS;
    }
  }

  /** the kernel call on this thread, with this thread's scratch */
  private call(kernel: KernelName, a: readonly number[], n0: number, n1: number): void {
    const f = this.km.kernels[kernel] as (...x: number[]) => void;
    callKernel(f, KERNELS[kernel].layout, a, 0, n0, n1, this.mainScratch.byteOffset);
  }

  /** Stop the workers (they finish the job they are in; there is none between runs). */
  dispose(): void {
    if (this.workers.length === 0) return;
    Atomics.store(this.ctl, QUIT, 1);
    this.gen = (this.gen + 1) & 0x3fffffff;
    Atomics.store(this.ctl, GEN, this.gen);
    Atomics.notify(this.ctl, GEN);
    for (const w of this.workers) void w.terminate();
    this.workers.length = 0;
    this.disposed = true;
  }
}

interface Shared {
  pool: WorkerPool;
  refs: number;
}
const pools = new Map<string, Shared>();

/** The process's pool for this kernel module and thread count (started on first use). */
export function acquirePool(heap: WasmHeap, km: KernelModule, threads: number): WorkerPool {
  const key = `${threads}:${JSON.stringify(km.options)}`;
  const hit = pools.get(key);
  if (hit) {
    hit.refs++;
    return hit.pool;
  }
  const pool = new WorkerPool(heap, km, threads);
  pools.set(key, { pool, refs: 1 });
  return pool;
}

/** Give the pool back; the last user's release terminates its workers. */
export function releasePool(pool: WorkerPool): void {
  for (const [key, s] of pools) {
    if (s.pool !== pool) continue;
    if (--s.refs <= 0) {
      pool.dispose();
      pools.delete(key);
    }
    return;
  }
}
