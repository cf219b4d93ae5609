// WebGPU benchmark: per kernel (every rung of the matmul and attention ladders) and end to end
// (prefill and decode of a random GPT-2 124M), CPU vs WebGPU vs gpu.js, as ratios measured in one run.
// Every GPU rung is checked against the CPU op before it is timed; a rung that disagrees is reported
// and not timed. GPU times come from timestamp queries when the adapter has them, otherwise from the
// wall clock around onSubmittedWorkDone; each implementation is measured in interleaved rounds and
// the best round kept (the machine is shared). Adapter info goes in every row.
//
//   npx tsx bench/webgpu.ts --quick                       lavapipe / CI size (about a minute)
//   npx tsx bench/webgpu.ts --matmul-sizes 4096           a real GPU: GPT-2 shapes at T 1024 + 4096²
//   flags: --suites matmul,attention,e2e,gpujs,tune  --T N  --tag NAME  --out DIR  --unsafe-fast
//          --torch   PyTorch as a peer (cuBLAS FP32, TF32 off; eager GPT-2 124M), python3 or $GPT2TS_PYTHON
//          --dawn 'adapter=NAME;backend=vulkan'   extra Dawn options (Node), ';'-separated
//          --no-cpu  no CPU timing rows (the CPU still gives the reference values, on fewer rows);
//                    ratios are then taken against PyTorch where it ran
//          --rounds N  interleaved rounds per measurement (default 3; 2 with --quick)
//   tune: sweeps of the gemm / gemv configurations and the cached-attention rungs (webgpu-tune.ts);
//   e2e also prints where a decode step's time goes: host recording, GPU span, GPU time per kernel.
//
// Output: bench/results/webgpu-<tag>.json and .svg (tag: the adapter's name unless given).

import { writeFileSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import type { Backend } from '../src/backend.ts';
import { makeConfig } from '../src/config.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { allocActivations } from '../src/model/activations.ts';
import { type DeviceParams, gpt2Forward, uploadParams } from '../src/model/gpt2.ts';
import type { GpuBuf } from '../src/webgpu/index.ts';
import { DecodeSession } from '../src/model/session.ts';
import { randomParams } from '../src/params.ts';
import { ATTENTION_RUNGS, DECODE_RUNGS, type KernelTime, MATMUL_RUNGS, type WebGPUBackend, createWebGPUBackend } from '../src/webgpu/index.ts';
import { gpujsMatmul } from './webgpu-peers.ts';
import { type TorchResult, torchPeer } from './webgpu-torch.ts';
import { type ChartGroup, barChartSvg } from './webgpu-svg.ts';
import { type TuneRow, tuneShapes, tuneSuite } from './webgpu-tune.ts';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    suites: { type: 'string', default: 'matmul,attention,e2e,gpujs' },
    'matmul-sizes': { type: 'string', default: '' },
    T: { type: 'string' },
    tag: { type: 'string' },
    out: { type: 'string', default: new URL('./results/', import.meta.url).pathname },
    'unsafe-fast': { type: 'boolean', default: false },
    torch: { type: 'boolean', default: false },
    dawn: { type: 'string', default: '' },
    'no-cpu': { type: 'boolean', default: false },
    rounds: { type: 'string' },
  },
});
const noCpu = args['no-cpu'];
const quick = args.quick;
const suites = new Set(args.suites.split(','));
const T = Number(args.T ?? (quick ? 64 : 1024)); // prefill length, and M of the prefill matmuls
const squares = args['matmul-sizes'] ? args['matmul-sizes'].split(',').map(Number) : [];
const ROUNDS = Number(args.rounds ?? (quick ? 2 : 3));
const TARGET_MS = quick ? 150 : 300; // per measurement

