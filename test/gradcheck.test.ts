// Finite-difference gradient check in float64, for every element of every parameter tensor of a
// tiny GPT-2: the real gpt2Forward / gpt2Backward run on a float64 TrainingBackend built here from
// the same CPU layer functions, so the analytic gradient is exact to float64 rounding and a central
// difference (h = 1e-6) is good to ~1e-9. Covers what the PyTorch fixtures do not: an attention mask
// with holes (and queries whose every key is masked), dropout at every site (fixed seeded masks),
// n_inner ≠ 4C, scale_attn_by_inverse_layer_idx, and an untied lm-head.

import { describe, expect, it } from 'vitest';
import type { KVLayer, TrainingBackend } from '../src/backend.ts';
import { makeConfig, type GPT2Config } from '../src/config.ts';
import { attentionBackward, attentionDropoutForward, attentionForward } from '../src/cpu/attention.ts';
import { crossEntropyBackward, crossEntropyForward, countTargets } from '../src/cpu/crossentropy.ts';
import { dropoutBackward, dropoutForward } from '../src/cpu/dropout.ts';
import { encoderBackward, encoderForward } from '../src/cpu/encoder.ts';
import { geluBackward, geluForward } from '../src/cpu/gelu.ts';
import { layernormBackward, layernormForward } from '../src/cpu/layernorm.ts';
import { matmulBackwardNaive, matmulForwardNaive } from '../src/cpu/matmul.ts';
import { residualBackward, residualForward } from '../src/cpu/residual.ts';
import { Rng } from '../src/generate/rng.ts';
import { allocActivations, allocGradActivations } from '../src/model/activations.ts';
import { type DropoutOptions, allocGrads, gpt2Backward, gpt2Forward, uploadParams } from '../src/model/gpt2.ts';
import { Params } from '../src/params.ts';
import { report } from './helpers/training.ts';

type F = Float64Array;
type I = Int32Array;
const unused = (op: string): never => {
  throw new Error(`${op} is not used by the gradient check`);
};

