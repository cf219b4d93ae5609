// One training step on the CPU: forward → loss → backward (accumulated over micro-batches) →
// clip → AdamW, over the flat parameter, gradient and optimizer buffers. For the trainer.
//
// API (the trainer's view):
//   const ctx = createTrainContext(params, { B, T, dropout: true });  // buffers sized for (B, T)
//   const r = await trainStep(ctx, [batch1, batch2], {                 // 2 micro-batches
//     lr: learningRate(schedule, ctx.opt.step),                         // schedule.ts
//     adamw: { ...ADAMW_DEFAULTS, weightDecay: 0 },
//     maxGradNorm: 1.0,                                                 // null: no clipping
//     dropout: { rng },                                                 // null/absent: no dropout
//   });
//   r.loss (mean over micro-batches), r.gradNorm (before clipping), r.clipCoef, r.tokens
// `ctx.params` is updated in place (ctx.params.data is the flat parameter buffer); `ctx.opt` is the
// AdamW state (step, m, v) to save in a checkpoint; `ctx.grads.buffer` holds the last gradients.
// disposeTrainContext(ctx) frees the buffers (the CPU backend keeps them in its wasm heap, which
// the garbage collector does not see) and the backend when the context created it.
//
// Gradient accumulation follows the HF Trainer: each micro-batch's loss is the mean over its
// counted targets (not −100), divided by the number of micro-batches; gradients add up; the
// reported loss is the mean of the micro-batch losses.

import type { TrainingBackend } from '../backend.ts';
import { CpuBackend } from '../cpu/backend.ts';
import { IGNORE_INDEX, countTargets } from '../cpu/crossentropy.ts';
import { type Activations, type GradActivations, allocActivations, allocGradActivations } from '../model/activations.ts';
import { type DeviceParams, type DropoutOptions, allocGrads, gpt2Backward, gpt2Forward, gpt2Loss, uploadParams } from '../model/gpt2.ts';
import type { Params } from '../params.ts';
import { wasmHeap } from '../wasm/heap.ts';
import { type AdamWConfig, type AdamWState, adamwScalars, adamwStep, createAdamWState } from './adamw.ts';
import { clipCoef, gradNorm } from './clip.ts';

/** One micro-batch: (B, T) row-major token ids and targets (already shifted; −100 = ignored). */
export interface TrainBatch {
  B: number;
  T: number;
  ids: Int32Array; // (B, T)
  targets: Int32Array; // (B, T)
  /** (B, T) attention mask, 1 = token, 0 = right padding; absent: every token is real */
  mask?: Int32Array | null;
}

/** Everything a training run keeps between steps (buffers are allocated once). */
export interface TrainContext {
  be: TrainingBackend<Float32Array, Int32Array>;
  params: Params;
  /** the parameters on the backend (on the CPU, views of params.data: no copy) */
  device: DeviceParams<Float32Array>;
  /** gradients, same layout as the parameters */
  grads: DeviceParams<Float32Array>;
  opt: AdamWState;
  acts: Activations<Float32Array>;
  gacts: GradActivations<Float32Array>;
  /** capacity: micro-batches may be smaller */
  B: number;
  T: number;
  /** true when createTrainContext created `be` (disposeTrainContext disposes it) */
  ownsBackend: boolean;
}

export interface TrainContextOptions {
  /** largest micro-batch shape */
  B: number;
  T: number;
  /** allocate dropout masks (needed when steps pass `dropout`) */
  dropout?: boolean;
  /** a training backend (default: a new CpuBackend) */
  backend?: TrainingBackend<Float32Array, Int32Array>;
  /** optimizer state to continue from (a checkpoint); default fresh */
  opt?: AdamWState;
}