const g: WebGPUBackend = await createWebGPUBackend({
  powerPreference: 'high-performance', // the discrete GPU where lavapipe is installed too
  // timestamps unquantized; with --unsafe-fast also no bounds checks (robustness) in the shaders
  dawnOptions: ['disable-dawn-features=timestamp_quantization',
    ...(args['unsafe-fast'] ? ['enable-dawn-features=allow_unsafe_apis,disable_robustness'] : []),
    ...args.dawn.split(';').filter(Boolean)],
});
const cpu = new CpuBackend();
const adapter = { ...g.adapter, timestamps: g.hasTimestamps, maxBinding: g.maxBinding };
const tag = args.tag ?? (adapter.description.split(/[^A-Za-z0-9]+/).find(Boolean) ?? 'gpu').toLowerCase();
console.log(`${g.description}; timestamps ${g.hasTimestamps}; CPU ${cpus()[0]?.model ?? '?'} × ${cpus().length}; T ${T}${quick ? ' (quick)' : ''}`);

interface Row {
  suite: string;
  name: string;
  shape: string;
  impl: string;
  metric: 'GFLOP/s' | 'tokens/s';
  value: number;
  ms: number;
  timing: 'gpu timestamps' | 'wall clock';
  maxDiff: number | null;
  note?: string;
  adapter: typeof adapter;
}
const rows: Row[] = [];
const groups: ChartGroup[] = [];

// ---- measuring -----------------------------------------------------------------------------------

type Timed = { ms: number; timing: Row['timing'] };

/**
 * GPU ms per call of `record` (enqueue only; the caller has run it once already, so pipelines
 * exist): one timed call, then, if that was quick, a batch sized to TARGET_MS.
 */
async function timeGpu(record: () => void): Promise<Timed> {
  const batch = async (reps: number): Promise<Timed> => {
    const w0 = performance.now();
    const ts = await g.timeGpu(() => { for (let i = 0; i < reps; i++) record(); });
    const wall = (performance.now() - w0) / reps;
    return ts !== null && ts > 0 ? { ms: ts / reps, timing: 'gpu timestamps' } : { ms: wall, timing: 'wall clock' };
  };
  const one = await batch(1);
  if (one.ms * 2 >= TARGET_MS) return one;
  return batch(Math.max(2, Math.min(50, Math.round(TARGET_MS / Math.max(one.ms, 0.01)))));
}

/** Wall ms per call of an async or sync host-side function (CPU ops, whole forward passes). */
async function timeHost(fn: () => unknown, maxReps = 20): Promise<Timed> {
  const t0 = performance.now();
  await fn();
  const once = performance.now() - t0;
  const reps = Math.max(1, Math.min(maxReps, Math.round(TARGET_MS / Math.max(once, 0.01))));
  const t1 = performance.now();
  for (let i = 0; i < reps; i++) await fn();
  return { ms: (performance.now() - t1) / reps, timing: 'wall clock' };
}

/** Interleave: round r measures every candidate once; each keeps its best round. */
async function rounds(cands: { impl: string; run: () => Promise<Timed> }[], n = ROUNDS): Promise<Map<string, Timed>> {
  const best = new Map<string, Timed>();
  for (let r = 0; r < n; r++) {
    for (const c of cands) {
      const t = await c.run();
      const b = best.get(c.impl);
      if (!b || t.ms < b.ms) best.set(c.impl, t);
    }
  }
  return best;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / (1 + Math.abs(b[i])));
  return Number.isNaN(m) ? Infinity : m;
}

