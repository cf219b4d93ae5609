// The exact backward pass on the CPU against the PyTorch reference fixtures (every set): loss,
// every gradient, the global norm and clip coefficient, gelu_new's derivative; then end to end,
// the engine's own gradients through its own AdamW steps (adamw.*, clip.adamw.*, adamw2.*), the
// loss and gradients after step 1 (loss_after_adamw, grad2.*). Tolerances and the near-zero
// gradient rule are test/fixtures/README.md's.

import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/cpu/backend.ts';
import { geluBackward, geluGrad } from '../src/cpu/gelu.ts';
import { Params } from '../src/params.ts';
import { ADAMW_DEFAULTS, adamwStep, createAdamWState } from '../src/train/adamw.ts';
import { clipGradNorm, gradNorm } from '../src/train/clip.ts';
import { computeGradients, createTrainContext, disposeTrainContext, lossAndGradients } from '../src/train/step.ts';
import { FIXTURE_SETS, expectClose, fixtureExpected, fixtureInputs } from './helpers/fixtures.ts';
import { expectFlatClose, expectSplitClose, fixtureBatch, flatFromExpected, loadFixtureParams, report } from './helpers/training.ts';

/**
 * loss and flat gradients at the given parameters for the fixture batch, on the default CPU backend
 * or on its plain-JavaScript rung (`kernels: 'js'`, where matmulBackward is matmulBackwardNaive)
 */
async function gradsAt(params: Params, set: string, kernels?: 'js'): Promise<{ loss: number; grads: Float32Array }> {
  const batch = fixtureBatch(set);
  const backend = new CpuBackend(kernels ? { kernels } : {});
  const ctx = createTrainContext(params, { B: batch.B, T: batch.T, backend });
  try {
    const { loss } = await computeGradients(ctx, [batch]);
    return { loss, grads: ctx.grads.buffer.slice() };
  } finally {
    disposeTrainContext(ctx);
    backend.dispose();
  }
}

describe.each(FIXTURE_SETS)('backward on %s', (set) => {
  const exp = fixtureExpected(set);

  it.each([['default', undefined], ['js (backward: matmulBackwardNaive)', 'js']] as const)('loss, every grad.*, grad_norm and clip.coef match the reference (%s kernels)', async (rung, kernels) => {
    const params = loadFixtureParams(set);
    const { loss, grads } = await gradsAt(params, set, kernels);
    const dLoss = expectClose([loss], exp.readF32('loss'), 1e-5, 0, 'loss');
    const dGrad = expectFlatClose(params, grads, flatFromExpected(params, exp, 'grad.'), 1e-5, 0, 'grad');
    const norm = gradNorm(grads);
    const dNorm = expectClose([norm], exp.readF32('grad_norm'), 1e-5, 0, 'grad_norm');
    const g = grads.slice();
    const { coef } = clipGradNorm(g, 1.0);
    const dCoef = expectClose([coef], exp.readF32('clip.coef'), 1e-6, 0, 'clip.coef');
    // padding between tensors stays exactly zero
    let pad = 0;
    let end = 0;
    for (const s of params.specs) {
      for (let i = end; i < s.offset; i++) pad = Math.max(pad, Math.abs(grads[i]));
      end = s.offset + s.numel;
    }
    expect(pad).toBe(0);
    // positions ≥ T of wpe get exactly zero gradient
    const T = fixtureInputs(set).input_ids[0].length, C = params.config.nEmbd;
    const gwpe = grads.subarray(params.spec('wpe.weight').offset, params.spec('wpe.weight').offset + params.spec('wpe.weight').numel);
    expect(gwpe.subarray(T * C).every((x) => x === 0)).toBe(true);
    report(`${set} (${rung} kernels): loss ${dLoss.toExponential(2)}, grad.* ${dGrad.toExponential(2)}, grad_norm ${dNorm.toExponential(2)}, clip.coef ${dCoef.toExponential(2)}`);
  });

  it('gelu_new derivative matches gelu.dy', () => {
    const x = exp.readF32('gelu.x');
    const dy = Float32Array.from(x, geluGrad);
    const d1 = expectClose(dy, exp.readF32('gelu.dy'), 1e-5, 0, 'gelu.dy');
    // geluBackward accumulates gelu'(x)·dout
    const acc = new Float32Array(x.length).fill(0.5);
    geluBackward(acc, x, new Float32Array(x.length).fill(1), x.length);
    const d2 = expectClose(acc.map((v) => v - 0.5), exp.readF32('gelu.dy'), 1e-5, 0, 'geluBackward');
    report(`${set}: gelu.dy ${Math.max(d1, d2).toExponential(2)}`);
  });

  it('end to end: own gradients, own AdamW steps (adamw.*, clip.adamw.*, loss_after_adamw, grad2.*, adamw2.*)', async () => {
    const params = loadFixtureParams(set);
    const g1Ref = flatFromExpected(params, exp, 'grad.');
    const g2Ref = flatFromExpected(params, exp, 'grad2.');
    const { grads: g1 } = await gradsAt(params, set);
    const g1Own = g1.slice();

    // clip.adamw: clip own gradients to norm 1, one step from a fresh optimizer
    const pClip = new Params(params.config, false, params.data.slice());
    const gc = g1Own.slice();
    clipGradNorm(gc, 1.0);
    adamwStep(pClip.data, gc, createAdamWState(gc.length), pClip.specs, ADAMW_DEFAULTS);
    const clip = expectSplitClose(params, pClip.data, flatFromExpected(params, exp, 'clip.adamw.'), [g1Ref], 1e-6, 'clip.adamw');

    // adamw: one step with own gradients
    const p1 = new Params(params.config, false, params.data.slice());
    const state = createAdamWState(p1.data.length);
    adamwStep(p1.data, g1Own, state, p1.specs, ADAMW_DEFAULTS);
    const a1 = expectSplitClose(params, p1.data, flatFromExpected(params, exp, 'adamw.'), [g1Ref], 1e-6, 'adamw');

    // loss_after_adamw, grad2: at the engine's own step-1 parameters
    const r2 = await gradsAt(p1, set);
    const dLoss2 = expectClose([r2.loss], exp.readF32('loss_after_adamw'), 1e-5, 0, 'loss_after_adamw');
    const dGrad2 = expectFlatClose(params, r2.grads, g2Ref, 1e-5, 0, 'grad2');

    // adamw2: second step with own grad2, keeping the optimizer state of step 1
    adamwStep(p1.data, r2.grads.slice(), state, p1.specs, ADAMW_DEFAULTS);
    expect(state.step).toBe(2);
    const a2 = expectSplitClose(params, p1.data, flatFromExpected(params, exp, 'adamw2.'), [g1Ref, g2Ref], 1e-5, 'adamw2');
    report(`${set}: end to end adamw ${a1.big.toExponential(2)} (|g|<1e-5: ${a1.small.toExponential(2)} on ${a1.smallCount}), ` +
      `clip.adamw ${clip.big.toExponential(2)} (${clip.small.toExponential(2)}), loss_after_adamw ${dLoss2.toExponential(2)}, ` +
      `grad2.* ${dGrad2.toExponential(2)}, adamw2 ${a2.big.toExponential(2)} (${a2.small.toExponential(2)} on ${a2.smallCount})`);
  });

  it('loss_after_adamw and grad2.* at the stored adamw.* parameters', async () => {
    const params = loadFixtureParams(set);
    const p1 = new Params(params.config, false, flatFromExpected(params, exp, 'adamw.'));
    const { loss, grads } = await gradsAt(p1, set);
    const dl = expectClose([loss], exp.readF32('loss_after_adamw'), 1e-5, 0, 'loss_after_adamw');
    const dg = expectFlatClose(params, grads, flatFromExpected(params, exp, 'grad2.'), 1e-5, 0, 'grad2');
    report(`${set}: at stored adamw.*: loss_after_adamw ${dl.toExponential(2)}, grad2.* ${dg.toExponential(2)}`);
  });

  it('lossAndGradients (what trace writes) gives the same loss, grad.* and grad_norm', async () => {
    const params = loadFixtureParams(set);
    const inp = fixtureInputs(set);
    const r = await lossAndGradients(params, inp.input_ids, inp.targets, inp.ignore_index);
    expectClose([r.loss], exp.readF32('loss'), 1e-5, 0, 'loss');
    expectClose([r.gradNorm], exp.readF32('grad_norm'), 1e-5, 0, 'grad_norm');
    for (const s of params.specs) expectClose(r.grads.get(s.name) ?? [], exp.readF32(`grad.${s.name}`), 1e-5, 0, `grad.${s.name}`);
  });
});

