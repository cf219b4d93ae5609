// The worker's program, as JavaScript source: workers are started with `eval: true`, so the same
// code runs from the TypeScript sources (Deno, tsx, vitest) and from the compiled dist/ without a
// separate worker file to locate or transpile. It instantiates the kernel module over the shared
// memory and serves jobs (protocol.ts) until told to quit. Kept small on purpose; the offsets are
// spliced in from protocol.ts so the two cannot drift.

import { ARGS, CTL_INTS, ERR, GEN, ITEMS, KERNEL, KERNEL_IDS, NEXT, NITEMS, QUIT, REM } from './protocol.ts';

export function workerSource(): string {
  const K = KERNEL_IDS;
  return `'use strict';
const { workerData } = require('node:worker_threads');
const { module: kernelModule, memory, ctlPtr, scratch, spinMs } = workerData;
const k = new WebAssembly.Instance(kernelModule, { env: { memory } }).exports;
const ctl = new Int32Array(memory.buffer, ctlPtr, ${CTL_INTS});

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

function run(i) {
  const a = ${ARGS}, n0 = ctl[${ITEMS} + 2 * i], n1 = ctl[${ITEMS} + 2 * i + 1];
  switch (ctl[${KERNEL}]) {
    case ${K.gemm_nnp}:
      k.gemm_nnp(ctl[a], ctl[a + 1], ctl[a + 2], ctl[a + 3], ctl[a + 4], ctl[a + 5], ctl[a + 6], n0, n1, ctl[a + 7], ctl[a + 8], scratch, ctl[a + 9]);
      break;
    case ${K.gemm_nt}:
      k.gemm_nt(ctl[a], ctl[a + 1], ctl[a + 2], ctl[a + 3], ctl[a + 4], ctl[a + 5], ctl[a + 6], n0, n1, ctl[a + 7], ctl[a + 8]);
      break;
    case ${K.gemv_nt}:
      k.gemv_nt(ctl[a], ctl[a + 1], ctl[a + 2], ctl[a + 3], ctl[a + 4], ctl[a + 5], ctl[a + 6], n0, n1, ctl[a + 7], ctl[a + 8]);
      break;
    case ${K.gemm_dd}:
      k.gemm_dd(ctl[a], ctl[a + 1], ctl[a + 2], ctl[a + 3], ctl[a + 4], ctl[a + 5], n0, n1, ctl[a + 6], ctl[a + 7], ctl[a + 8]);
      break;
    case ${K.gemv_nn}:
      k.gemv_nn(ctl[a], ctl[a + 1], ctl[a + 2], ctl[a + 3], ctl[a + 4], ctl[a + 5], n0, n1, ctl[a + 6], scratch);
      break;
    default:
      throw new Error('unknown kernel ' + ctl[${KERNEL}]);
  }
}

for (;;) {
  const gen = Atomics.load(ctl, ${GEN});
  if (Atomics.load(ctl, ${QUIT})) break;
  for (let i = grab(gen); i >= 0; i = grab(gen)) {
    try {
      run(i);
    } catch (e) {
      Atomics.store(ctl, ${ERR}, 1);
    }
    if (Atomics.sub(ctl, ${REM}, 1) === 1) Atomics.notify(ctl, ${REM});
  }
  // wait for the next job: spin for spinMs (the jobs of a forward pass come back to back, and
  // waking a sleeping thread costs tens of µs), then sleep. Short on purpose: on an oversubscribed
  // machine a spinning worker takes CPU share from the main thread.
  const t0 = performance.now();
  for (let s = 1; Atomics.load(ctl, ${GEN}) === gen; s++) {
    if ((s & 255) === 0 && performance.now() - t0 > spinMs) break;
  }
  Atomics.wait(ctl, ${GEN}, gen);
}
`;
}
