// Attention on every backend and, on WebGPU, on every rung of the ladder, against a float64
// reference: causal, heads of 16 / 12 / 64 / 10, T 33 and 100 (several key and query tiles), B > 1,
// single tokens, right padding, left padding (queries that see only masked keys), a mask stride
// wider than T; then the KV cache: writes, one-token decode steps and multi-token chunks over it.

import { expect, it } from 'vitest';
import { ATTENTION_RUNGS, type AttentionRung, DECODE_RUNGS, type DecodeRung, flashSupports, splitSupports } from '../src/webgpu/index.ts';
import { type AnyBackend, describeBackends, put, putI32, uniform } from './helpers/backends.ts';
import { expectClose } from './helpers/fixtures.ts';

/**
 * float64 causal attention over a whole sequence: out (B, T, C) and probabilities (B, NH, T, T).
 * mask (B, stride) of 1/0 or null; a query whose visible keys are all masked averages them.
 */
function attentionRef(qkv: Float32Array, mask: Int32Array | null, stride: number, B: number, T: number, C: number, NH: number) {
  const hs = C / NH, scale = 1 / Math.sqrt(hs);
  const out = new Float64Array(B * T * C), att = new Float64Array(B * NH * T * T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < NH; h++) {
      for (let t = 0; t < T; t++) {
        const sc: number[] = [];
        for (let s = 0; s <= t; s++) {
          let d = 0;
          for (let i = 0; i < hs; i++) d += qkv[(b * T + t) * 3 * C + h * hs + i] * qkv[(b * T + s) * 3 * C + C + h * hs + i];
          sc.push(d * scale);
        }
        const keep = sc.map((_, s) => !mask || mask[b * stride + s] !== 0);
        const any = keep.some(Boolean);
        const m = Math.max(...sc.filter((_, s) => keep[s] || !any));
        const e = sc.map((x, s) => (any && !keep[s] ? 0 : Math.exp(any ? x - m : 0)));
        const sum = e.reduce((a, x) => a + x, 0);
        for (let s = 0; s <= t; s++) {
          const p = e[s] / sum;
          att[((b * NH + h) * T + t) * T + s] = p;
          for (let i = 0; i < hs; i++) out[(b * T + t) * C + h * hs + i] += p * qkv[(b * T + s) * 3 * C + 2 * C + h * hs + i];
        }
      }
    }
  }
  return { out, att };
}

interface Case {
  B: number;
  T: number;
  C: number;
  NH: number;
  /** per row: key positions that are padding */
  pad?: (b: number, s: number) => boolean;
  stride?: number;
}

const CASES: [string, Case][] = [
  ['B 2, T 33, C 96, 6 heads (hs 16)', { B: 2, T: 33, C: 96, NH: 6 }],
  ['right padding (row 1 has 20 tokens)', { B: 2, T: 33, C: 96, NH: 6, pad: (b, s) => b === 1 && s >= 20 }],
  ['left padding: the first queries see only masked keys', { B: 2, T: 9, C: 48, NH: 4, pad: (b, s) => s < 3 + b }],
  ['mask stride 64 > T', { B: 3, T: 17, C: 36, NH: 3, pad: (b, s) => s === 5 + b, stride: 64 }],
  ['T 100, hs 64 (several key and query tiles)', { B: 1, T: 100, C: 128, NH: 2 }],
  ['a single token per row', { B: 3, T: 1, C: 96, NH: 6 }],
  ['hs 10 (not a multiple of 4: flash does not apply)', { B: 2, T: 7, C: 30, NH: 3 }],
];

function makeInputs(be: AnyBackend, c: Case, seed: number) {
  const { B, T, C } = c;
  const stride = c.stride ?? T;
  const qkv = uniform(B * T * 3 * C, seed, 1.6);
  const mask = c.pad ? Int32Array.from({ length: B * stride }, (_, i) => (c.pad?.(Math.floor(i / stride), i % stride) ? 0 : 1)) : null;
  return { qkv, mask, stride, qkvBuf: put(be, qkv), maskBuf: mask ? putI32(be, mask) : null };
}

describeBackends('attentionForward', ({ name, be, gpu }) => {
  const rungs: (AttentionRung | 'auto')[] = name === 'webgpu' ? [...ATTENTION_RUNGS, 'auto'] : ['auto'];
  for (const rung of rungs) {
    for (const [label, c] of CASES) {
      if (rung === 'flash' && !flashSupports(c.C, c.NH)) continue;
      it(`rung ${rung}: ${label}`, async () => {
        const b = be(), g = gpu();
        const { B, T, C, NH } = c;
        const { qkv, mask, stride, qkvBuf, maskBuf } = makeInputs(b, c, B * 100 + T);
        const ref = attentionRef(qkv, mask, stride, B, T, C, NH);
        if (g) g.rungs.attention = rung;
        try {
          const out = b.allocF32(B * T * C);
          b.attentionForward(out, null, qkvBuf, maskBuf, stride, B, T, C, NH, 1 / Math.sqrt(C / NH));
          expectClose(await b.readF32(out), ref.out, 1e-5, 1e-5, `${rung} ${label}`);
        } finally {
          if (g) g.rungs.attention = 'auto';
        }
      });
    }
  }

  it('the probabilities for the backward (att), zeros above the diagonal', async () => {
    const b = be();
    for (const [label, c] of CASES.slice(0, 4)) {
      const { B, T, C, NH } = c;
      const { qkv, mask, stride, qkvBuf, maskBuf } = makeInputs(b, c, 7);
      const ref = attentionRef(qkv, mask, stride, B, T, C, NH);
      const out = b.allocF32(B * T * C), att = put(b, new Float32Array(B * NH * T * T).fill(9));
      b.attentionForward(out, att, qkvBuf, maskBuf, stride, B, T, C, NH, 1 / Math.sqrt(C / NH));
      expectClose(await b.readF32(att), ref.att, 1e-6, 1e-5, `att ${label}`);
      expectClose(await b.readF32(out), ref.out, 1e-5, 1e-5, `out with att ${label}`);
    }
  });
});