describe('gradient accumulation', () => {
  it('micro-batches add up as HF Trainer: gradient of (loss₁ + loss₂ + loss₃)/3, each loss a mean over its own targets', async () => {
    const set = 'odd-6head';
    const params = loadFixtureParams(set);
    const full = fixtureBatch(set);
    const { T } = full;
    const row = (b: number) => ({ B: 1, T, ids: full.ids.slice(b * T, (b + 1) * T), targets: full.targets.slice(b * T, (b + 1) * T) });
    const ctx = createTrainContext(params, { B: full.B, T });
    const alone: { loss: number; g: Float32Array }[] = [];
    for (let b = 0; b < full.B; b++) {
      const r = await computeGradients(ctx, [row(b)]);
      alone.push({ loss: r.loss, g: ctx.grads.buffer.slice() });
    }
    const acc = await computeGradients(ctx, [row(0), row(1), row(2)]);
    const meanLoss = (alone[0].loss + alone[1].loss + alone[2].loss) / 3;
    expect(Math.abs(acc.loss - meanLoss)).toBeLessThan(1e-12);
    // Each element is a sum of three per-row gradients that often nearly cancel, and each carries
    // float32 noise of a few ulps of its own size (the fixtures measure ~4e-7 relative), so the
    // bound is relative to the largest per-row term: 1e-7 + 1e-6·max_i |g_i|. The alternatives
    // (one mean over all the batch's targets, or no division by 3) miss it by orders of magnitude.
    const within = (g: Float32Array, want: (i: number) => number): { ok: boolean; worst: number } => {
      let ok = true, worst = 0;
      for (let i = 0; i < g.length; i++) {
        const d = Math.abs(g[i] - want(i));
        const bound = 1e-7 + 1e-6 * Math.max(Math.abs(alone[0].g[i]), Math.abs(alone[1].g[i]), Math.abs(alone[2].g[i]));
        if (!(d <= bound)) ok = false;
        worst = Math.max(worst, d);
      }
      return { ok, worst };
    };
    const mean = (i: number): number => (alone[0].g[i] + alone[1].g[i] + alone[2].g[i]) / 3;
    const r = within(ctx.grads.buffer, mean);
    expect(r.ok, `max |accumulated − mean of rows| ${r.worst}`).toBe(true);
    // rows with different numbers of counted targets: the full batch's mean is a different gradient
    const counts = [0, 1, 2].map((b) => row(b).targets.filter((y) => y !== -100).length);
    expect(new Set(counts).size).toBeGreaterThan(1);
    await computeGradients(ctx, [full]);
    expect(within(ctx.grads.buffer, mean).ok).toBe(false);
    const d = r.worst;
    report(`gradient accumulation (odd-6head, 3 micro-batches of 1 row): max diff to mean of single-row gradients ${d.toExponential(2)}`);
  });
});