/** The CPU layer functions over Float64Array: the whole model in float64. */
class Cpu64 implements TrainingBackend<F, I> {
  readonly name = 'cpu64';
  readonly description = 'CPU float64 (gradient check)';
  allocF32(n: number): F { return new Float64Array(n); }
  allocI32(n: number): I { return new Int32Array(n); }
  upload(data: Float32Array): F { return Float64Array.from(data); }
  view(buf: F, offset: number, n: number): F { return buf.subarray(offset, offset + n); }
  writeF32(dst: F, src: Float32Array, dstOffset = 0): void { dst.set(src, dstOffset); }
  writeI32(dst: I, src: Int32Array): void { dst.set(src); }
  copyF32(dst: F, dstOffset: number, src: F, srcOffset: number, n: number): void { dst.set(src.subarray(srcOffset, srcOffset + n), dstOffset); }
  zero(buf: F, n: number): void { buf.fill(0, 0, n); }
  readF32(src: F, n = src.length): Promise<Float32Array> { return Promise.resolve(Float32Array.from(src.subarray(0, n))); }
  readI32(src: I, n = src.length): Promise<Int32Array> { return Promise.resolve(src.slice(0, n)); }
  sync(): Promise<void> { return Promise.resolve(); }
  free(): void {}
  dispose(): void {}
  encoderForward(out: F, ids: I, wte: F, wpe: F, B: number, T: number, C: number, pos0: number): void { encoderForward(out, ids, wte, wpe, B, T, C, pos0); }
  layernormForward(out: F, mean: F | null, rstd: F | null, inp: F, w: F, b: F, N: number, C: number, eps: number): void { layernormForward(out, mean, rstd, inp, w, b, N, C, eps); }
  matmulForward(out: F, inp: F, w: F, bias: F | null, M: number, K: number, N: number, transW: boolean): void { matmulForwardNaive(out, inp, w, bias, M, K, N, transW); }
  attentionForward(out: F, att: F | null, qkv: F, mask: I | null, ms: number, B: number, T: number, C: number, NH: number, scale: number): void { attentionForward(out, att, qkv, mask, ms, B, T, C, NH, scale); }
  kvCacheWrite(_c: KVLayer<F>): void { unused('kvCacheWrite'); }
  attentionCached(): void { unused('attentionCached'); }
  geluForward(out: F, inp: F, n: number): void { geluForward(out, inp, n); }
  residualForward(out: F, a: F, b: F, n: number): void { residualForward(out, a, b, n); }
  softmaxForward(): void { unused('softmaxForward'); }
  argmax(): void { unused('argmax'); }
  crossEntropyForward(losses: F, logits: F, targets: I, rows: number, V: number): void { crossEntropyForward(losses, logits, targets, rows, V); }
  crossEntropyBackward(dlogits: F, logits: F, targets: I, rows: number, V: number, scale: number): void { crossEntropyBackward(dlogits, logits, targets, rows, V, scale); }
  dropoutForward(out: F, inp: F, mask: F, n: number): void { dropoutForward(out, inp, mask, n); }
  attentionDropoutForward(out: F, att: F, dm: F, qkv: F, mask: I | null, ms: number, B: number, T: number, C: number, NH: number, scale: number): void { attentionDropoutForward(out, att, dm, qkv, mask, ms, B, T, C, NH, scale); }
  encoderBackward(dwte: F, dwpe: F, dout: F, ids: I, B: number, T: number, C: number, pos0: number): void { encoderBackward(dwte, dwpe, dout, ids, B, T, C, pos0); }
  layernormBackward(dinp: F, dw: F, db: F, dout: F, inp: F, w: F, mean: F, rstd: F, N: number, C: number): void { layernormBackward(dinp, dw, db, dout, inp, w, mean, rstd, N, C); }
  matmulBackward(dinp: F, dw: F, dbias: F | null, dout: F, inp: F, w: F, M: number, K: number, N: number, transW: boolean): void { matmulBackwardNaive(dinp, dw, dbias, dout, inp, w, M, K, N, transW); }
  attentionBackward(dqkv: F, dout: F, qkv: F, att: F, dm: F | null, mask: I | null, ms: number, B: number, T: number, C: number, NH: number, scale: number): void { attentionBackward(dqkv, dout, qkv, att, dm, mask, ms, B, T, C, NH, scale); }
  geluBackward(dinp: F, inp: F, dout: F, n: number): void { geluBackward(dinp, inp, dout, n); }
  residualBackward(da: F, db: F, dout: F, n: number): void { residualBackward(da, db, dout, n); }
  dropoutBackward(dinp: F, dout: F, mask: F, n: number): void { dropoutBackward(dinp, dout, mask, n); }
}

/** Random parameters large enough that every nonlinearity matters (biases and LN weights too). */
function randomTiny(cfg: GPT2Config, untied: boolean, seed: number): Params {
  const p = new Params(cfg, untied);
  const rng = new Rng(seed);
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - rng.next())) * Math.cos(2 * Math.PI * rng.next());
  for (const s of p.specs) {
    const v = p.view(s.name);
    const isLnWeight = /ln_[12f]\.weight$/.test(s.name);
    for (let i = 0; i < v.length; i++) v[i] = isLnWeight ? 1 + 0.3 * normal() : 0.4 * normal();
  }
  return p;
}

interface Case {
  label: string;
  cfg: GPT2Config;
  untied: boolean;
  B: number;
  T: number;
  ids: number[];
  targets: number[];
  mask: number[] | null;
  dropout: Omit<DropoutOptions, 'rng'> | null;
}

