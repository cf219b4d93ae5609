// The whole model on WebGPU against the CPU backend, with random weights on odd configurations
// (V 1000, C 96, 6 heads, T 33; hs 64 where the flash kernel runs; hs 10 where it cannot): logits,
// every hidden state, a right-padded batch, greedy tokens; and the KV-cache decode on the GPU
// against the full forward on the GPU at every step, for B > 1.

import { expect, it } from 'vitest';
import { type GPT2Config, makeConfig } from '../src/config.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { GPT2Model } from '../src/model/model.ts';
import { DecodeSession } from '../src/model/session.ts';
import { type Params, randomParams } from '../src/params.ts';
import { describeBackends, extraWebGPU } from './helpers/backends.ts';
import { expectClose } from './helpers/fixtures.ts';

/** GPT-2 init plus non-trivial LayerNorm weights and biases, so a dropped bias shows. */
function params(cfg: GPT2Config, seed: number): Params {
  const p = randomParams(cfg, seed);
  let x = seed * 7919 + 1;
  const u = (): number => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648) * 2 - 1;
  for (const s of p.specs) {
    if (s.shape.length !== 1) continue;
    const v = p.view(s.name);
    const isLnWeight = /ln_[12f]\.weight$/.test(s.name);
    for (let i = 0; i < v.length; i++) v[i] = isLnWeight ? 1 + 0.1 * u() : 0.02 * u();
  }
  return p;
}

const CONFIGS: [string, GPT2Config][] = [
  ['V 1000, C 96, 6 heads, 2 layers', makeConfig({ vocabSize: 1000, nPositions: 64, nEmbd: 96, nLayer: 2, nHead: 6 })],
  ['V 777, C 128, 2 heads of 64 (flash tiles), 1 layer', makeConfig({ vocabSize: 777, nPositions: 80, nEmbd: 128, nLayer: 1, nHead: 2 })],
  ['V 300, C 30, 3 heads of 10 (unfused), 2 layers', makeConfig({ vocabSize: 300, nPositions: 48, nEmbd: 30, nLayer: 2, nHead: 3 })],
];

function ids(B: number, T: number, V: number, seed: number): number[][] {
  return Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => (seed * 31 + b * 977 + t * 131 + ((t * t) % 7)) % V));
}

/** max |x| (the logits scale the decode comparison is relative to) */
const maxAbs = (a: Float32Array): number => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

describeBackends('GPT-2 forward on WebGPU vs CPU', ({ be }) => {
  for (const [label, cfg] of CONFIGS) {
    it(`${label}: logits, hidden states and ln_f of B 2 × T 33`, async () => {
      const p = params(cfg, 5);
      const gpu = new GPT2Model(be(), p), cpu = new GPT2Model(new CpuBackend(), p);
      const input = ids(2, 33, cfg.vocabSize, 1);
      const [g, c] = [await gpu.forward(input, { hidden: true }), await cpu.forward(input, { hidden: true })];
      expectClose(g.logits, c.logits, 1e-4, 0, 'logits');
      expect(g.hidden.length).toBe(cfg.nLayer + 1);
      g.hidden.forEach((h, i) => expectClose(h, c.hidden[i], 1e-5, 0, `hidden ${i}`));
      expectClose(g.lnf, c.lnf, 1e-4, 0, 'ln_f');
      gpu.dispose();
    });

    it(`${label}: a right-padded batch (rows of 33, 20 and 1 tokens)`, async () => {
      const p = params(cfg, 6);
      const gpu = new GPT2Model(be(), p), cpu = new GPT2Model(new CpuBackend(), p);
      const input = ids(3, 33, cfg.vocabSize, 2);
      const lengths = [33, 20, 1];
      const attentionMask = lengths.map((n) => Array.from({ length: 33 }, (_, t) => (t < n ? 1 : 0)));
      const [g, c] = [await gpu.forward(input, { attentionMask }), await cpu.forward(input, { attentionMask })];
      expectClose(g.logits, c.logits, 1e-4, 0, 'padded logits');
      gpu.dispose();
    });
  }

  it('with the rung choices of a real GPU (gemm, gemv, split cached attention; a submit every 7 dispatches) as well as a software adapter\'s', async () => {
    const cfg = CONFIGS[0][1];
    const p = params(cfg, 9);
    const cpu = await new GPT2Model(new CpuBackend(), p).forward(ids(2, 33, cfg.vocabSize, 5));
    for (const deviceClass of ['gpu', 'software'] as const) {
      const g = await extraWebGPU({ deviceClass, submitEvery: deviceClass === 'gpu' ? 7 : 0 });
      const model = new GPT2Model(g, p);
      expectClose((await model.forward(ids(2, 33, cfg.vocabSize, 5))).logits, cpu.logits, 1e-4, 0, `${deviceClass} logits`);
      const r = await model.generate(ids(1, 5, cfg.vocabSize, 6)[0], { doSample: false, maxNewTokens: 6, stopAtEos: false });
      const c = await new GPT2Model(new CpuBackend(), p).generate(ids(1, 5, cfg.vocabSize, 6)[0], { doSample: false, maxNewTokens: 6, stopAtEos: false });
      expect(r.sequences[0]).toEqual(c.sequences[0]);
    }
  });

  it('greedy generation: the same tokens as the CPU, and the device argmax path agrees', async () => {
    const cfg = CONFIGS[0][1];
    const p = params(cfg, 7);
    const gpu = new GPT2Model(be(), p), cpu = new GPT2Model(new CpuBackend(), p);
    const prompt = ids(1, 6, cfg.vocabSize, 3)[0];
    const opts = { doSample: false, maxNewTokens: 25, stopAtEos: false, returnLogits: true } as const;
    const [g, c] = [await gpu.generate(prompt, opts), await cpu.generate(prompt, opts)];
    expect(g.sequences[0]).toEqual(c.sequences[0]);
    g.logits.forEach((l, i) => expectClose(l, c.logits[i], 1e-4, 0, `step ${i} logits`));
    const g2 = await gpu.generate(prompt, { doSample: false, maxNewTokens: 25, stopAtEos: false });
    expect(g2.sequences[0]).toEqual(c.sequences[0]);
    gpu.dispose();
  });

  for (const [label, cfg] of CONFIGS) {
    it(`${label}: cached decode equals the full forward at every step, B 2`, async () => {
      const b = be();
      const p = params(cfg, 8);
      const model = new GPT2Model(b, p);
      const B = 2, prompt = 5, steps = 18;
      const seqs = ids(B, prompt + steps, cfg.vocabSize, 4);
      const session = new DecodeSession(b, model.device, B, prompt + steps);
      const V = cfg.vocabSize;
      for (let n = prompt; n <= prompt + steps; n++) {
        // the chunk fed: the prompt first, then one token per row
        const from = n === prompt ? 0 : n - 1;
        const chunk = Int32Array.from(seqs.flatMap((row) => row.slice(from, n)));
        const cached = await session.feedAndRead(chunk, n - from);
        const full = await model.forward(seqs.map((row) => row.slice(0, n)));
        for (let r = 0; r < B; r++) {
          const last = full.logits.subarray((r * n + n - 1) * V, (r * n + n) * V);
          const got = cached.subarray(r * V, (r + 1) * V);
          expectClose(got, last, 1e-5 * maxAbs(last), 0, `row ${r}, ${n} tokens`);
        }
      }
      session.dispose();
      model.dispose();
    });
  }
}, ['webgpu']);