export function createTrainContext(params: Params, o: TrainContextOptions): TrainContext {
  const be = o.backend ?? new CpuBackend();
  const cfg = params.config;
  if (o.T > cfg.nPositions) throw new RangeError(`block of ${o.T} tokens exceeds n_positions ${cfg.nPositions}`);
  const given = o.opt ?? createAdamWState(params.data.length);
  if (given.m.length !== params.data.length || given.v.length !== params.data.length) {
    throw new Error(`optimizer state has ${given.m.length} floats, the parameters ${params.data.length}`);
  }
  const opt = inHeap(given);
  return {
    be, params, opt, B: o.B, T: o.T, ownsBackend: !o.backend,
    device: uploadParams(be, params),
    grads: allocGrads(be, params),
    acts: allocActivations(be, cfg, { B: o.B, T: o.T, perLayer: true, keepHidden: false, allLogits: true, dropout: Boolean(o.dropout) }),
    gacts: allocGradActivations(be, cfg, o.B, o.T),
  };
}

/**
 * The optimizer state with its moments in the wasm heap (copied once when they are not, as after
 * loading a checkpoint), so the CPU backend's AdamW kernel can update them; the state as given
 * when there is no heap or no room.
 */
function inHeap(opt: AdamWState): AdamWState {
  const heap = wasmHeap();
  if (!heap || (heap.contains(opt.m) && heap.contains(opt.v))) return opt;
  const m = heap.allocF32(opt.m.length), v = heap.allocF32(opt.v.length);
  if (!m || !v) {
    if (m) heap.freeArray(m);
    return opt;
  }
  m.set(opt.m);
  v.set(opt.v);
  return { step: opt.step, m, v };
}

/** Free the context's buffers, and its backend when the context created it. */
export function disposeTrainContext(ctx: TrainContext): void {
  const { be } = ctx;
  be.free(ctx.acts.buffer);
  be.free(ctx.gacts.buffer);
  be.free(ctx.grads.buffer);
  if (ctx.device.buffer !== ctx.params.data) be.free(ctx.device.buffer); // an uploaded copy
  if (ctx.ownsBackend) be.dispose();
}

/**
 * Zero the gradients, then forward + loss + backward for each micro-batch, adding up gradients
 * of (mean of the micro-batch losses). Returns that mean loss and the number of counted targets.
 */
export async function computeGradients(ctx: TrainContext, micro: readonly TrainBatch[],
  dropout: DropoutOptions | null = null): Promise<{ loss: number; tokens: number }> {
  const { be, device, grads, acts, gacts } = ctx;
  if (micro.length === 0) throw new RangeError('a step needs at least one micro-batch');
  be.zero(grads.buffer, grads.buffer.length);
  let loss = 0, tokens = 0;
  for (const [i, mb] of micro.entries()) {
    const { B, T } = mb;
    if (B > ctx.B || T > ctx.T) throw new RangeError(`micro-batch ${i} is ${B}×${T}, the context holds ${ctx.B}×${ctx.T}`);
    if (mb.ids.length !== B * T || mb.targets.length !== B * T || (mb.mask && mb.mask.length !== B * T)) {
      throw new RangeError(`micro-batch ${i}: ids, targets and mask must each hold ${B}×${T} values`);
    }
    const count = countTargets(mb.targets);
    if (count === 0) throw new RangeError(`micro-batch ${i} has no targets (all are ${IGNORE_INDEX})`);
    const mask = mb.mask ?? null;
    gpt2Forward(be, device, acts, mb.ids, B, T, { mask, logits: 'all', dropout });
    loss += (await gpt2Loss(be, device, acts, gacts, mb.targets, B, T, count)) / micro.length;
    gpt2Backward(be, device, grads, acts, gacts, mb.ids, mb.targets, B, T, { mask, lossScale: 1 / (count * micro.length) });
    tokens += count;
  }
  return { loss, tokens };
}

export interface StepOptions {
  /** this step's learning rate (schedule.ts learningRate(schedule, ctx.opt.step)) */
  lr: number;
  adamw: AdamWConfig;
  /** clip the global gradient norm to this (HF max_grad_norm); null or absent: no clipping */
  maxGradNorm?: number | null;
  /** dropout in training mode (masks from dropout.rng); null or absent: none */
  dropout?: DropoutOptions | null;
}

export interface StepResult {
  /** mean loss over the micro-batches, before the update */
  loss: number;
  /** global gradient norm before clipping */
  gradNorm: number;
  /** the clip coefficient applied (1: none) */
  clipCoef: number;
  lr: number;
  /** counted targets in the step */
  tokens: number;
}