const base = { vocabSize: 13, nPositions: 8, nEmbd: 8, nHead: 2, nLayer: 2 };
const CASES: Case[] = [
  {
    label: 'tied head, no mask, no dropout',
    cfg: makeConfig(base), untied: false, B: 2, T: 5,
    ids: [12, 0, 3, 3, 7, 5, 1, 12, 9, 0], targets: [0, 3, -100, 7, 2, 1, 12, 9, 0, -100], mask: null, dropout: null,
  },
  {
    label: 'mask with holes (fully masked queries), dropout everywhere, n_inner 12, inverse-layer scaling',
    cfg: makeConfig({ ...base, nInner: 12, scaleAttnByInverseLayerIdx: true }), untied: false, B: 2, T: 6,
    ids: [4, 2, 11, 2, 6, 8, 1, 12, 7, 7, 0, 5], targets: [2, 11, 2, 6, 8, 3, 12, 7, 7, -100, 5, 9],
    mask: [1, 1, 0, 1, 1, 1, 0, 0, 1, 1, 0, 1], dropout: { embd: 0.2, attn: 0.3, resid: 0.25 },
  },
  {
    label: 'untied lm_head, dropout from the config',
    cfg: makeConfig({ ...base, nLayer: 1, embdPdrop: 0.1, attnPdrop: 0.1, residPdrop: 0.1 }), untied: true, B: 1, T: 7,
    ids: [3, 1, 4, 1, 5, 9, 2], targets: [1, 4, 1, 5, 9, 2, 6], mask: null, dropout: {},
  },
];

describe.each(CASES)('float64 finite differences: $label', (c) => {
  it('every element of every parameter tensor', () => {
    const be = new Cpu64();
    const params = randomTiny(c.cfg, c.untied, 7);
    const model = uploadParams(be, params);
    const grads = allocGrads(be, params);
    const acts = allocActivations(be, c.cfg, { B: c.B, T: c.T, perLayer: true, keepHidden: false, allLogits: true, dropout: c.dropout !== null });
    const gacts = allocGradActivations(be, c.cfg, c.B, c.T);
    const ids = Int32Array.from(c.ids), targets = Int32Array.from(c.targets);
    const mask = c.mask ? Int32Array.from(c.mask) : null;
    const count = countTargets(targets);
    const BT = c.B * c.T, V = c.cfg.vocabSize;
    // the same seed before every forward: the same dropout masks, so the loss is a smooth function
    const forward = (): number => {
      const dropout = c.dropout ? { ...c.dropout, rng: new Rng(99) } : null;
      gpt2Forward(be, model, acts, ids, c.B, c.T, { mask, logits: 'all', dropout });
      be.crossEntropyForward(gacts.losses, acts.logits, targets, BT, V);
      let s = 0;
      for (let i = 0; i < BT; i++) s += gacts.losses[i];
      return s / count;
    };
    forward();
    if (c.dropout) expect(Object.values(acts.dropoutUsed).every(Boolean)).toBe(true);
    be.zero(grads.buffer, grads.buffer.length);
    gpt2Backward(be, model, grads, acts, gacts, ids, targets, c.B, c.T, { mask, lossScale: 1 / count });

    const h = 1e-6;
    const w = model.buffer;
    let worst = 0, worstName = '', maxGrad = 0;
    for (const s of params.specs) {
      for (let i = s.offset; i < s.offset + s.numel; i++) {
        const keep = w[i];
        w[i] = keep + h;
        const up = forward();
        w[i] = keep - h;
        const down = forward();
        w[i] = keep;
        const fd = (up - down) / (2 * h);
        const g = grads.buffer[i];
        const err = Math.abs(g - fd);
        if (!(err <= 1e-8 + 1e-6 * Math.abs(fd))) {
          throw new Error(`${s.name}[${i - s.offset}]: analytic ${g} vs finite difference ${fd} (|diff| ${err.toExponential(2)})`);
        }
        if (err > worst) [worst, worstName] = [err, s.name];
        maxGrad = Math.max(maxGrad, Math.abs(g));
      }
    }
    // padding between tensors: no gradient
    let end = 0;
    for (const s of params.specs) {
      for (let i = end; i < s.offset; i++) expect(grads.buffer[i]).toBe(0);
      end = s.offset + s.numel;
    }
    expect(maxGrad).toBeGreaterThan(1e-2); // the check is not vacuous
    report(`gradcheck (${c.label}): ${params.count} elements, max |analytic − FD| ${worst.toExponential(2)} (${worstName}), max |grad| ${maxGrad.toExponential(2)}`);
  });
});
