// No GPU resource leaks in steady-state decoding: over a 500-token greedy decode the number of live
// GPUBuffers, pipelines, shader modules and bind groups stays flat (the pool, the caches and the
// uniform ring absorb every step), and each step reads back one id per row, not V logits.

import { expect, it } from 'vitest';
import { makeConfig } from '../src/config.ts';
import { uploadParams } from '../src/model/gpt2.ts';
import { DecodeSession } from '../src/model/session.ts';
import { randomParams } from '../src/params.ts';
import type { WebGPUBackend } from '../src/webgpu/index.ts';
import { describeBackends, extraWebGPU } from './helpers/backends.ts';

describeBackends('500-token decode', ({ gpu }) => {
  // the adapter's own rung choices, and the real-GPU ones (gemv, split cached attention: its combine
  // pass starts once the sequence passes 64 positions, and must create nothing then), also with a
  // submit every 16 dispatches (a real GPU's default is 32)
  for (const [cls, submitEvery] of [['adapter', 0], ['gpu', 0], ['gpu', 16]] as const) {
    it(`live buffers, pipelines and bind groups stay flat; ${submitEvery ? `a submit per ${submitEvery} dispatches` : 'one submit-and-read per token'} (${cls} rungs)`, async () => {
      const g: WebGPUBackend | null = cls === 'gpu' ? await extraWebGPU({ deviceClass: 'gpu', submitEvery }) : gpu();
      if (!g) throw new Error('WebGPU suite without a WebGPU backend');
      await flat(g, submitEvery);
    });
  }
  const flat = async (g: WebGPUBackend, submitEvery: number): Promise<void> => {
    const cfg = makeConfig({ vocabSize: 512, nPositions: 512, nEmbd: 64, nLayer: 2, nHead: 4 });
    const model = uploadParams(g, randomParams(cfg, 9));
    const B = 2, steps = 500, prompt = 8;
    const session = new DecodeSession(g, model, B, prompt + steps);
    let next = await session.feedArgmax(Int32Array.from({ length: B * prompt }, (_, i) => (i * 41) % 512), prompt);
    // a few warm steps create the decode pipelines and bind groups once
    for (let i = 0; i < 3; i++) next = await session.feedArgmax(next, 1);
    const before = { ...g.stats, live: g.liveBuffers };
    for (let i = 3; i < steps; i++) {
      next = await session.feedArgmax(next, 1);
      expect(next.length).toBe(B);
      for (const id of next) expect(id >= 0 && id < cfg.vocabSize).toBe(true);
    }
    const after = { ...g.stats, live: g.liveBuffers };
    expect(session.length).toBe(prompt + steps);
    expect(after.live).toBe(before.live);
    expect(after.buffersCreated).toBe(before.buffersCreated);
    expect(after.buffersDestroyed).toBe(before.buffersDestroyed);
    expect(after.pipelines).toBe(before.pipelines);
    expect(after.shaderModules).toBe(before.shaderModules);
    expect(after.bindGroupsCreated).toBe(before.bindGroupsCreated);
    expect(after.staged).toBe(before.staged);
    // the ids write flushes nothing new, the read submits the step: about one submit per token
    // (with submitEvery, one more per that many of a step's ~30 dispatches)
    const perStep = 2 + (submitEvery ? Math.ceil(30 / submitEvery) : 0);
    expect(after.submits - before.submits).toBeLessThanOrEqual(perStep * (steps - 3));
    session.dispose();
  };
}, ['webgpu']);
