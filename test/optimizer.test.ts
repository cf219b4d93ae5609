// AdamW, clipping and learning-rate schedules. The optimizer is tested alone, fed the stored
// gradients (test/fixtures/README.md "Optimizer settings"), at the exact bound
// 1e-8 + 3e-7·|expected|; schedules against HF's formulas computed longhand here.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Params } from '../src/params.ts';
import { ADAMW_DEFAULTS, type AdamWConfig, adamwStep, createAdamWState } from '../src/train/adamw.ts';
import { clipCoef, clipGradNorm, gradNorm } from '../src/train/clip.ts';
import { type ScheduleConfig, learningRate, lrLambda } from '../src/train/schedule.ts';
import { FIXTURE_SETS, compareClose, expectClose, fixtureDir, fixtureExpected } from './helpers/fixtures.ts';
import { expectFlatClose, flatFromExpected, loadFixtureParams, report } from './helpers/training.ts';

const ATOL = 1e-8, RTOL = 3e-7;

describe.each(FIXTURE_SETS)('AdamW alone, from the stored gradients (%s)', (set) => {
  const exp = fixtureExpected(set);

  it('the fixture settings are torch.optim.AdamW defaults', () => {
    expect(ADAMW_DEFAULTS).toEqual({ lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
  });

  it('adamw.* (step 1) then adamw2.* (step 2 from adamw.* with grad2.*, same state)', () => {
    const params = loadFixtureParams(set);
    const state = createAdamWState(params.data.length);
    const p = params.data.slice();
    adamwStep(p, flatFromExpected(params, exp, 'grad.'), state, params.specs, ADAMW_DEFAULTS);
    const d1 = expectFlatClose(params, p, flatFromExpected(params, exp, 'adamw.'), ATOL, RTOL, 'adamw');
    const p2 = flatFromExpected(params, exp, 'adamw.');
    adamwStep(p2, flatFromExpected(params, exp, 'grad2.'), state, params.specs, ADAMW_DEFAULTS);
    expect(state.step).toBe(2);
    const d2 = expectFlatClose(params, p2, flatFromExpected(params, exp, 'adamw2.'), ATOL, RTOL, 'adamw2');
    report(`${set}: isolated adamw ${d1.toExponential(2)}, adamw2 ${d2.toExponential(2)}`);
  });

  it('clip.adamw.*: clip grad.* to norm 1, then a step from a fresh optimizer; grad_norm and clip.coef', () => {
    const params = loadFixtureParams(set);
    const g = flatFromExpected(params, exp, 'grad.');
    const { norm, coef } = clipGradNorm(g, 1.0);
    const dn = expectClose([norm], exp.readF32('grad_norm'), 1e-5, 0, 'grad_norm');
    const dc = expectClose([coef], exp.readF32('clip.coef'), 1e-6, 0, 'clip.coef');
    expect(coef).toBeLessThan(1); // clipping is active in these fixtures
    expect(gradNorm(g)).toBeCloseTo(1, 5);
    const p = params.data.slice();
    adamwStep(p, g, createAdamWState(p.length), params.specs, ADAMW_DEFAULTS);
    const d = expectFlatClose(params, p, flatFromExpected(params, exp, 'clip.adamw.'), ATOL, RTOL, 'clip.adamw');
    report(`${set}: isolated clip.adamw ${d.toExponential(2)}, grad_norm (stored grads) ${dn.toExponential(2)}, clip.coef ${dc.toExponential(2)}`);
  });

  it('the bound catches mistakes: no weight decay (adamw), β2 = 0.99 (adamw2), β1 = 0.8 (adamw2)', () => {
    const params = loadFixtureParams(set);
    const fails = (cfg: AdamWConfig, twoSteps: boolean): boolean => {
      const state = createAdamWState(params.data.length);
      const p = params.data.slice();
      adamwStep(p, flatFromExpected(params, exp, 'grad.'), state, params.specs, cfg);
      if (!twoSteps) return !compareAll(params, p, flatFromExpected(params, exp, 'adamw.'));
      const p2 = flatFromExpected(params, exp, 'adamw.');
      adamwStep(p2, flatFromExpected(params, exp, 'grad2.'), state, params.specs, cfg);
      return !compareAll(params, p2, flatFromExpected(params, exp, 'adamw2.'));
    };
    expect(fails(ADAMW_DEFAULTS, false)).toBe(false);
    expect(fails(ADAMW_DEFAULTS, true)).toBe(false);
    expect(fails({ ...ADAMW_DEFAULTS, weightDecay: 0 }, false)).toBe(true);
    expect(fails({ ...ADAMW_DEFAULTS, beta2: 0.99 }, true)).toBe(true);
    expect(fails({ ...ADAMW_DEFAULTS, beta1: 0.8 }, true)).toBe(true);
  });

  it('decay reaches exactly the tensors expected.json lists (the 2-D weights)', () => {
    const params = loadFixtureParams(set);
    const decayed = params.specs.filter((s) => s.decay).map((s) => s.name).sort();
    const json = JSON.parse(readFileSync(fixtureDir(set) + 'expected.json', 'utf8')) as { adamw: { decayed: string[] } };
    expect(decayed).toEqual([...json.adamw.decayed].sort());
  });
});

function compareAll(params: Params, a: Float32Array, e: Float32Array): boolean {
  return params.specs.every((s) => compareClose(a.subarray(s.offset, s.offset + s.numel), e.subarray(s.offset, s.offset + s.numel), ATOL, RTOL).ok);
}

describe('AdamW details', () => {
  it('a step by hand: bias correction, eps after the corrected sqrt(v), decoupled decay, padding untouched', () => {
    const cfg: AdamWConfig = { lr: 0.01, beta1: 0.8, beta2: 0.9, eps: 1e-3, weightDecay: 0.1 };
    const specs = [
      { name: 'w', shape: [2, 1], offset: 0, numel: 2, decay: true },
      { name: 'b', shape: [1], offset: 4, numel: 1, decay: false },
    ];
    const p = Float32Array.of(1, -2, 0, 0, 0.5); // floats 2, 3: padding
    const state = createAdamWState(5);
    const gs = [Float32Array.of(0.3, -0.1, 0, 0, 2), Float32Array.of(-0.2, 0.4, 0, 0, 1)];
    const ref = [1, -2, 0, 0, 0.5], m = [0, 0, 0, 0, 0], v = [0, 0, 0, 0, 0];
    for (let t = 1; t <= 2; t++) {
      const g = gs[t - 1];
      adamwStep(p, g, state, specs, cfg);
      for (const i of [0, 1, 4]) {
        m[i] = 0.8 * m[i] + 0.2 * g[i];
        v[i] = 0.9 * v[i] + 0.1 * g[i] ** 2;
        const mhat = m[i] / (1 - 0.8 ** t), vhat = v[i] / (1 - 0.9 ** t);
        if (i < 2) ref[i] *= 1 - 0.01 * 0.1;
        ref[i] -= 0.01 * mhat / (Math.sqrt(vhat) + 1e-3);
        ref[i] = Math.fround(ref[i]);
      }
      expectClose(p, ref, 1e-7, 1e-6, `step ${t}`);
    }
    expect(state.step).toBe(2);
    expect([p[2], p[3], state.m[2], state.v[3]]).toEqual([0, 0, 0, 0]);
  });

  it('the lr argument overrides cfg.lr (a schedule), and lr 0 leaves parameters unchanged', () => {
    const specs = [{ name: 'w', shape: [1, 3], offset: 0, numel: 3, decay: true }];
    const p = Float32Array.of(1, 2, 3);
    adamwStep(p, Float32Array.of(1, 1, 1), createAdamWState(3), specs, ADAMW_DEFAULTS, 0);
    expect(Array.from(p)).toEqual([1, 2, 3]);
  });
});

describe('clipping as clip_grad_norm_', () => {
  it('coef = min(1, max/(norm + 1e-6)); gradients within the bound are untouched', () => {
    const g = Float32Array.of(3, 4); // norm 5
    expect(clipCoef(5, 1)).toBe(1 / (5 + 1e-6));
    const r = clipGradNorm(g, 1);
    expect(r.norm).toBe(5);
    expect(g[0]).toBe(Math.fround(3 / (5 + 1e-6)));
    const h = Float32Array.of(0.3, 0.4);
    const r2 = clipGradNorm(h, 1);
    expect(r2.coef).toBe(1);
    expect(Array.from(h)).toEqual([Math.fround(0.3), Math.fround(0.4)]);
    expect(clipGradNorm(Float32Array.of(NaN, 1), 1).norm).toBeNaN();
    expect(() => clipGradNorm(g, 0)).toThrow(/positive/);
  });

  it('a tied wte is counted once (it is one tensor of the flat buffer)', () => {
    const params = loadFixtureParams('gpt2-tiny');
    expect(params.untiedHead).toBe(false);
    expect(params.specs.filter((s) => s.name === 'wte.weight' || s.name === 'lm_head.weight').length).toBe(1);
  });
});

describe('learning-rate schedules (HF get_*_schedule_with_warmup)', () => {
  // longhand, straight from transformers/optimization.py
  const warm = (s: number, W: number): number => s / Math.max(1, W);
  const linear = (s: number, W: number, N: number): number => (s < W ? warm(s, W) : Math.max(0, (N - s) / Math.max(1, N - W)));
  const cosine = (s: number, W: number, N: number): number =>
    s < W ? warm(s, W) : Math.max(0, 0.5 * (1 + Math.cos(Math.PI * 0.5 * 2 * ((s - W) / Math.max(1, N - W)))));
  const constant = (s: number, W: number): number => (s < W ? warm(s, W) : 1);

  it.each([[0, 100], [10, 100], [7, 13], [1, 1], [0, 1]])('every step, warmup %i of %i total', (W, N) => {
    for (let s = 0; s <= N + 3; s++) {
      expect(lrLambda({ name: 'linear', lr: 1, warmupSteps: W, totalSteps: N }, s)).toBe(linear(s, W, N));
      expect(lrLambda({ name: 'cosine', lr: 1, warmupSteps: W, totalSteps: N }, s)).toBe(cosine(s, W, N));
      expect(lrLambda({ name: 'constant', lr: 1, warmupSteps: W, totalSteps: N }, s)).toBe(constant(s, W));
    }
  });

  it('landmarks: warmup ramps from 0, linear and cosine reach 0 at the end, cosine is 1/2 halfway', () => {
    const c: ScheduleConfig = { name: 'cosine', lr: 2e-4, warmupSteps: 10, totalSteps: 110 };
    expect(learningRate(c, 0)).toBe(0);
    expect(learningRate(c, 5)).toBeCloseTo(1e-4, 15);
    expect(learningRate(c, 10)).toBe(2e-4);
    expect(learningRate(c, 60)).toBeCloseTo(1e-4, 15);
    expect(lrLambda(c, 35)).toBeCloseTo(0.5 * (1 + Math.SQRT1_2), 15);
    expect(learningRate(c, 110)).toBe(0);
    const l: ScheduleConfig = { name: 'linear', lr: 1.372e-4, warmupSteps: 0, totalSteps: 8 };
    expect([0, 2, 4, 8, 9].map((s) => lrLambda(l, s))).toEqual([1, 0.75, 0.5, 0, 0]);
    expect(lrLambda({ name: 'constant', lr: 1, warmupSteps: 0, totalSteps: 5 }, 0)).toBe(1);
    expect(() => lrLambda({ name: 'step' as 'linear', lr: 1, warmupSteps: 0, totalSteps: 5 }, 1)).toThrow(/unknown schedule/);
  });
});
