// Incremental decoding with the KV cache equals the full forward, at every step and for B > 1,
// whatever the chunking of the prompt.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeConfig } from '../src/config.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { loadModelFiles } from '../src/io/model.ts';
import { GPT2Model } from '../src/model/model.ts';
import { DecodeSession } from '../src/model/session.ts';
import { type Params, randomParams } from '../src/params.ts';
import { expectClose, fixtureDir } from './helpers/fixtures.ts';

/** Feed `rows` through a session in the given chunk sizes and compare each chunk's last logits. */
async function checkCached(params: Params, rows: number[][], chunks: number[]): Promise<number> {
  const model = new GPT2Model(new CpuBackend(), params);
  const B = rows.length, T = rows[0].length, V = params.config.vocabSize;
  const full = await model.forward(rows);
  const session = new DecodeSession(model.backend, model.device, B, T, Math.max(...chunks));
  let pos = 0, worst = 0;
  for (const n of chunks) {
    const ids = new Int32Array(B * n);
    for (let b = 0; b < B; b++) ids.set(rows[b].slice(pos, pos + n), b * n);
    const got = await session.feedAndRead(ids, n);
    pos += n;
    for (let b = 0; b < B; b++) {
      const want = full.logits.subarray((b * T + pos - 1) * V, (b * T + pos) * V);
      worst = Math.max(worst, expectClose(got.subarray(b * V, (b + 1) * V), want, 1e-5, 0, `row ${b} at position ${pos - 1}`));
    }
  }
  expect(pos).toBe(T);
  return worst;
}

const randRows = (B: number, T: number, V: number, seed: number): number[][] => {
  let s = seed >>> 0;
  const r = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % V);
  return Array.from({ length: B }, () => Array.from({ length: T }, r));
};

describe('KV-cache decode equals the full forward', () => {
  it('gpt2-tiny weights, B = 3, one token per step after a 5-token prompt', async () => {
    const { params } = loadModelFiles(fixtureDir('gpt2-tiny'));
    const rows = randRows(3, 24, params.config.vocabSize, 5);
    await checkCached(params, rows, [5, ...Array(19).fill(1)]);
  });

  it('odd shapes: 3 heads, C 48, vocab 777; 6 heads, C 96, vocab 1000', async () => {
    for (const cfg of [
      makeConfig({ vocabSize: 777, nPositions: 40, nEmbd: 48, nLayer: 2, nHead: 3 }),
      makeConfig({ vocabSize: 1000, nPositions: 64, nEmbd: 96, nLayer: 1, nHead: 6 }),
    ]) {
      const params = randomParams(cfg, 3);
      // larger weights than GPT-2's init so attention is far from uniform
      for (let i = 0; i < params.data.length; i++) params.data[i] *= 20;
      await checkCached(params, randRows(2, 17, cfg.vocabSize, 9), [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    }
  });

  it('property: any chunking of any batch gives the same logits', async () => {
    const cfg = makeConfig({ vocabSize: 97, nPositions: 24, nEmbd: 30, nLayer: 2, nHead: 5 });
    const params = randomParams(cfg, 11);
    for (let i = 0; i < params.data.length; i++) params.data[i] *= 10;
    await fc.assert(fc.asyncProperty(
      fc.integer({ min: 1, max: 3 }), fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 8 }), fc.integer(),
      async (B, chunks, seed) => {
        const T = chunks.reduce((a, b) => a + b, 0);
        if (T > cfg.nPositions) return;
        await checkCached(params, randRows(B, T, cfg.vocabSize, seed), chunks);
      }), { numRuns: 25 });
  });
});
