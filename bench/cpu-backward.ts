// Matmul backward (dinp, dW, dbias) at the 124M training shapes (B·T = 256 rows): the engine's
// wasm rung (float32: dinp on gemm_nt / gemm_nnp with accumulate, dW on gemm_tn; see
// src/cpu/matmul-backward.ts) against PyTorch's float32 OpenBLAS backward of the same products,
// timed in the same run.
//
//   npx tsx bench/cpu-backward.ts [--min-time S] [--no-torch]
//
// GFLOP/s count 4·M·K·N (two products of 2·M·K·N). Prints a table; writes nothing.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CpuBackend } from '../src/cpu/backend.ts';

const argv = process.argv.slice(2);
const at = argv.indexOf('--min-time');
const minTime = (at >= 0 ? Number(argv[at + 1]) : 1.5) * 1000;
const be = new CpuBackend();
console.log(`engine: ${be.description}`);

function fill(a: Float32Array, seed: number): Float32Array {
  let x = seed * 2654435761 >>> 0 || 1;
  for (let i = 0; i < a.length; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; a[i] = x / 2 ** 32 - 0.5; }
  return a;
}
function median(f: () => void): number {
  // 5 untimed runs: the matmul Chooser (matmul-wasm.ts) tries each shape serially in its 3rd and 4th
  for (let i = 0; i < 5; i++) f();
  const xs: number[] = [];
  const end = performance.now() + minTime;
  while (performance.now() < end || xs.length < 3) {
    const t = performance.now();
    f();
    xs.push(performance.now() - t);
  }
  xs.sort((a, b) => a - b);
  return xs[xs.length >> 1];
}

const M = 256;
for (const [K, N, transW] of [[768, 2304, false], [768, 768, false], [768, 3072, false], [3072, 768, false], [768, 50257, true]] as const) {
  const inp = fill(be.allocF32(M * K), 1), w = fill(be.allocF32(K * N), 2), dout = fill(be.allocF32(M * N), 3);
  const dinp = be.allocF32(M * K), dw = be.allocF32(K * N), db = transW ? null : be.allocF32(N);
  const ms = median(() => be.matmulBackward(dinp, dw, db, dout, inp, w, M, K, N, transW));
  let torchMs = NaN;
  if (!argv.includes('--no-torch')) {
    const r = spawnSync('/usr/bin/python3', [fileURLToPath(new URL('./torch_backward.py', import.meta.url)), String(M), String(K), String(N),
      transW ? '1' : '0', String(minTime / 1000)], { encoding: 'utf8' });
    try { torchMs = (JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as { ms: number }).ms; } catch { /* no torch */ }
  }
  const gf = (t: number): string => (4 * M * K * N / t / 1e6).toFixed(1);
  console.log(`${M}×${K}×${N}${transW ? ' (lm-head, W (N,K))' : ''}: engine ${ms.toFixed(1)} ms (${gf(ms)} GFLOP/s)` +
    (Number.isNaN(torchMs) ? '' : `, PyTorch ${torchMs.toFixed(1)} ms (${gf(torchMs)} GFLOP/s), ratio ${(ms / torchMs).toFixed(2)}×`));
  for (const b of [inp, w, dout, dinp, dw]) be.free(b);
}
be.dispose();