function uniform(n: number, seed: number, scale: number): Float32Array {
  let x = (seed * 2654435761) >>> 0 || 1;
  const out = cpu.allocF32(n); // in the CPU backend's wasm heap: outside it the CPU op would run its JS rung
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = ((x / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}

function record(suite: string, name: string, shape: string, metric: Row['metric'], work: number,
  entries: { impl: string; t: Timed | null; diff: number | null; note?: string }[]): void {
  const bars: ChartGroup['bars'] = [];
  const base = entries[0]?.t ? work / entries[0].t.ms : 0;
  for (const e of entries) {
    if (!e.t) {
      rows.push({ suite, name, shape, impl: e.impl, metric, value: 0, ms: 0, timing: 'wall clock', maxDiff: e.diff, note: e.note, adapter });
      console.log(`  ${e.impl.padEnd(34)} not timed: ${e.note ?? ''}`);
      continue;
    }
    const value = work / e.t.ms; // work per ms → per s after the unit factor below
    const v = metric === 'GFLOP/s' ? value / 1e6 : value * 1e3;
    rows.push({ suite, name, shape, impl: e.impl, metric, value: v, ms: e.t.ms, timing: e.t.timing, maxDiff: e.diff, ...(e.note ? { note: e.note } : {}), adapter });
    bars.push({ label: e.impl, value: v });
    const ratio = base > 0 ? ` ×${(value / base).toFixed(2)} vs ${entries[0].impl}` : '';
    console.log(`  ${e.impl.padEnd(34)} ${v.toFixed(v < 10 ? 3 : 1).padStart(10)} ${metric}  ${e.t.ms.toFixed(3)} ms${ratio}${e.diff !== null ? `  (max rel diff ${e.diff.toExponential(1)})` : ''}`);
  }
  groups.push({ title: `${suite}: ${name} ${shape} — ${metric}`, bars });
}

// ---- suites --------------------------------------------------------------------------------------

const CPU_ROWS = noCpu ? 2 : quick ? 64 : 128; // CPU matmuls are timed and checked on this many rows (linear in M)

/** GPT-2 124M matmuls at M = T (prefill) and M = 1 (decode), then the square sizes asked for. */
function matmulShapes(): [string, number, number, number, boolean][] {
  const C = 768, V = 50257;
  const shapes: [string, number, number, number, boolean][] = [];
  for (const M of [T, 1]) {
    shapes.push([`attn.c_attn`, M, C, 3 * C, false], [`attn.c_proj`, M, C, C, false], [`mlp.c_fc`, M, C, 4 * C, false],
      [`mlp.c_proj`, M, 4 * C, C, false]);
    // all-position logits (training) are slow on lavapipe; --quick keeps the decode lm-head only
    if (M === 1 || !quick) shapes.push([`lm-head (wteᵀ)`, M, C, V, true]);
  }
  for (const s of squares) shapes.push([`square`, s, s, s, false]);
  return shapes;
}

const E2E = { prefillT: quick ? 16 : Math.min(T, 256), steps: quick ? 8 : 64 };

// PyTorch first (its own process), so each suite can put it beside the WebGPU rows
let torch: TorchResult | null = null;
if (args.torch) {
  console.log('running the PyTorch peer...');
  const r = torchPeer({
    matmul: [...(suites.has('matmul') ? matmulShapes() : []), ...(suites.has('tune') ? tuneShapes(T, squares) : [])]
      .map(([, M, K, N, tw]): [number, number, number, boolean] => [M, K, N, tw])
      .filter((s, i, all) => all.findIndex((o) => o.join() === s.join()) === i),
    e2e: suites.has('e2e') ? { prefillT: E2E.prefillT, decodeSteps: E2E.steps } : null,
  });
  torch = r.result;
  console.log(torch ? `PyTorch ${torch.torch} on ${torch.device}` : `no PyTorch peer: ${r.reason}`);
}
const torchEntry = (ms: number | undefined): { impl: string; t: Timed; diff: null; note: string }[] =>
  torch && ms !== undefined ? [{ impl: `pytorch (${torch.device})`, t: { ms, timing: 'wall clock' }, diff: null, note: `torch ${torch.torch}, FP32, TF32 off; not checked against the CPU op (own process, same shapes)` }] : [];
const torchMatmulMs = (M: number, K: number, N: number, tw: boolean): number | undefined =>
  torch?.matmul.find((m) => m.shape.join() === [M, K, N, tw].join())?.ms;
type Entry = { impl: string; t: Timed | null; diff: number | null; note?: string };
/** The rows of one block: with --no-cpu the PyTorch row leads (the ratios are taken against it). */
const ordered = (cpuRows: Entry[], ours: Entry[], peer: Entry[]): Entry[] => (noCpu ? [...peer, ...ours] : [...cpuRows, ...ours, ...peer]);

async function matmulSuite(): Promise<void> {
  for (const [name, M, K, N, transW] of matmulShapes()) {
    console.log(`matmul ${name} ${M}×${K}×${N}${transW ? ' (transposed W)' : ''}`);
    const x = uniform(M * K, M + K, 1), w = uniform(K * N, K + N, 0.05), bias = transW ? null : uniform(N, N, 0.02);
    // the CPU op on the first rows: the reference for every rung, and the CPU timing
    const Mc = Math.min(M, CPU_ROWS);
    const ref = cpu.allocF32(Mc * N);
    const cpuRun = (): void => cpu.matmulForward(ref, x.subarray(0, Mc * K), w, bias, Mc, K, N, transW);
    const cpuT = noCpu ? (cpuRun(), null) : await timeHost(cpuRun, 3);
    const gx = g.upload(x), gw = g.upload(w), gb = bias ? g.upload(bias) : null, go = g.allocF32(M * N);
    const flop = 2 * M * K * N;
    // every rung is checked; the quick run times only the rungs made for the shape (a single row
    // fills 1/16 of a tiled and 1/64 of a register-blocked tile; matvec is for a few rows)
    const timed = (r: string): boolean => !quick || (M <= 4 ? r === 'naive' || r === 'matvec' || r === 'gemv' : r !== 'matvec' && r !== 'gemv');
    const rungs = MATMUL_RUNGS.filter((r) => (r !== 'matvec' && r !== 'gemv') || M <= 64);
    const checked: { impl: string; diff: number; ok: boolean; timed: boolean }[] = [];
    for (const r of rungs) {
      g.rungs.matmul = r;
      g.matmulForward(go, gx, gw, gb, M, K, N, transW);
      const diff = maxDiff(await g.readF32(go, Mc * N), ref);
      checked.push({ impl: `webgpu ${r}`, diff, ok: diff <= 1e-4, timed: timed(r) });
    }
    const best = await rounds(checked.filter((c) => c.ok && c.timed).map((c) => ({
      impl: c.impl,
      run: () => {
        g.rungs.matmul = c.impl.replace('webgpu ', '') as typeof g.rungs.matmul;
        return timeGpu(() => g.matmulForward(go, gx, gw, gb, M, K, N, transW));
      },
    })));
    g.rungs.matmul = 'auto';
    record('matmul', name, `${M}×${K}×${N}`, 'GFLOP/s', flop, ordered(
      cpuT ? [{ impl: 'cpu backend', t: { ms: (cpuT.ms * M) / Mc, timing: cpuT.timing }, diff: null, note: `timed on ${Mc} rows, scaled to ${M}` }] : [],
      checked.map((c) => ({
        impl: c.impl, t: best.get(c.impl) ?? null, diff: c.diff,
        ...(c.ok ? (c.timed ? {} : { note: 'checked, not timed in --quick (not made for this shape)' }) : { note: 'disagrees with the CPU op' }),
      })),
      torchEntry(torchMatmulMs(M, K, N, transW)),
    ));
    for (const b of [gx, gw, go, gb]) if (b) g.free(b);
  }
}

async function attentionSuite(): Promise<void> {
  const C = 768, NH = 12, B = 1, scale = 1 / 8;
  console.log(`attention prefill B ${B} T ${T} C ${C} NH ${NH}`);
  const qkv = uniform(B * T * 3 * C, 5, 1.5);
  let ref: Float32Array = cpu.allocF32(B * T * C);
  // --no-cpu: the unfused rung (the reference rung, held against the CPU in the tests) gives the values
  const cpuT = noCpu ? null : await timeHost(() => cpu.attentionForward(ref, null, qkv, null, T, B, T, C, NH, scale), 3);
  const gq = g.upload(qkv), go = g.allocF32(B * T * C);
  const checked = [];
  for (const r of ATTENTION_RUNGS) {
    g.rungs.attention = r;
    g.attentionForward(go, null, gq, null, T, B, T, C, NH, scale);
    const got = await g.readF32(go);
    if (noCpu && r === 'unfused') ref = got;
    const diff = maxDiff(got, ref);
    checked.push({ impl: `webgpu ${r}`, rung: r, diff, ok: diff <= 1e-4 });
  }
  const best = await rounds(checked.filter((c) => c.ok).map((c) => ({
    impl: c.impl,
    run: () => {
      g.rungs.attention = c.rung;
      return timeGpu(() => g.attentionForward(go, null, gq, null, T, B, T, C, NH, scale));
    },
  })));
  g.rungs.attention = 'auto';
  record('attention', 'prefill', `B${B} T${T} C${C} NH${NH}`, 'tokens/s', B * T, [
    ...(cpuT ? [{ impl: 'cpu backend', t: cpuT, diff: null }] : []),
    ...checked.map((c) => ({ impl: c.impl, t: best.get(c.impl) ?? null, diff: c.diff })),
  ]);

  // decode: one new query per row over a cache of T positions
  const cap = T, hs = C / NH, pos0 = T - 1;
  console.log(`attention decode over ${T} cached positions`);
  const kc = uniform(B * NH * cap * hs, 6, 1.5), vc = uniform(B * NH * cap * hs, 7, 1);
  const q1 = uniform(B * 3 * C, 8, 1.5);
  const cache = { k: kc, v: vc };
  const ref1 = cpu.allocF32(B * C);
  const cpuRun1 = (): void => cpu.attentionCached(ref1, q1, cache, null, cap, B, 1, C, NH, pos0, cap, scale);
  const cpu1 = noCpu ? (cpuRun1(), null) : await timeHost(cpuRun1, 50);
  const gcache = { k: g.upload(kc), v: g.upload(vc) }, gq1 = g.upload(q1), go1 = g.allocF32(B * C);
  const decodeRuns = [];
  for (const r of DECODE_RUNGS) {
    g.rungs.decode = r;
    g.attentionCached(go1, gq1, gcache, null, cap, B, 1, C, NH, pos0, cap, scale);
    decodeRuns.push({ impl: `webgpu ${r}`, rung: r, diff: maxDiff(await g.readF32(go1), ref1) });
  }
  const best1 = await rounds(decodeRuns.filter((c) => c.diff <= 1e-4).map((c) => ({
    impl: c.impl,
    run: () => {
      g.rungs.decode = c.rung;
      return timeGpu(() => g.attentionCached(go1, gq1, gcache, null, cap, B, 1, C, NH, pos0, cap, scale));
    },
  })));
  g.rungs.decode = 'auto';
  record('attention', 'decode (one query per row, per layer)', `B${B} cache ${T} C${C} NH${NH}`, 'tokens/s', B, [
    ...(cpu1 ? [{ impl: 'cpu backend', t: cpu1, diff: null }] : []),
    ...decodeRuns.map((c) => ({ impl: c.impl, t: best1.get(c.impl) ?? null, diff: c.diff, ...(c.diff <= 1e-4 ? {} : { note: 'disagrees with the CPU op' }) })),
  ]);
  for (const b of [gq, go, gcache.k, gcache.v, gq1, go1]) g.free(b);
}

async function e2eSuite(): Promise<void> {
  const cfg = makeConfig(); // GPT-2 124M shapes, random weights
  console.log('end to end: random GPT-2 124M (making weights...)');
  const params = randomParams(cfg, 1);
  const gm = uploadParams(g, params), cm = uploadParams(cpu, params);
  const Tp = E2E.prefillT, Tc = Math.min(Tp, quick ? 8 : 16);
  const ids = Int32Array.from({ length: Tp }, (_, i) => (i * 7919 + 13) % cfg.vocabSize);
  const prefill = <F, I>(b: Backend<F, I>, model: DeviceParams<F>, n: number): (() => Promise<Float32Array>) => {
    const acts = allocActivations(b, cfg, { B: 1, T: n, perLayer: false, keepHidden: false, allLogits: false });
    const idb = b.allocI32(n);
    b.writeI32(idb, ids.subarray(0, n));
    return async (): Promise<Float32Array> => {
      const r = gpt2Forward(b, model, acts, idb, 1, n, { logits: 'last' });
      if (!r.logits) throw new Error('no logits');
      return b.readF32(r.logits, cfg.vocabSize);
    };
  };
  const gp = prefill(g, gm, Tp), gpc = prefill(g, gm, Tc), cp = prefill(cpu, cm, Tc);
  const diff = maxDiff(await gpc(), await cp());
  const ct = noCpu ? null : await timeHost(cp, 2);
  const best = diff <= 1e-4 ? await rounds([{ impl: 'webgpu', run: () => timeHost(gp, 10) }]) : new Map<string, Timed>();
  record('e2e', 'prefill (logits of the last position)', `GPT-2 124M B1 T${Tp}`, 'tokens/s', Tp, ordered(
    ct ? [{ impl: 'cpu backend', t: { ms: (ct.ms * Tp) / Tc, timing: ct.timing }, diff: null, note: `timed at T ${Tc}, scaled to ${Tp} tokens` }] : [],
    [{ impl: 'webgpu', t: best.get('webgpu') ?? null, diff, ...(diff <= 1e-4 ? {} : { note: 'disagrees with the CPU forward' }) }],
    torchEntry(torch?.e2e && torch.e2e.prefillT === Tp ? torch.e2e.prefillMs : undefined),
  ));

  // greedy decode after an 8-token prompt; tokens must agree for the steps both run
  const steps = E2E.steps, cpuSteps = quick || noCpu ? 3 : 4;
  const decode = async <F, I>(be: Backend<F, I>, model: DeviceParams<F>, n: number): Promise<{ out: number[]; ms: number }> => {
    const s = new DecodeSession(be, model, 1, 8 + n + 1);
    let next = await s.feedArgmax(ids.subarray(0, 8), 8);
    const out: number[] = [next[0]];
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      next = await s.feedArgmax(next, 1);
      out.push(next[0]);
    }
    const ms = (performance.now() - t0) / n;
    s.dispose();
    return { out, ms };
  };
  const c = await decode(cpu, cm, cpuSteps);
  const gd = await decode(g, gm, steps);
  const same = c.out.every((id, i) => gd.out[i] === id);
  record('e2e', 'greedy decode (KV cache, argmax on device)', `GPT-2 124M B1 after 8 tokens`, 'tokens/s', 1, ordered(
    noCpu ? [] : [{ impl: 'cpu backend', t: { ms: c.ms, timing: 'wall clock' }, diff: null, note: `${cpuSteps} steps` }],
    [{ impl: 'webgpu', t: same ? { ms: gd.ms, timing: 'wall clock' } : null, diff: same ? 0 : 1, note: same ? `${steps} steps (greedy tokens equal the CPU's for ${cpuSteps})` : 'greedy tokens differ from the CPU' }],
    torchEntry(torch?.e2e?.decodeMs),
  ));
  if (g.hasTimestamps) await e2eProfile(gm, ids, gp);
  g.free(gm.buffer);
}

/**
 * Where a decode step's time goes (after 40 tokens): host recording (JS + Dawn encoding), the GPU
 * span of the step (first pass start to last pass end), the wall time of the step with its
 * readback, and the GPU time of each kernel (each dispatch timed in its own pass); then the same
 * profile of a prefill forward.
 */
async function e2eProfile(gm: DeviceParams<GpuBuf>, ids: Int32Array, gp: () => Promise<Float32Array>): Promise<void> {
  const V = gm.config.vocabSize;
  const s = new DecodeSession(g, gm, 1, 160);
  const out = g.allocI32(1);
  let next = await s.feedArgmax(ids.subarray(0, 8), 8);
  for (let i = 0; i < 32; i++) next = await s.feedArgmax(next, 1);
  const step = (): void => g.argmax(out, s.feed(next, 1), 1, V);
  let recordMs = Infinity, wallMs = Infinity;
  for (let i = 0; i < 8; i++) {
    const t0 = performance.now();
    step();
    const t1 = performance.now();
    next = await g.readI32(out, 1);
    recordMs = Math.min(recordMs, t1 - t0);
    wallMs = Math.min(wallMs, performance.now() - t0);
  }
  let spanMs = Infinity;
  for (let i = 0; i < 4; i++) spanMs = Math.min(spanMs, (await g.timeGpu(step)) ?? Infinity);
  // dispatches per submit: 0 = one submit per step (at the readback), else the GPU starts early
  const submitSweep: { submitEvery: number; decodeMs: number; prefillMs: number }[] = [];
  const dflt = g.submitEvery;
  for (const every of [0, 8, 16, 32, 64]) {
    g.submitEvery = every;
    let d = Infinity;
    for (let i = 0; i < 12; i++) {
      const t0 = performance.now();
      step();
      next = await g.readI32(out, 1);
      d = Math.min(d, performance.now() - t0);
    }
    let pf = Infinity;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await gp();
      pf = Math.min(pf, performance.now() - t0);
    }
    submitSweep.push({ submitEvery: every, decodeMs: d, prefillMs: pf });
    console.log(`  submit every ${String(every || '(step)').padEnd(6)} decode step ${d.toFixed(3)} ms, prefill T ${E2E.prefillT} ${pf.toFixed(3)} ms`);
  }
  g.submitEvery = dflt;
  const decodeKernels = summarize((await g.profileGpu(step)) ?? []);
  s.dispose();
  g.free(out);
  const prefillKernels = summarize((await g.profileGpu(() => void gp())) ?? []);
  await g.sync();
  const line = (k: { kernel: string; count: number; ms: number }): string => `    ${k.kernel.padEnd(20)} ×${String(k.count).padEnd(4)} ${(k.ms * 1e3).toFixed(1).padStart(9)} µs`;
  console.log(`decode step at ~40 tokens: host recording ${recordMs.toFixed(3)} ms, GPU span ${spanMs.toFixed(3)} ms, wall with readback ${wallMs.toFixed(3)} ms`);
  console.log(`  GPU time per kernel (one pass each; sum ${(decodeKernels.reduce((a, k) => a + k.ms, 0)).toFixed(3)} ms):`);
  for (const k of decodeKernels) console.log(line(k));
  console.log(`prefill T ${E2E.prefillT}: GPU time per kernel (sum ${(prefillKernels.reduce((a, k) => a + k.ms, 0)).toFixed(3)} ms):`);
  for (const k of prefillKernels) console.log(line(k));
  profiles = { decode: { recordMs, spanMs, wallMs, kernels: decodeKernels }, prefill: { T: E2E.prefillT, kernels: prefillKernels }, submitSweep };
}

