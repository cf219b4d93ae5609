// Learning-rate schedules with optional linear warmup, as Hugging Face transformers defines them.
// Reference: transformers/optimization.py `get_constant_schedule_with_warmup`,
// `get_linear_schedule_with_warmup`, `get_cosine_schedule_with_warmup` (num_cycles 0.5).
//
// Each is a multiplier λ(step) of the base lr; step = the number of optimizer steps already taken
// (HF's LambdaLR starts at λ(0) and advances after every optimizer step), W = warmup steps,
// N = total training steps:
//   warmup (step < W):  λ = step / max(1, W)                      (so the very first step has lr 0 when W > 0)
//   constant:           λ = 1
//   linear:             λ = max(0, (N − step) / max(1, N − W))
//   cosine:             progress = (step − W) / max(1, N − W)
//                       λ = max(0, 0.5 · (1 + cos(π · 2·cycles · progress)))     cycles = 0.5: to 0 at N

export type ScheduleName = 'constant' | 'linear' | 'cosine';

export interface ScheduleConfig {
  name: ScheduleName;
  /** base learning rate */
  lr: number;
  /** W: linear warmup from 0 over this many steps (0: none) */
  warmupSteps: number;
  /** N: total optimizer steps (linear and cosine reach 0 there) */
  totalSteps: number;
  /** cosine only: number of cosine waves (HF default 0.5: one half-wave, from 1 down to 0) */
  numCycles?: number;
}

export const SCHEDULE_NAMES: readonly ScheduleName[] = ['constant', 'linear', 'cosine'];

/** λ(step), the multiplier of the base lr for the optimizer step taken after `step` steps */
export function lrLambda(cfg: ScheduleConfig, step: number): number {
  const W = cfg.warmupSteps, N = cfg.totalSteps;
  if (step < W) return step / Math.max(1, W);
  switch (cfg.name) {
    case 'constant':
      return 1;
    case 'linear':
      return Math.max(0, (N - step) / Math.max(1, N - W));
    case 'cosine': {
      const progress = (step - W) / Math.max(1, N - W);
      const cycles = cfg.numCycles ?? 0.5;
      return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * cycles * 2 * progress)));
    }
    default:
      throw new Error(`unknown schedule "${String(cfg.name)}" (use ${SCHEDULE_NAMES.join(', ')})`);
  }
}

/** The learning rate for the optimizer step taken after `step` steps: lr · λ(step). */
export function learningRate(cfg: ScheduleConfig, step: number): number {
  return cfg.lr * lrLambda(cfg, step);
}
