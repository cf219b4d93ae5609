// The worker's program, as JavaScript source: workers are started with `eval: true`, so the same
// code runs from the TypeScript sources (Deno, tsx, vitest) and from the compiled dist/ without a
// separate worker file to locate or transpile. It instantiates the kernel module over the shared
// memory and serves jobs (protocol.ts) until told to quit. Kept small on purpose; the offsets are
// spliced in from protocol.ts so the two cannot drift.

import { ARGS, CTL_INTS, ERR, GEN, ITEMS, KERNEL, KERNELS, NEXT, NITEMS, QUIT, REM, callKernel } from './protocol.ts';

export function workerSource(): string {
  // id → [export name, layout], from the one table in protocol.ts
  const table: [string, string][] = [];
  for (const [name, k] of Object.entries(KERNELS)) table[k.id] = [name, k.layout];
  return `'use strict';
const { workerData } = require('node:worker_threads');
const { module: kernelModule, memory, ctlPtr, scratch, spinMs } = workerData;
const k = new WebAssembly.Instance(kernelModule, { env: { memory } }).exports;
const ctl = new Int32Array(memory.buffer, ctlPtr, ${CTL_INTS});
const KERNELS = ${JSON.stringify(table)}.map(([name, layout]) => [k[name], layout]);
const callKernel = ${callKernel.toString()};

// take one item of job \`gen\`, or -1 when none is left (or the job is no longer current)
function grab(gen) {
  for (;;) {
    const v = Atomics.load(ctl, ${NEXT});
    if ((v >>> 16) !== (gen & 0xffff)) return -1;
    const i = v & 0xffff;
    if (i >= Atomics.load(ctl, ${NITEMS})) return -1;
    if (Atomics.compareExchange(ctl, ${NEXT}, v, v + 1) === v) return i;
  }
}

for (;;) {
  const gen = Atomics.load(ctl, ${GEN});
  if (Atomics.load(ctl, ${QUIT})) break;
  for (let i = grab(gen); i >= 0; i = grab(gen)) {
    try {
      const [f, layout] = KERNELS[ctl[${KERNEL}]];
      callKernel(f, layout, ctl, ${ARGS}, ctl[${ITEMS} + 2 * i], ctl[${ITEMS} + 2 * i + 1], scratch);
    } catch (e) {
      Atomics.store(ctl, ${ERR}, 1);
    }
    if (Atomics.sub(ctl, ${REM}, 1) === 1) Atomics.notify(ctl, ${REM});
  }
  // wait for the next job: spin for spinMs, then sleep. Measured on the shared 2-core machine: a
  // 50 µs spin made every decode job (0.1–1 ms, with ~0.2 ms of attention between them) pay a
  // futex wake-up, and 2 threads decoded slower than 1; ~1 ms spins took CPU share from the main
  // thread when the machine was oversubscribed; 0.3 ms (the pool's default) bridges the gaps.
  const t0 = performance.now();
  for (let s = 1; Atomics.load(ctl, ${GEN}) === gen; s++) {
    if ((s & 255) === 0 && performance.now() - t0 > spinMs) break;
  }
  Atomics.wait(ctl, ${GEN}, gen);
}
`;
}