function summarize(times: KernelTime[]): { kernel: string; count: number; ms: number }[] {
  const m = new Map<string, { kernel: string; count: number; ms: number }>();
  for (const t of times) {
    const e = m.get(t.kernel) ?? { kernel: t.kernel, count: 0, ms: 0 };
    e.count++;
    e.ms += t.ms;
    m.set(t.kernel, e);
  }
  return [...m.values()].sort((a, b) => b.ms - a.ms);
}
let profiles: unknown = null;
let tuneRows: TuneRow[] = [];

async function tune(): Promise<void> {
  const time = async (rec: () => void): Promise<number> => {
    const one = (await g.timeGpu(rec)) ?? 1;
    const reps = Math.max(2, Math.min(50, Math.round(40 / Math.max(one, 0.005))));
    return ((await g.timeGpu(() => { for (let i = 0; i < reps; i++) rec(); })) ?? reps) / reps;
  };
  tuneRows = await tuneSuite({ g, cpu, T, squares, time, uniform, maxDiff, torchMs: torchMatmulMs }, (l) => console.log(l));
}

async function gpujsSuite(): Promise<void> {
  const C = 768;
  const M = quick ? 64 : T;
  const shapes: [string, number, number, number][] = [['attn.c_attn', M, C, 3 * C], ['mlp.c_fc', M, C, 4 * C], ...squares.map((s): [string, number, number, number] => ['square', s, s, s])];
  for (const [name, m, K, N] of shapes) {
    console.log(`gpu.js peer: matmul ${name} ${m}×${K}×${N} (every call includes upload and readback)`);
    const x = uniform(m * K, m + K, 1), w = uniform(K * N, K + N, 0.05);
    const Mc = Math.min(m, CPU_ROWS);
    const ref = cpu.allocF32(Mc * N);
    cpu.matmulForward(ref, x.subarray(0, Mc * K), w, null, Mc, K, N, false);
    const flop = 2 * m * K * N;
    const entries: { impl: string; t: Timed | null; diff: number | null; note?: string }[] = [];
    // ours with the same transfers: upload both inputs, run, read the result back
    const ours = async (): Promise<Float32Array> => {
      const gx = g.upload(x), gw = g.upload(w), go = g.allocF32(m * N);
      g.matmulForward(go, gx, gw, null, m, K, N, false);
      const r = await g.readF32(go);
      for (const b of [gx, gw, go]) g.free(b);
      return r;
    };
    const dOurs = maxDiff((await ours()).subarray(0, Mc * N), ref);
    const runners: { impl: string; run: () => Promise<Timed> }[] = [{ impl: 'webgpu (incl. transfers)', run: () => timeHost(ours, 10) }];
    const diffs = new Map<string, number>([['webgpu (incl. transfers)', dOurs]]);
    const closers: (() => Promise<void>)[] = [];
    for (const mode of ['webgpu', 'cpu'] as const) {
      if (mode === 'cpu' && flop > (quick ? 4e8 : 2e9)) {
        entries.push({ impl: 'gpu.js cpu', t: null, diff: null, note: 'skipped: too slow at this size' });
        continue;
      }
      try {
        const k = await gpujsMatmul(mode, m, K, N);
        closers.push(k.dispose);
        diffs.set(`gpu.js ${mode}`, maxDiff((await k.run(x, w)).subarray(0, Mc * N), ref));
        runners.push({ impl: `gpu.js ${mode}`, run: () => timeHost(() => k.run(x, w), 5) });
      } catch (e) {
        entries.push({ impl: `gpu.js ${mode}`, t: null, diff: null, note: `unavailable: ${(e as Error).message}` });
      }
    }
    const best = await rounds(runners.filter((r) => (diffs.get(r.impl) ?? Infinity) <= 1e-4));
    record('gpujs', name, `${m}×${K}×${N}`, 'GFLOP/s', flop, [
      ...runners.map((r) => ({ impl: r.impl, t: best.get(r.impl) ?? null, diff: diffs.get(r.impl) ?? null })),
      ...entries,
    ]);
    for (const c of closers) await c();
  }
}