/**
 * One optimizer step: gradients over the micro-batches, clipping, AdamW (ctx.opt.step += 1).
 * A NaN or infinite loss or gradient norm throws before the parameters change.
 */
export async function trainStep(ctx: TrainContext, micro: readonly TrainBatch[], o: StepOptions): Promise<StepResult> {
  const { loss, tokens } = await computeGradients(ctx, micro, o.dropout ?? null);
  const g = ctx.grads.buffer;
  const cpu = ctx.be instanceof CpuBackend ? ctx.be : null;
  if (o.maxGradNorm != null && !(o.maxGradNorm > 0)) throw new RangeError(`max grad norm must be positive, got ${o.maxGradNorm}`);
  // clip_grad_norm_ then AdamW. On the CPU backend's wasm kernels: one pass for Σ g², then one fused
  // pass that scales g by the clip coefficient and updates p, m, v (results identical to the JS
  // clipGradNorm + adamwStep, which run otherwise).
  const sq = cpu?.sumSquares(g) ?? null;
  const norm = sq !== null ? Math.sqrt(sq) : gradNorm(g);
  const coef = o.maxGradNorm != null && Number.isFinite(norm) ? clipCoef(norm, o.maxGradNorm) : 1;
  if (!Number.isFinite(loss) || !Number.isFinite(norm)) {
    throw new Error(`non-finite ${Number.isFinite(loss) ? 'gradient norm' : 'loss'} (loss ${loss}, grad norm ${norm}); parameters not updated`);
  }
  const t = ctx.opt.step + 1;
  const sc = adamwScalars(o.adamw, o.lr, t);
  const fused = cpu?.adamwUpdate(ctx.params.data, g, ctx.opt.m, ctx.opt.v, ctx.params.specs,
    { beta1: o.adamw.beta1, beta2: o.adamw.beta2, eps: o.adamw.eps, ...sc, coef }) ?? false;
  if (fused) ctx.opt.step = t;
  else {
    if (coef < 1) for (let i = 0; i < g.length; i++) g[i] *= coef; // as clipGradNorm scales
    adamwStep(ctx.params.data, g, ctx.opt, ctx.params.specs, o.adamw, o.lr);
  }
  // the CPU backend computes on params.data itself; another backend gets the new values
  if (ctx.device.buffer !== ctx.params.data) ctx.be.writeF32(ctx.device.buffer, ctx.params.data);
  return { loss, gradNorm: norm, clipCoef: coef, lr: o.lr, tokens };
}

/**
 * The loss and the gradient of every parameter for one batch at `params` (CPU, float32, no
 * dropout): what `gpt2ts trace` writes for inputs with targets (`loss`, `grad.<name>`, `grad_norm`).
 * ids, targets: [B][T]; targets equal to ignoreIndex are not counted.
 */
export async function lossAndGradients(params: Params, ids: readonly (readonly number[])[], targets: readonly (readonly number[])[],
  ignoreIndex = IGNORE_INDEX): Promise<{ loss: number; grads: Map<string, Float32Array>; gradNorm: number }> {
  const B = ids.length, T = ids[0]?.length ?? 0;
  if (B === 0 || T === 0) throw new RangeError('input_ids is empty');
  const V = params.config.vocabSize;
  const flatIds = Int32Array.from(ids.flat());
  const flatTargets = Int32Array.from(targets.flat(), (y) => (y === ignoreIndex ? IGNORE_INDEX : y));
  if (flatIds.length !== B * T || flatTargets.length !== B * T) throw new RangeError('input_ids and targets must be rectangular and the same shape');
  for (const [i, id] of flatIds.entries()) if (id < 0 || id >= V) throw new RangeError(`token id ${id} at position ${i} is outside the vocabulary (0..${V - 1})`);
  const ctx = createTrainContext(params, { B, T });
  try {
    const { loss } = await computeGradients(ctx, [{ B, T, ids: flatIds, targets: flatTargets }]);
    const grads = new Map<string, Float32Array>();
    for (const s of params.specs) grads.set(s.name, ctx.grads.buffer.slice(s.offset, s.offset + s.numel));
    return { loss, grads, gradNorm: gradNorm(ctx.grads.buffer) };
  } finally {
    disposeTrainContext(ctx);
  }
}
