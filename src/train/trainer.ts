// The training loop: seeded block order, micro-batches with gradient accumulation, the LR schedule,
// clipping, AdamW, periodic validation and checkpoints, bit-exact resume, a JSONL log, and a
// clean stop on an abort signal (SIGINT in the CLI) or a non-finite loss.
//
// `runTraining` is the loop over token blocks (any text); `fineTuneOnTweets` builds the
// huggingtweets dataset, runs the loop and writes a Hugging Face GPT-2 folder with a model card.

import { appendFileSync, copyFileSync, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configToHF } from '../config.ts';
import { allocActivations } from '../model/activations.ts';
import { gpt2Forward } from '../model/gpt2.ts';
import { Rng } from '../generate/rng.ts';
import type { Params } from '../params.ts';
import { ADAMW_DEFAULTS } from './adamw.ts';
import { type TrainerState, latestCheckpoint, loadCheckpoint, paramTensors, saveCheckpoint } from './checkpoint.ts';
import { crossEntropyLoss } from './loss.ts';
import { lineChartSvg } from './plot.ts';
import { type ScheduleName, learningRate } from './schedule.ts';
import { type TrainBatch, createTrainContext, disposeTrainContext, trainStep } from './step.ts';
import { writeSafetensors } from '../io/safetensors.ts';

export interface TrainSettings {
  lr: number;
  batchSize: number;
  gradAccum: number;
  schedule: ScheduleName;
  warmup: number;
  weightDecay: number;
  /** global-norm clipping; null for none */
  clip: number | null;
  seed: number;
  /** steps between validation runs (0: only at the end) */
  evalEvery: number;
  /** steps between checkpoints (0: only at the end) */
  saveEvery: number;
  /** checkpoints kept */
  keep: number;
  /** dropout probability for embeddings, attention and residuals; null: the config's */
  dropout: number | null;
  /** train this many steps in all (at most one pass over the blocks), the schedule spanning
   * them, as HF TrainingArguments.max_steps; null: one pass over the blocks */
  maxSteps: number | null;
}

export const TRAIN_DEFAULTS: TrainSettings = {
  lr: 1.372e-4, batchSize: 1, gradAccum: 1, schedule: 'cosine', warmup: 0, weightDecay: 0, clip: 1.0,
  seed: 42, evalEvery: 0, saveEvery: 0, keep: 2, dropout: null, maxSteps: null,
};

export interface StepInfo {
  step: number;
  totalSteps: number;
  /** passes over the training blocks done, fractional */
  epoch: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokensPerSecond: number;
}

export interface TrainRun {
  /** where checkpoints and the log go */
  dir: string;
  params: Params;
  train: Int32Array[];
  validation: Int32Array[] | null;
  settings: TrainSettings;
  /** continue from the newest checkpoint in dir */
  resume: boolean;
  /** recorded in trainer_state.json and checked on resume (data files, block size, ...) */
  identity: Record<string, unknown>;
  signal?: AbortSignal;
  onStep?: (s: StepInfo) => void;
  onEval?: (step: number, loss: number) => void;
  onCheckpoint?: (path: string) => void;
}

export interface TrainResult {
  params: Params;
  state: TrainerState;
  interrupted: boolean;
}

export class TrainingInterrupted extends Error {}

/** The (ids, targets) of a block: targets are the next tokens; the last position has none (−100). */
function blockBatch(blocks: Int32Array[]): TrainBatch {
  const B = blocks.length, T = blocks[0].length;
  const ids = new Int32Array(B * T), targets = new Int32Array(B * T);
  blocks.forEach((blk, b) => {
    ids.set(blk, b * T);
    targets.set(blk.subarray(1), b * T);
    targets[b * T + T - 1] = -100;
  });
  return { B, T, ids, targets };
}

/** A seeded permutation of 0..n-1 (Fisher–Yates with PCG32), the order blocks are visited in. */
export function blockOrder(n: number, seed: number): Uint32Array {
  const rng = new Rng(seed, 7);
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const t = order[i]; order[i] = order[j]; order[j] = t;
  }
  return order;
}