// ---- results (written after every suite, so a run cut short keeps what it measured) ---------------

const base = `${args.out.replace(/\/$/, '')}/webgpu-${tag}`;
function writeResults(): void {
  mkdirSync(args.out, { recursive: true });
  const meta = {
    date: new Date().toISOString(), adapter, cpu: `${cpus()[0]?.model ?? '?'} × ${cpus().length}`, cpuBackend: cpu.description, node: process.version,
    quick, T, suites: [...suites], matmulSizes: squares, torch: torch ? { device: torch.device, version: torch.torch } : null, noCpu,
  };
  writeFileSync(`${base}.json`, JSON.stringify({ meta, rows, ...(profiles ? { profiles } : {}), ...(tuneRows.length ? { tune: tuneRows } : {}) }, null, 1) + '\n');
  writeFileSync(`${base}.svg`, barChartSvg(`gpt2ts WebGPU benchmark — ${adapter.description}`,
    `${meta.date.slice(0, 10)}; CPU ${meta.cpu}; ratios against the first bar of each block (${noCpu && torch ? 'PyTorch; ' : ''}measured in the same run)`, groups));
}

for (const [name, fn] of [['tune', tune], ['matmul', matmulSuite], ['attention', attentionSuite], ['e2e', e2eSuite], ['gpujs', gpujsSuite]] as const) {
  if (!suites.has(name)) continue;
  try {
    await fn();
  } catch (e) {
    console.log(`suite ${name} failed: ${(e as Error).stack ?? e}`);
  }
  writeResults();
}
console.log(`wrote ${base}.json and ${base}.svg`);
g.dispose();
process.exit(0);
