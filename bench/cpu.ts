// CPU benchmark: matmul GFLOP/s at GPT-2 124M shapes for every rung of the engine's ladder and its
// peers, then forward and decode tokens/s of a random-weight 124M model, engine vs PyTorch.
// Every peer is timed in the same run, interleaved shape by shape (the machine is shared and noisy:
// read the ratios, not the absolute numbers). Writes bench/results/cpu.json and cpu.svg.
//
//   npx tsx bench/cpu.ts [--quick] [--no-torch] [--no-peers] [--no-model] [--min-time S] [--out DIR] [--name cpu]
//   npx deno run -A --no-check bench/cpu.ts --name cpu-deno      (Deno: relaxed-SIMD FMA)
//
// Rungs: naive JS (the reference), blocked JS (1 thread), wasm SIMD on 1 thread, wasm SIMD on the
// pool (the default CpuBackend); peers: PyTorch eager (2 threads), onnxruntime-node (MLAS, 2
// threads), tfjs-backend-wasm (XNNPACK, 1 thread). Medians of the samples are reported.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CpuBackend } from '../src/cpu/backend.ts';
import { matmulForwardBlocked } from '../src/cpu/matmul-blocked.ts';
import { matmulForwardNaive } from '../src/cpu/matmul.ts';
import { makeConfig } from '../src/config.ts';
import { allocActivations } from '../src/model/activations.ts';
import { gpt2Forward, uploadParams } from '../src/model/gpt2.ts';
import { allocKVCache } from '../src/model/kvcache.ts';
import { randomParams } from '../src/params.ts';
import { wasmFeatures } from '../src/wasm/features.ts';
import { loadOrt, loadTfWasm, ortMatmul, tfMatmul } from './cpu-peers.ts';
import { type Panel, svgChart } from './cpu-svg.ts';
import { TorchServer } from './cpu-torch.ts';

const argv = process.argv.slice(2);
const flag = (f: string): boolean => argv.includes(f);
const opt = (f: string, d: string): string => {
  const i = argv.indexOf(f);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : d;
};
const quick = flag('--quick');
const minTime = Number(opt('--min-time', quick ? '0.25' : '0.6')) * 1000; // ms per rung per shape
const outDir = opt('--out', fileURLToPath(new URL('./results/', import.meta.url)));
const outName = opt('--name', 'cpu'); // files <name>.json and <name>.svg

// ---- timing ----
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
/**
 * Cores the engine actually got while the pool rung ran: process CPU time / wall time. On a shared
 * machine this shows whether the second core was free (≈ 2) or taken by others (≈ 1).
 */
