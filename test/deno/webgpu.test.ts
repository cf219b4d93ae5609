// Deno: the WebGPU backend on navigator.gpu (wgpu — a second, independent WebGPU implementation next
// to Node's Dawn), run from the TS sources and held against the CPU backend: every matmul and
// attention rung, the KV cache, the layer ops, split bindings, the whole model (the gpt2-tiny
// fixture and an odd random config), cached decode against the full forward, and flat buffer counts.
// Run: npx deno test -A test/deno/   (npm test does this after the vitest suites)
// Without an adapter the GPU tests are ignored, unless GPT2TS_REQUIRE_GPU=1 (CI): then they fail.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../../src/backend.ts';
import { makeConfig } from '../../src/config.ts';
import { CpuBackend } from '../../src/cpu/backend.ts';
import { loadModelFiles } from '../../src/io/model.ts';
import { SafetensorsFile } from '../../src/io/safetensors.ts';
import { uploadParams } from '../../src/model/gpt2.ts';
import { GPT2Model } from '../../src/model/model.ts';
import { DecodeSession } from '../../src/model/session.ts';
import { randomParams } from '../../src/params.ts';
import {
  ATTENTION_RUNGS, DECODE_RUNGS, type GemmConfig, MATMUL_RUNGS, type WebGPUBackend, createWebGPUBackend, flashSupports,
} from '../../src/webgpu/index.ts';

type AnyBackend = Backend<unknown, unknown>;
const requireGpu = Deno.env.get('GPT2TS_REQUIRE_GPU') === '1';
const cpu = new CpuBackend();

let gpu: WebGPUBackend | null = null;
let unavailable = '';
try {
  gpu = await createWebGPUBackend();
} catch (e) {
  unavailable = e instanceof Error ? e.message : String(e);
}

/** A WebGPU test: ignored without an adapter, failing without one when GPT2TS_REQUIRE_GPU=1. */
function gpuTest(name: string, fn: (g: WebGPUBackend) => Promise<void>): void {
  if (!gpu && !requireGpu) {
    Deno.test({ name: `${name} (no WebGPU adapter: ${unavailable})`, ignore: true, fn: () => {} });
    return;
  }
  Deno.test({
    name, sanitizeOps: false, sanitizeResources: false,
    fn: async () => {
      if (!gpu) throw new Error(`GPT2TS_REQUIRE_GPU=1 but ${unavailable}`);
      await fn(gpu);
    },
  });
}

/** |a − b| ≤ atol + rtol·|b| everywhere (b the CPU value); throws with the max difference. */
function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number, label: string): void {
  if (got.length !== want.length) throw new Error(`${label}: length ${got.length} vs ${want.length}`);
  let max = 0, bad = -1;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= max)) max = d;
    if (!(d <= atol + rtol * Math.abs(want[i])) && bad < 0) bad = i;
  }
  if (bad >= 0) throw new Error(`${label}: max |diff| ${max} (atol ${atol}, rtol ${rtol}); first bad [${bad}] ${got[bad]} vs ${want[bad]}`);
}