describeBackends('KV cache', ({ name, be, gpu }) => {
  // One sequence of Ttot tokens per row, fed as chunks; each chunk's output must equal the rows of
  // the whole-sequence causal attention at its positions.
  const runChunks = async (b: AnyBackend, B: number, C: number, NH: number, chunks: number[], cap: number,
    pad: ((b: number, s: number) => boolean) | null): Promise<void> => {
    const Ttot = chunks.reduce((a, x) => a + x, 0);
    const hs = C / NH;
    const all = uniform(B * Ttot * 3 * C, Ttot + C, 1.6);
    const maskCap = pad ? Int32Array.from({ length: B * cap }, (_, i) => (pad(Math.floor(i / cap), i % cap) ? 0 : 1)) : null;
    const maskSeq = maskCap ? Int32Array.from({ length: B * Ttot }, (_, i) => maskCap[Math.floor(i / Ttot) * cap + (i % Ttot)]) : null;
    const ref = attentionRef(all, maskSeq, Ttot, B, Ttot, C, NH);
    const n = B * NH * cap * hs;
    const cache = { k: put(b, new Float32Array(n).fill(5)), v: put(b, new Float32Array(n).fill(5)) };
    const maskBuf = maskCap ? putI32(b, maskCap) : null;
    let pos0 = 0;
    for (const T of chunks) {
      const chunk = new Float32Array(B * T * 3 * C);
      for (let r = 0; r < B; r++) chunk.set(all.subarray((r * Ttot + pos0) * 3 * C, (r * Ttot + pos0 + T) * 3 * C), r * T * 3 * C);
      const qkv = put(b, chunk), out = b.allocF32(B * T * C);
      b.kvCacheWrite(cache, qkv, B, T, C, NH, pos0, cap);
      b.attentionCached(out, qkv, cache, maskBuf, cap, B, T, C, NH, pos0, cap, 1 / Math.sqrt(hs));
      const want = new Float64Array(B * T * C);
      for (let r = 0; r < B; r++) want.set(ref.out.subarray((r * Ttot + pos0) * C, (r * Ttot + pos0 + T) * C), r * T * C);
      expectClose(await b.readF32(out), want, 1e-5, 1e-5, `chunk of ${T} at ${pos0}`);
      pos0 += T;
    }
    // the cache holds k and v at (b, h, s, i), and positions past the sequence are untouched
    const k = await b.readF32(cache.k), v = await b.readF32(cache.v);
    for (let r = 0; r < B; r++) {
      for (let h = 0; h < NH; h++) {
        for (let s = 0; s < cap; s++) {
          for (let i = 0; i < hs; i++) {
            const at = ((r * NH + h) * cap + s) * hs + i;
            const src = (r * Ttot + s) * 3 * C + h * hs + i;
            expect(k[at]).toBe(s < Ttot ? all[src + C] : 5);
            expect(v[at]).toBe(s < Ttot ? all[src + 2 * C] : 5);
          }
        }
      }
    }
  };

  // every cached-attention rung on WebGPU (split only where it runs: C and hs multiples of 4)
  const rungs: (DecodeRung | 'auto')[] = name === 'webgpu' ? [...DECODE_RUNGS, 'auto'] : ['auto'];
  const cases: [string, number, number, number, number[], number, ((b: number, s: number) => boolean) | null][] = [
    ['one token at a time (decode), B 2, C 96, 6 heads', 2, 96, 6, new Array(20).fill(1), 24, null],
    ['a prompt chunk, then single tokens, then a chunk of 5: 70 positions (two key chunks)', 1, 128, 2, [40, 1, 1, 1, 5, 1, 22], 72, null],
    ['right-padded rows and a masked middle key over the cache, B 3', 3, 36, 3, [6, 1, 1, 3], 16, (r, s) => (r === 1 && s >= 4) || (r === 2 && s === 2)],
    ['hs 10 and a cap wider than the sequence', 2, 30, 3, [3, 1, 2], 40, null],
    ['200 positions one by one after a prompt of 70 (four splits), a masked row, B 2', 2, 64, 2, [70, ...new Array(130).fill(1)], 200, (r, s) => r === 1 && s % 7 === 3],
    ['every key of a row masked: the row averages them (the CPU rule), over two splits', 2, 32, 2, [66, 1], 80, (r, s) => r === 0 || s === 1],
  ];
  for (const rung of rungs) {
    for (const [label, B, C, NH, chunks, cap, pad] of cases) {
      if (rung === 'split' && !splitSupports(C, NH)) continue;
      it(`${name === 'webgpu' ? `rung ${rung}: ` : ''}${label}`, async () => {
        const g = gpu();
        if (g) g.rungs.decode = rung;
        try {
          await runChunks(be(), B, C, NH, chunks, cap, pad);
        } finally {
          if (g) g.rungs.decode = 'auto';
        }
      });
    }
  }
});