export async function runTraining(run: TrainRun): Promise<TrainResult> {
  const s = run.settings;
  const T = run.train[0]?.length ?? 0;
  if (!run.train.length) throw new Error('no training blocks');
  const perStep = s.batchSize * s.gradAccum;
  const totalSteps = Math.min(Math.ceil(run.train.length / perStep), s.maxSteps ?? Infinity);
  const settings = { ...run.identity, T, blocks: run.train.length, lr: s.lr, batchSize: s.batchSize, gradAccum: s.gradAccum, schedule: s.schedule, warmup: s.warmup, weightDecay: s.weightDecay, clip: s.clip, seed: s.seed, dropout: s.dropout, totalSteps };
  mkdirSync(run.dir, { recursive: true });

  let params = run.params;
  let state: TrainerState = { step: 0, position: 0, totalSteps, dropoutRng: new Rng(s.seed, 11).getState(), settings, history: [], validation: [] };
  let opt;
  if (run.resume) {
    const ckpt = latestCheckpoint(run.dir);
    if (!ckpt) throw new Error(`--resume: no checkpoint in ${run.dir}`);
    const loaded = loadCheckpoint(ckpt);
    const changed = Object.keys(settings).filter((k) => JSON.stringify(settings[k as keyof typeof settings]) !== JSON.stringify(loaded.state.settings[k]));
    if (changed.length) throw new Error(`--resume: ${ckpt} was trained with different settings (${changed.join(', ')}); start a new output folder instead`);
    params = loaded.params;
    opt = loaded.opt;
    state = loaded.state;
  }
  const dropoutRng = new Rng(0);
  dropoutRng.setState(state.dropoutRng);
  const useDropout = (s.dropout ?? Math.max(params.config.embdPdrop, params.config.attnPdrop, params.config.residPdrop)) > 0;
  const ctx = createTrainContext(params, { B: s.batchSize, T, dropout: useDropout, ...(opt ? { opt } : {}) });
  const order = blockOrder(run.train.length, s.seed);
  const logPath = join(run.dir, 'trainer_log.jsonl');
  const schedule = { name: s.schedule, lr: s.lr, warmupSteps: s.warmup, totalSteps };
  const adamw = { ...ADAMW_DEFAULTS, lr: s.lr, weightDecay: s.weightDecay };
  const dropout = useDropout ? { rng: dropoutRng, ...(s.dropout !== null ? { embd: s.dropout, attn: s.dropout, resid: s.dropout } : {}) } : null;
  let lastSaved = state.step;
  const save = (): void => {
    state.dropoutRng = dropoutRng.getState();
    const path = saveCheckpoint(run.dir, ctx.params, ctx.opt, state, s.keep);
    lastSaved = state.step;
    run.onCheckpoint?.(path);
  };
  const evaluate = async (): Promise<void> => {
    if (!run.validation?.length) return;
    const loss = await validationLoss(ctx, run.validation, s.batchSize);
    state.validation.push({ step: state.step, loss });
    appendFileSync(logPath, JSON.stringify({ step: state.step, eval_loss: loss }) + '\n');
    run.onEval?.(state.step, loss);
  };

  let interrupted = false;
  try {
    while (state.step < totalSteps) {
      // let the event loop run (signals, I/O): a CPU step never waits on anything by itself
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (run.signal?.aborted) {
        interrupted = true;
        break;
      }
      const t0 = performance.now();
      const micro: TrainBatch[] = [];
      for (let a = 0; a < s.gradAccum && state.position < order.length; a++) {
        const n = Math.min(s.batchSize, order.length - state.position);
        const blocks = Array.from({ length: n }, (_, i) => run.train[order[state.position + i]]);
        state.position += n;
        micro.push(blockBatch(blocks));
      }
      const lr = learningRate(schedule, state.step);
      let r;
      try {
        r = await trainStep(ctx, micro, { lr, adamw, maxGradNorm: s.clip, dropout });
      } catch (e) {
        const last = latestCheckpoint(run.dir);
        throw new Error(`training stopped at step ${state.step + 1}: ${e instanceof Error ? e.message : String(e)}; ${last ? `the last good checkpoint is ${last}` : 'no checkpoint was written'}`);
      }
      state.step++;
      const dt = (performance.now() - t0) / 1000;
      state.history.push({ step: state.step, loss: r.loss });
      const info: StepInfo = {
        step: state.step, totalSteps, epoch: state.position / order.length, loss: r.loss, lr, gradNorm: r.gradNorm,
        tokensPerSecond: r.tokens / Math.max(dt, 1e-9),
      };
      appendFileSync(logPath, JSON.stringify({ step: info.step, epoch: +info.epoch.toFixed(4), loss: r.loss, lr, grad_norm: r.gradNorm, tokens_per_s: +info.tokensPerSecond.toFixed(1) }) + '\n');
      run.onStep?.(info);
      if (s.evalEvery > 0 && state.step % s.evalEvery === 0) await evaluate();
      if (s.saveEvery > 0 && state.step % s.saveEvery === 0) save();
    }
    if (!interrupted && state.step === totalSteps && (s.evalEvery === 0 || state.step % s.evalEvery !== 0)) await evaluate();
    if (lastSaved !== state.step || !latestCheckpoint(run.dir)) save();
    return { params: ctx.params, state, interrupted };
  } finally {
    disposeTrainContext(ctx);
  }
}