function uniform(n: number, seed: number, scale = 1): Float32Array {
  let x = (seed * 2654435761) >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = ((x / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}

function put(be: AnyBackend, data: Float32Array): unknown {
  const b = be.allocF32(data.length);
  be.writeF32(b, data);
  return b;
}
function putI32(be: AnyBackend, data: ArrayLike<number>): unknown {
  const b = be.allocI32(data.length);
  be.writeI32(b, Int32Array.from(data));
  return b;
}

/** Run the same op on the GPU and the CPU and compare the output it returns. */
async function both(run: (be: AnyBackend) => unknown, atol: number, rtol: number, label: string, g: AnyBackend): Promise<void> {
  const a = await g.readF32(run(g));
  const b = await cpu.readF32(run(cpu) as Float32Array);
  assertClose(a, b, atol, rtol, label);
}

gpuTest('matmul: every rung, both weight layouts, odd shapes, with and without bias', async (g) => {
  const shapes: [number, number, number][] = [[33, 96, 1000], [1, 96, 1000], [3, 64, 192], [65, 17, 129], [7, 5, 3]];
  for (const rung of MATMUL_RUNGS) {
    g.rungs.matmul = rung;
    for (const [M, K, N] of shapes) {
      for (const transW of [false, true]) {
        for (const bias of [true, false]) {
          const x = uniform(M * K, M + K, 1.7), w = uniform(K * N, N + K, 0.035), bb = uniform(N, N, 0.03);
          await both((be) => {
            const out = be.allocF32(M * N);
            be.matmulForward(out, put(be, x), put(be, w), bias ? put(be, bb) : null, M, K, N, transW);
            return out;
          }, 1e-5, 1e-5, `${rung} ${M}×${K}×${N} transW=${transW} bias=${bias}`, g);
        }
      }
    }
  }
  g.rungs.matmul = 'auto';
});

gpuTest('matmul: gemm tiles and k splits, gemv shapes, fixed configurations', async (g) => {
  const gemm: GemmConfig[] = [
    { wgX: 16, wgY: 16, tm: 8, tn: 8, bk: 8, splits: 1 }, { wgX: 16, wgY: 16, tm: 4, tn: 8, bk: 16, splits: 3 },
    { wgX: 8, wgY: 8, tm: 4, tn: 4, bk: 4, splits: 2 },
  ];
  const configs = [...gemm.map((c) => ({ rung: 'gemm' as const, tuning: { gemm: c } })),
    { rung: 'gemv' as const, tuning: { gemv: { quads: 2, rows: 16, lanes: 16 } } }];
  for (const { rung, tuning } of configs) {
    g.rungs.matmul = rung;
    g.tuning = tuning;
    for (const [M, K, N] of [[33, 96, 1000], [65, 17, 129], [130, 300, 70]]) {
      for (const transW of [false, true]) {
        const x = uniform(M * K, M + K, 1.7), w = uniform(K * N, N + K, 0.035), bb = uniform(N, N, 0.03);
        await both((be) => {
          const out = be.allocF32(M * N);
          be.matmulForward(out, put(be, x), put(be, w), put(be, bb), M, K, N, transW);
          return out;
        }, 1e-5, 1e-5, `${rung} ${JSON.stringify(tuning)} ${M}×${K}×${N} transW=${transW}`, g);
      }
    }
  }
  g.rungs.matmul = 'auto';
  g.tuning = {};
});

const ATTN_CASES: { B: number; T: number; C: number; NH: number; pad?: (b: number, s: number) => boolean; stride?: number }[] = [
  { B: 2, T: 33, C: 96, NH: 6 },
  { B: 2, T: 33, C: 96, NH: 6, pad: (b, s) => b === 1 && s >= 20 },
  { B: 2, T: 9, C: 48, NH: 4, pad: (b, s) => s < 3 + b },
  { B: 3, T: 17, C: 36, NH: 3, pad: (b, s) => s === 5 + b, stride: 64 },
  { B: 1, T: 100, C: 128, NH: 2 },
  { B: 3, T: 1, C: 96, NH: 6 },
  { B: 2, T: 7, C: 30, NH: 3 },
];

gpuTest('attention: every rung, padding masks, single tokens, probabilities', async (g) => {
  for (const rung of ATTENTION_RUNGS) {
    g.rungs.attention = rung;
    for (const c of ATTN_CASES) {
      if (rung === 'flash' && !flashSupports(c.C, c.NH)) continue;
      const stride = c.stride ?? c.T;
      const qkv = uniform(c.B * c.T * 3 * c.C, c.T + c.C, 1.6);
      const mask = c.pad ? Array.from({ length: c.B * stride }, (_, i) => (c.pad?.(Math.floor(i / stride), i % stride) ? 0 : 1)) : null;
      const label = `${rung} B${c.B} T${c.T} C${c.C} NH${c.NH}${mask ? ' masked' : ''}`;
      await both((be) => {
        const out = be.allocF32(c.B * c.T * c.C);
        be.attentionForward(out, null, put(be, qkv), mask ? putI32(be, mask) : null, stride, c.B, c.T, c.C, c.NH, 1 / Math.sqrt(c.C / c.NH));
        return out;
      }, 1e-5, 1e-5, label, g);
      await both((be) => {
        const att = be.allocF32(c.B * c.NH * c.T * c.T);
        be.attentionForward(be.allocF32(c.B * c.T * c.C), att, put(be, qkv), mask ? putI32(be, mask) : null, stride, c.B, c.T, c.C, c.NH, 1 / Math.sqrt(c.C / c.NH));
        return att;
      }, 1e-6, 1e-5, `${label} att`, g);
    }
  }
  g.rungs.attention = 'auto';
});

for (const rung of DECODE_RUNGS) gpuTest(`KV cache (rung ${rung}): writes and cached attention over prompt chunks and single tokens`, async (g) => {
  g.rungs.decode = rung;
  const B = 2, C = 96, NH = 6, cap = 80, hs = C / NH;
  const mask = Array.from({ length: B * cap }, (_, i) => (Math.floor(i / cap) === 1 && i % cap === 3 ? 0 : 1));
  const state = new Map<AnyBackend, { k: unknown; v: unknown; m: unknown }>();
  let pos0 = 0;
  for (const T of [40, 1, 1, 5, 1, 1, 20]) {
    const qkv = uniform(B * T * 3 * C, pos0 + 1, 1.6);
    for (const what of ['out', 'k'] as const) {
      await both((be) => {
        let s = state.get(be);
        if (!s) {
          s = { k: be.allocF32(B * NH * cap * hs), v: be.allocF32(B * NH * cap * hs), m: putI32(be, mask) };
          state.set(be, s);
        }
        const cache = { k: s.k, v: s.v };
        const x = put(be, qkv), out = be.allocF32(B * T * C);
        if (what === 'out') {
          be.kvCacheWrite(cache, x, B, T, C, NH, pos0, cap);
          be.attentionCached(out, x, cache, s.m, cap, B, T, C, NH, pos0, cap, 1 / Math.sqrt(hs));
          return out;
        }
        return s.k;
      }, 1e-5, 1e-5, `${what}: chunk of ${T} at ${pos0}`, g);
    }
    pos0 += T;
  }
  g.rungs.decode = 'auto';
});

gpuTest('layer ops: encoder, layernorm, gelu, residual, softmax, argmax', async (g) => {
  const B = 2, T = 33, C = 96, V = 1000;
  const ids = Array.from({ length: B * T }, (_, i) => (i * 379 + 11) % V);
  const wte = uniform(V * C, 1, 0.1), wpe = uniform(64 * C, 2, 0.05);
  await both((be) => {
    const out = be.allocF32(B * T * C);
    be.encoderForward(out, putI32(be, ids), put(be, wte), put(be, wpe), B, T, C, 4);
    return out;
  }, 0, 0, 'encoder', g);
  const x = uniform(B * T * C, 3, 1.5), w = uniform(C, 4, 0.1).map((v) => v + 1), b = uniform(C, 5, 0.02);
  await both((be) => {
    const out = be.allocF32(B * T * C);
    be.layernormForward(out, null, null, put(be, x), put(be, w), put(be, b), B * T, C, 1e-5);
    return out;
  }, 1e-5, 1e-5, 'layernorm', g);
  const big = Float32Array.from([...uniform(997, 6, 6), -100, 100, 1e4]);
  await both((be) => {
    const out = be.allocF32(big.length);
    be.geluForward(out, put(be, big), big.length);
    return out;
  }, 1e-6, 1e-6, 'gelu', g);
  await both((be) => {
    const out = be.allocF32(big.length);
    be.residualForward(out, put(be, big), put(be, x.subarray(0, big.length)), big.length);
    return out;
  }, 0, 0, 'residual', g);
  const logits = uniform(3 * 50257, 7, 8);
  await both((be) => {
    const out = be.allocF32(logits.length);
    be.softmaxForward(out, put(be, logits), 3, 50257);
    return out;
  }, 1e-7, 1e-5, 'softmax', g);
  logits[50257 + 17] = 99;
  logits[50257 + 40000] = 99; // a tie: the first index wins
  const gi = g.allocI32(3), ci = new Int32Array(3);
  g.argmax(gi, put(g, logits) as ReturnType<WebGPUBackend["allocF32"]>, 3, 50257);
  cpu.argmax(ci, logits, 3, 50257);
  assertClose(await g.readI32(gi), ci, 0, 0, 'argmax');
  if ((await g.readI32(gi))[1] !== 17) throw new Error('argmax: the first of two maxima must win');
});

gpuTest('split bindings: the whole model with 64 KiB bindings equals the CPU', async () => {
  const small = await createWebGPUBackend({ maxBindingBytes: 64 << 10 });
  try {
    const cfg = makeConfig({ vocabSize: 1000, nPositions: 32, nEmbd: 64, nLayer: 2, nHead: 4 });
    const params = randomParams(cfg, 3);
    const ids = Array.from({ length: 2 * 16 }, (_, i) => (i * 37 + 1) % 1000);
    const input = [ids.slice(0, 16), ids.slice(16)];
    const a = await new GPT2Model(small, params).forward(input);
    const b = await new GPT2Model(cpu, params).forward(input);
    assertClose(a.logits, b.logits, 1e-4, 0, 'logits with split bindings');
  } finally {
    await small.sync(); // nothing in flight when the device goes
    small.dispose();
  }
});

gpuTest('gpt2-tiny fixture: logits, hidden states, greedy tokens', async (g) => {
  const dir = fileURLToPath(new URL('../fixtures/gpt2-tiny/', import.meta.url));
  const inputs = JSON.parse(readFileSync(dir + 'inputs.json', 'utf8')) as { input_ids: number[][]; generation: { prompt: number[]; max_new_tokens: number } };
  const exp = SafetensorsFile.fromBytes(readFileSync(dir + 'expected.safetensors'), 'expected.safetensors');
  const model = new GPT2Model(g, loadModelFiles(dir).params);
  const out = await model.forward(inputs.input_ids, { hidden: true });
  assertClose(out.logits, exp.readF32('logits'), 1e-4, 0, 'logits');
  assertClose(out.hidden[0], exp.readF32('hidden.embeddings'), 1e-5, 0, 'hidden.embeddings');
  for (let i = 0; i < model.config.nLayer; i++) assertClose(out.hidden[i + 1], exp.readF32(`hidden.block.${i}`), 1e-5, 0, `hidden.block.${i}`);
  assertClose(out.lnf, exp.readF32('hidden.ln_f'), 1e-4, 0, 'hidden.ln_f');
  const r = await model.generate(inputs.generation.prompt, { doSample: false, maxNewTokens: inputs.generation.max_new_tokens, stopAtEos: false });
  const want = Array.from(exp.read('generate.tokens') as BigInt64Array, Number);
  if (JSON.stringify(r.sequences[0]) !== JSON.stringify(want)) throw new Error(`greedy tokens ${r.sequences[0]} vs ${want}`);
  model.dispose();
});

/** A backend whose 'auto' rungs are the real-GPU choices (gemm, gemv, split decode), on this adapter. */
async function withGpuClass(fn: (g: WebGPUBackend) => Promise<void>): Promise<void> {
  const g = await createWebGPUBackend({ deviceClass: 'gpu' });
  try {
    await fn(g);
  } finally {
    await g.sync();
    g.dispose();
  }
}

async function oddModel(g: WebGPUBackend): Promise<void> {
  const cfg = makeConfig({ vocabSize: 1000, nPositions: 64, nEmbd: 96, nLayer: 2, nHead: 6 });
  const params = randomParams(cfg, 5);
  const seqs = [0, 1].map((b) => Array.from({ length: 24 }, (_, t) => (b * 977 + t * 131 + 7) % 1000));
  const model = new GPT2Model(g, params);
  const a = await model.forward(seqs.map((s) => s.slice(0, 20)), { hidden: true });
  const c = await new GPT2Model(cpu, params).forward(seqs.map((s) => s.slice(0, 20)), { hidden: true });
  assertClose(a.logits, c.logits, 1e-4, 0, 'logits');
  a.hidden.forEach((h, i) => assertClose(h, c.hidden[i], 1e-5, 0, `hidden ${i}`));
  const V = cfg.vocabSize, session = new DecodeSession(g, model.device, 2, 24);
  for (let n = 6; n <= 24; n++) {
    const from = n === 6 ? 0 : n - 1;
    const got = await session.feedAndRead(Int32Array.from(seqs.flatMap((s) => s.slice(from, n))), n - from);
    const full = await model.forward(seqs.map((s) => s.slice(0, n)));
    for (let r = 0; r < 2; r++) {
      const last = full.logits.subarray((r * n + n - 1) * V, (r * n + n) * V);
      const scale = last.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assertClose(got.subarray(r * V, (r + 1) * V), last, 1e-5 * scale, 0, `decode row ${r} at ${n}`);
    }
  }
  session.dispose();
  model.dispose();
}
gpuTest('odd random model (V 1000, C 96, 6 heads): forward vs CPU, cached decode vs full forward, B 2', oddModel);
gpuTest('the same with the real-GPU rung choices (gemm, gemv, split cached attention)', () => withGpuClass(oddModel));

async function flatDecode(g: WebGPUBackend): Promise<void> {
  const cfg = makeConfig({ vocabSize: 512, nPositions: 320, nEmbd: 64, nLayer: 2, nHead: 4 });
  const session = new DecodeSession(g, uploadParams(g, randomParams(cfg, 9)), 2, 310);
  let next = await session.feedArgmax(Int32Array.from({ length: 16 }, (_, i) => i * 31), 8);
  for (let i = 0; i < 3; i++) next = await session.feedArgmax(next, 1);
  const before = JSON.stringify({ ...g.stats, submits: 0, live: g.liveBuffers });
  for (let i = 3; i < 300; i++) next = await session.feedArgmax(next, 1);
  const after = JSON.stringify({ ...g.stats, submits: 0, live: g.liveBuffers });
  if (before !== after) throw new Error(`GPU resources changed over the decode: ${before} → ${after}`);
  session.dispose();
}
gpuTest('a 300-token greedy decode keeps buffers, pipelines and bind groups flat', flatDecode);
gpuTest('the same with the real-GPU rung choices', () => withGpuClass(flatDecode));

// the shared device goes once every test above has run (Deno runs a file's tests in order), after
// its queue is idle
Deno.test({
  name: 'dispose the WebGPU device', sanitizeOps: false, sanitizeResources: false,
  fn: async () => {
    await gpu?.sync();
    gpu?.dispose();
  },
});