const coresUsed: number[] = [];
/** samples (ms) of fn over about `budget` ms, after a warm-up call; at least `least` samples */
function sample(fn: () => void, budget: number, least = 3, trackCores = false): number[] {
  fn();
  const out: number[] = [];
  const c0 = process.cpuUsage(), w0 = performance.now();
  const end = w0 + budget;
  while (out.length < least || (performance.now() < end && out.length < 500)) {
    const t = performance.now();
    fn();
    out.push(performance.now() - t);
  }
  if (trackCores) {
    const c = process.cpuUsage(c0);
    coresUsed.push((c.user + c.system) / 1000 / (performance.now() - w0));
  }
  return out;
}
function loadAvg(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  } catch {
    return '?';
  }
}
async function sampleAsync(fn: () => Promise<unknown>, budget: number, least = 3): Promise<number[]> {
  await fn();
  const out: number[] = [];
  const end = performance.now() + budget;
  while (out.length < least || (performance.now() < end && out.length < 500)) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- machine ----
function cpuGHz(): number {
  try {
    const m = /cpu MHz\s*:\s*([\d.]+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return Number(m[1]) / 1000;
  } catch { /* not Linux */ }
  return cpus()[0]?.speed ? cpus()[0].speed / 1000 : 0;
}
const be = new CpuBackend();
const be1 = new CpuBackend({ threads: 1 });
const cores = be.threads;
const ghz = cpuGHz();
const f = wasmFeatures();
// f32x4 peak: 2 FMA (or mul + add) pipes × 4 lanes × 2 flops per cycle per core (Zen 4 class)
const simdPeak = cores * 16 * ghz;
const machine = {
  cpu: cpus()[0]?.model ?? '?', cores, ghz, memGiB: Math.round(totalmem() / 2 ** 30),
  runtime: typeof (globalThis as { Deno?: unknown }).Deno !== 'undefined' ? 'deno' : 'node',
  node: process.version, v8: process.versions.v8, wasm: f, engine: be.description,
};
const date = new Date().toISOString();
const loadStart = loadAvg();
console.log(`gpt2ts CPU bench — ${date}\n${machine.cpu}, ${cores} cores @ ${ghz.toFixed(2)} GHz, ${machine.memGiB} GiB; Node ${machine.node} (V8 ${machine.v8})`);
console.log(`engine: ${be.description}; f32x4 peak ≈ ${simdPeak.toFixed(0)} GFLOP/s on ${cores} cores`);

// ---- peers ----
const torch = flag('--no-torch') ? 'skipped (--no-torch)' : await TorchServer.start('/usr/bin/python3', cores);
const torchInfo = typeof torch === 'string' ? torch : await torch.request({ op: 'info' });
console.log(`PyTorch: ${JSON.stringify(torchInfo)}`);
const ort = flag('--no-peers') ? 'skipped (--no-peers)' : loadOrt();
const tf = flag('--no-peers') ? 'skipped (--no-peers)' : await loadTfWasm();
console.log(`onnxruntime-node: ${typeof ort === 'string' ? ort : 'loaded'}; tfjs-backend-wasm: ${typeof tf === 'string' ? tf : 'loaded (1 thread)'}`);

// ---- matmul shapes ----
interface Shape { M: number; K: number; N: number; transW: boolean; label: string }
const shapes: Shape[] = [];
for (const M of quick ? [1, 64] : [1, 64, 512]) {
  for (const [K, N] of [[768, 768], [768, 2304], [768, 3072], [3072, 768]]) shapes.push({ M, K, N, transW: false, label: `${M}×${K}×${N}` });
}
shapes.push({ M: 1, K: 768, N: 50257, transW: true, label: '1×768×50257 lm-head' });

const RUNGS = ['engine', 'wasm1', 'blockedJS', 'naiveJS', 'pytorch', 'ort', 'tfjs1'] as const;
type Rung = (typeof RUNGS)[number];
const RUNG_NAMES: Record<Rung, string> = {
  engine: `engine wasm, ${cores} threads`, wasm1: 'engine wasm, 1 thread', blockedJS: 'engine blocked JS, 1 thread',
  naiveJS: 'engine naive JS (reference)', pytorch: `PyTorch ${cores} threads`, ort: `onnxruntime-node ${cores} threads`, tfjs1: 'tfjs-wasm, 1 thread',
};
interface MatmulRow { shape: Shape; flops: number; bytes: number; gflops: Partial<Record<Rung, number>>; ms: Partial<Record<Rung, number>> }
const rows: MatmulRow[] = [];

function fillRandom(a: Float32Array, seed: number): void {
  let x = seed * 2654435761 >>> 0 || 1;
  for (let i = 0; i < a.length; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    a[i] = x / 2 ** 32 - 0.5;
  }
}

for (const s of shapes) {
  const { M, K, N, transW } = s;
  const a = be.allocF32(M * K), w = be.allocF32(K * N), out = be.allocF32(M * N);
  const bias = transW ? null : be.allocF32(N);
  fillRandom(a, 1); fillRandom(w, 2); if (bias) fillRandom(bias, 3);
  const flops = 2 * M * K * N, bytes = 4 * (M * K + K * N + M * N + (bias ? N : 0));
  const row: MatmulRow = { shape: s, flops, bytes, gflops: {}, ms: {} };
  const samples: Partial<Record<Rung, number[]>> = {};
  const add = (r: Rung, xs: number[]): void => { (samples[r] ??= []).push(...xs); };
  const ortRun = typeof ort === 'string' ? null : await ortMatmul(ort, cores, M, K, N, transW, a.slice(), w.slice(), bias?.slice() ?? null);
  const tfRun = typeof tf === 'string' ? null : tfMatmul(tf, M, K, N, transW, a.slice(), w.slice(), bias?.slice() ?? null);
  // two interleaved rounds over the rungs
  for (let round = 0; round < 2; round++) {
    add('engine', sample(() => be.matmulForward(out, a, w, bias, M, K, N, transW), minTime / 2, 3, true));
    if (typeof torch !== 'string') add('pytorch', (await torch.request<{ ms: number[] }>({ op: 'matmul', M, K, N, transW, minTime: minTime / 2000 })).ms);
    if (ortRun) add('ort', await sampleAsync(ortRun.run, minTime / 2));
    await pause(5); // let the pool's workers go to sleep between peers
    add('wasm1', sample(() => be1.matmulForward(out, a, w, bias, M, K, N, transW), minTime / 2));
    if (tfRun) add('tfjs1', sample(tfRun.run, minTime / 2));
    if (round === 0) {
      // the JS rungs once (slow); naive only where one call takes a few seconds at most
      add('blockedJS', sample(() => matmulForwardBlocked(out, a, w, bias, M, K, N, transW), minTime / 2, 1));
      if (flops <= 1.3e9) add('naiveJS', sample(() => matmulForwardNaive(out, a, w, bias, M, K, N, transW), minTime / 2, 1));
    }
  }
  await ortRun?.close();
  tfRun?.close();
  for (const r of RUNGS) {
    const xs = samples[r];
    if (!xs?.length) continue;
    row.ms[r] = median(xs);
    row.gflops[r] = flops / row.ms[r] / 1e6;
  }
  rows.push(row);
  const g = row.gflops;
  const ratio = (x?: number, y?: number): string => (x && y ? `${(x / y).toFixed(2)}×` : '—');
  console.log(`${s.label.padEnd(22)} engine ${g.engine?.toFixed(1).padStart(6)} GF/s | 1T ${g.wasm1?.toFixed(1).padStart(5)} | JS ${g.blockedJS?.toFixed(2).padStart(5)} | naive ${g.naiveJS?.toFixed(2).padStart(5) ?? '    —'} | torch ${g.pytorch?.toFixed(1).padStart(5) ?? '—'} | ORT ${g.ort?.toFixed(1).padStart(5) ?? '—'} | tfjs1T ${g.tfjs1?.toFixed(1).padStart(5) ?? '—'} || vs torch ${ratio(g.engine, g.pytorch)}, vs ORT ${ratio(g.engine, g.ort)}, 1T vs tfjs ${ratio(g.wasm1, g.tfjs1)}`);
}

// roofline notes
console.log('\nroofline (engine, default backend):');
for (const r of rows) {
  const gf = r.gflops.engine ?? 0;
  const note = r.shape.M === 1
    ? `${(r.bytes / (r.ms.engine ?? 1) / 1e6).toFixed(1)} GB/s streamed (memory-bound: ${(r.flops / r.bytes).toFixed(2)} flop/byte)`
    : `${(100 * gf / simdPeak).toFixed(0)}% of the ${simdPeak.toFixed(0)} GFLOP/s f32x4 peak (${(r.flops / r.bytes).toFixed(0)} flop/byte)`;
  console.log(`  ${r.shape.label.padEnd(22)} ${(r.flops / 1e6).toFixed(1).padStart(8)} MFLOP ${(r.bytes / 1e6).toFixed(1).padStart(7)} MB  ${gf.toFixed(1).padStart(6)} GFLOP/s  ${note}`);
}

// ---- model: forward (B=1, T=64, all logits) and decode (KV cache) on the 124M shape ----
interface ModelResult { engineTokS?: number; engine1TokS?: number; engineBf16TokS?: number; pytorchTokS?: number }
const model: { forward: ModelResult; decode: ModelResult; note: string } = { forward: {}, decode: {}, note: '' };
if (!flag('--no-model')) {
  const cfg = makeConfig();
  const T = 64, PROMPT = 8, STEPS = quick ? 16 : 32;
  process.stdout.write(`\nmodel: random 124M-shape GPT-2 (V ${cfg.vocabSize}, C ${cfg.nEmbd}, L ${cfg.nLayer}, NH ${cfg.nHead}); building… `);
  const t0 = performance.now();
  const params = randomParams(cfg, 1);
  console.log(`${((performance.now() - t0) / 1000).toFixed(1)} s`);
  if (typeof torch !== 'string') await torch.request({ op: 'model', V: cfg.vocabSize, P: cfg.nPositions, C: cfg.nEmbd, L: cfg.nLayer, NH: cfg.nHead, seed: 1 });

  const engineRuns = (b: CpuBackend): { forward: () => void; decode: () => number } => {
    const dev = uploadParams(b, params);
    const ids = b.allocI32(T);
    for (let i = 0; i < T; i++) ids[i] = (i * 7919) % cfg.vocabSize;
    const acts = allocActivations(b, cfg, { B: 1, T, perLayer: false, keepHidden: false, allLogits: true });
    const actsDec = allocActivations(b, cfg, { B: 1, T: PROMPT, perLayer: false, keepHidden: false, allLogits: false });
    const cache = allocKVCache(b, cfg, 1, PROMPT + STEPS);
    const one = b.allocI32(1);
    return {
      forward: () => { gpt2Forward(b, dev, acts, ids, 1, T, { logits: 'all' }); },
      // prefill (untimed), then STEPS single-token steps with the cache: returns their ms
      decode: () => {
        cache.length = 0;
        gpt2Forward(b, dev, actsDec, ids.subarray(0, PROMPT), 1, PROMPT, { cache, logits: 'last' });
        const t = performance.now();
        for (let s = 0; s < STEPS; s++) {
          one[0] = s % 1000;
          gpt2Forward(b, dev, actsDec, one, 1, 1, { cache, logits: 'last' });
        }
        return performance.now() - t;
      },
    };
  };
  const beBf16 = new CpuBackend({ weights: 'bf16' });
  const eng = engineRuns(be), eng1 = engineRuns(be1), engB = engineRuns(beBf16);
  const fwd: number[] = [], fwd1: number[] = [], dec: number[] = [], dec1: number[] = [], decB: number[] = [];
  let torchFwd: number[] = [], torchDec: number[] = [];
  for (let round = 0; round < 2; round++) {
    fwd.push(...sample(eng.forward, quick ? 1000 : 2500, 2, true));
    dec.push(eng.decode(), eng.decode());
    if (typeof torch !== 'string') {
      torchFwd = torchFwd.concat((await torch.request<{ ms: number[] }>({ op: 'forward', T, minTime: quick ? 1 : 2 })).ms);
      torchDec = torchDec.concat((await torch.request<{ ms: number[] }>({ op: 'decode', prompt: PROMPT, steps: STEPS, reps: 2 })).ms);
    }
    await pause(5);
    fwd1.push(...sample(eng1.forward, quick ? 500 : 1500, 1));
    dec1.push(eng1.decode());
    decB.push(engB.decode(), engB.decode());
  }
  beBf16.dispose();
  model.forward = { engineTokS: T / median(fwd) * 1000, engine1TokS: T / median(fwd1) * 1000 };
  model.decode = { engineTokS: STEPS / median(dec) * 1000, engine1TokS: STEPS / median(dec1) * 1000, engineBf16TokS: STEPS / median(decB) * 1000 };
  if (torchFwd.length) model.forward.pytorchTokS = T / median(torchFwd) * 1000;
  if (torchDec.length) model.decode.pytorchTokS = STEPS / median(torchDec) * 1000;
  model.note = `forward: B=1, T=${T}, logits for every position; decode: prompt ${PROMPT} (prefill untimed), ${STEPS} cached steps, last-position logits`;
  const r = (x?: number, y?: number): string => (x && y ? `${(x / y).toFixed(2)}×` : '—');
  console.log(`forward B=1 T=${T}: engine ${model.forward.engineTokS?.toFixed(1)} tok/s (1 thread ${model.forward.engine1TokS?.toFixed(1)}), PyTorch ${model.forward.pytorchTokS?.toFixed(1) ?? '—'} tok/s → ${r(model.forward.engineTokS, model.forward.pytorchTokS)}`);
  console.log(`decode (KV cache):  engine ${model.decode.engineTokS?.toFixed(1)} tok/s (1 thread ${model.decode.engine1TokS?.toFixed(1)}, bf16 weights ${model.decode.engineBf16TokS?.toFixed(1)}), PyTorch ${model.decode.pytorchTokS?.toFixed(1) ?? '—'} tok/s → ${r(model.decode.engineTokS, model.decode.pytorchTokS)} (bf16 ${r(model.decode.engineBf16TokS, model.decode.pytorchTokS)})`);
}
if (typeof torch !== 'string') torch.close();

// ---- results ----
const loadEnd = loadAvg();
const gotCores = coresUsed.length ? median(coresUsed) : NaN;
console.log(`\nload average at start ${loadStart}, at end ${loadEnd}; the pool rung got a median ${gotCores.toFixed(2)} cores (CPU time / wall time)`);
mkdirSync(outDir, { recursive: true });
const json = {
  date, machine, loadAverage: { start: loadStart, end: loadEnd }, engineCoresUsedMedian: gotCores, pytorch: torchInfo, peers: { ort: typeof ort === 'string' ? ort : 'onnxruntime-node', tfjs: typeof tf === 'string' ? tf : 'tfjs-backend-wasm, 1 thread' },
  rungs: RUNG_NAMES, simdPeakGflops: simdPeak,
  matmul: rows.map((r) => ({ ...r.shape, flops: r.flops, bytes: r.bytes, gflops: r.gflops, medianMs: r.ms })),
  model,
};
writeFileSync(join(outDir, `${outName}.json`), JSON.stringify(json, null, 1) + '\n');
const colors: Record<Rung, string> = { engine: '#1f77b4', wasm1: '#6baed6', blockedJS: '#9ecae1', naiveJS: '#c6dbef', pytorch: '#d62728', ort: '#ff7f0e', tfjs1: '#2ca02c' };
const shown: Rung[] = ['engine', 'wasm1', 'pytorch', 'ort', 'tfjs1', 'blockedJS', 'naiveJS'];
const panels: Panel[] = [{
  title: 'Matmul at GPT-2 124M shapes (M×K×N)', unit: 'GFLOP/s', log: true,
  series: shown.map((r) => ({ name: RUNG_NAMES[r], color: colors[r] })),
  rows: rows.map((r) => ({ label: r.shape.label, values: shown.map((k) => r.gflops[k] ?? null) })),
}];
if (model.note) {
  panels.push({
    title: 'Random 124M-shape GPT-2: tokens/s', unit: 'tokens/s', log: true,
    series: [{ name: RUNG_NAMES.engine, color: colors.engine }, { name: RUNG_NAMES.wasm1, color: colors.wasm1 },
      { name: 'engine wasm, bf16 weights', color: '#08519c' }, { name: RUNG_NAMES.pytorch, color: colors.pytorch }],
    rows: [
      { label: 'forward B=1 T=64', values: [model.forward.engineTokS ?? null, model.forward.engine1TokS ?? null, null, model.forward.pytorchTokS ?? null] },
      { label: 'decode (KV cache)', values: [model.decode.engineTokS ?? null, model.decode.engine1TokS ?? null, model.decode.engineBf16TokS ?? null, model.decode.pytorchTokS ?? null] },
    ],
  });
}
writeFileSync(join(outDir, `${outName}.svg`), svgChart(panels, `${date} · ${machine.cpu}, ${cores} cores · ${machine.runtime} ${machine.node} · ${be.description} · PyTorch ${JSON.stringify(torchInfo)} · load ${loadStart} → ${loadEnd}`));
console.log(`\nwrote ${join(outDir, `${outName}.json`)} and ${outName}.svg`);
be.dispose();
be1.dispose();