/** Mean loss over validation blocks (no dropout), batch by batch. */
async function validationLoss(ctx: ReturnType<typeof createTrainContext>, blocks: Int32Array[], batchSize: number): Promise<number> {
  const be = ctx.be, cfg = ctx.params.config;
  const T = blocks[0].length, V = cfg.vocabSize;
  const acts = allocActivations(be, cfg, { B: batchSize, T, perLayer: false, keepHidden: false, allLogits: true });
  const ids = be.allocI32(batchSize * T);
  let sum = 0, count = 0;
  try {
    for (let i = 0; i < blocks.length; i += batchSize) {
      const batch = blockBatch(blocks.slice(i, i + batchSize));
      be.writeI32(ids, batch.ids);
      const r = gpt2Forward(be, ctx.device, acts, ids, batch.B, T, { logits: 'all' });
      if (!r.logits) throw new Error('internal: no logits');
      const logits = await be.readF32(r.logits, batch.B * T * V);
      const n = batch.B * (T - 1);
      sum += crossEntropyLoss(logits, batch.targets, V) * n;
      count += n;
    }
  } finally {
    be.free(acts.buffer);
    be.free(ids);
  }
  return sum / count;
}

/** The loss curve of a run as SVG. */
export function lossCurveSvg(state: TrainerState): string {
  return lineChartSvg([
    { name: 'training loss', color: '#1f77b4', points: state.history.map((h) => [h.step, h.loss]) },
    { name: 'validation loss', color: '#d62728', points: state.validation.map((h) => [h.step, h.loss]) },
  ], { title: 'Loss', xLabel: 'step', yLabel: 'cross-entropy' });
}

/** The huggingtweets generation settings, as they wrote them into config.json. */
export const HUGGINGTWEETS_GENERATION = {
  'text-generation': { do_sample: true, max_length: 160, min_length: 10, prefix: '<|endoftext|>', temperature: 1.0, top_p: 0.95 },
};

/**
 * Write a Hugging Face GPT-2 folder: config.json (with task_specific_params), model.safetensors,
 * the tokenizer files, README.md and loss.svg — under a temporary name, then renamed into `dir/`
 * file by file so a failure never leaves a half-written file.
 */
export function writeModelFolder(dir: string, params: Params, files: { tokenizer: { encoder: string; merges: string }; card: string; lossSvg: string }): void {
  mkdirSync(dir, { recursive: true });
  const cfg = { ...params.config, taskSpecificParams: { ...(params.config.taskSpecificParams ?? {}), ...HUGGINGTWEETS_GENERATION } };
  const put = (name: string, write: (tmp: string) => void): void => {
    const tmp = join(dir, `.${name}.tmp-${process.pid}`);
    try {
      write(tmp);
      renameSync(tmp, join(dir, name));
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
  };
  writeSafetensors(join(dir, 'model.safetensors'), paramTensors(params), { format: 'pt' });
  put('config.json', (t) => writeFileSync(t, JSON.stringify(configToHF(cfg), null, 2) + '\n'));
  put('encoder.json', (t) => copyFileSync(files.tokenizer.encoder, t));
  put('vocab.bpe', (t) => copyFileSync(files.tokenizer.merges, t));
  put('loss.svg', (t) => writeFileSync(t, files.lossSvg));
  put('README.md', (t) => writeFileSync(t, files.card));
  if (!existsSync(join(dir, 'model.safetensors'))) throw new Error(`internal: ${dir}/model.safetensors was not written`);
}
