// AdamW, exactly as torch.optim.AdamW (decoupled weight decay, eps added after the bias
// correction of sqrt(v)), over flat buffers with the parameters' layout: parameters, gradients and
// the state m and v are each one Float32Array, and a step is one pass over them.
// Reference: torch.optim.AdamW (torch/optim/adamw.py `_single_tensor_adamw`); Loshchilov & Hutter,
// "Decoupled Weight Decay Regularization" (https://arxiv.org/abs/1711.05101); llm.c
// gpt2_update (https://github.com/karpathy/llm.c/blob/master/train_gpt2.c).
//
// Step t = 1, 2, ... (m = v = 0 before step 1), for every element:
//   p ← p · (1 − lr·wd)                                      only tensors with spec.decay (2-D weights)
//   m ← β1·m + (1 − β1)·g
//   v ← β2·v + (1 − β2)·g²
//   p ← p − (lr / (1 − β1^t)) · m / ( sqrt(v) / sqrt(1 − β2^t) + eps )
// Each element's update is computed in float64 and rounded once when stored (the fixture's
// reference does the same arithmetic in float64).

import type { ParamSpec } from '../params.ts';
import { allocShared } from '../wasm/heap.ts';

export interface AdamWConfig {
  /** base learning rate (a schedule scales it per step; see adamwStep's lr) */
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** decoupled weight decay, applied to tensors whose spec has `decay` */
  weightDecay: number;
}

/** torch.optim.AdamW's defaults (lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0.01). */
export const ADAMW_DEFAULTS: Readonly<AdamWConfig> = { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };

/** The optimizer state: the steps taken and the moment buffers, with the parameters' layout. */
export interface AdamWState {
  /** optimizer steps taken so far (t of the last step; 0 when fresh) */
  step: number;
  m: Float32Array; // first moment, same layout as the parameters
  v: Float32Array; // second moment, same layout as the parameters
}

/**
 * A fresh state for a flat parameter buffer of n floats (n = params.data.length). The moments live
 * in the wasm heap where there is one, so the CPU backend's AdamW kernel can update them in place.
 */
export function createAdamWState(n: number): AdamWState {
  return { step: 0, m: allocShared(n), v: allocShared(n) };
}

/** The per-step scalars of the update at step t (bias corrections), shared by every implementation. */
export function adamwScalars(cfg: AdamWConfig, lr: number, t: number): { stepSize: number; bc2Sqrt: number; decay: number } {
  return {
    stepSize: lr / (1 - cfg.beta1 ** t), // lr / bias_correction1
    bc2Sqrt: Math.sqrt(1 - cfg.beta2 ** t), // sqrt(bias_correction2)
    decay: 1 - lr * cfg.weightDecay, // decoupled weight decay factor (decayed tensors)
  };
}

/**
 * One AdamW step in place: params (flat), given grads (same layout), state.step += 1. `specs`
 * say where each tensor is and whether it decays; floats outside every tensor (alignment padding)
 * are left alone. `lr` overrides cfg.lr for this step (a schedule's value).
 */
export function adamwStep(params: Float32Array, grads: Float32Array, state: AdamWState, specs: readonly ParamSpec[],
  cfg: AdamWConfig, lr: number = cfg.lr): void {
  const n = params.length;
  if (grads.length !== n || state.m.length !== n || state.v.length !== n) {
    throw new Error(`internal: AdamW buffers differ in length (params ${n}, grads ${grads.length}, m ${state.m.length}, v ${state.v.length})`);
  }
  const { beta1: b1, beta2: b2, eps } = cfg;
  const t = state.step + 1;
  const { stepSize, bc2Sqrt, decay: wdFactor } = adamwScalars(cfg, lr, t);
  const { m, v } = state;
  for (const spec of specs) {
    const decay = spec.decay ? wdFactor : 1;
    const end = spec.offset + spec.numel;
    for (let i = spec.offset; i < end; i++) {
      const g = grads[i];
      const mi = b1 * m[i] + (1 - b1) * g;
      const vi = b2 * v[i] + (1 - b2) * g * g;
      m[i] = mi;
      v[i] = vi;
      params[i] = params[i] * decay - stepSize * mi / (Math.sqrt(vi) / bc2Sqrt + eps);
    }
  }
  state.step = t;
}
