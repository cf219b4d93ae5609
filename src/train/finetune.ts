// The huggingtweets workflow as a function: tweets archives → cleaned, mixed, tokenized blocks →
// fine-tune a GPT-2 → a Hugging Face folder with config (generation defaults), weights,
// tokenizer, model card and loss curve.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModelFiles } from '../io/model.ts';
import { defaultModelPath, weightsDir } from '../io/paths.ts';
import { Tokenizer } from '../tokenizer/index.ts';
import { modelCard } from './card.ts';
import { type TweetDataset, buildTweetDataset } from './data/index.ts';
import { type StepInfo, type TrainResult, type TrainSettings, lossCurveSvg, runTraining, writeModelFolder } from './trainer.ts';

export interface FineTuneOptions {
  data: string[];
  out: string;
  /** base model path (default: the embedded default model) */
  model?: string;
  epochs: number;
  /** tokens per block (default min(1024, n_positions)) */
  blockSize?: number;
  /** fraction of each user's tweets held out for validation (0: none) */
  validation: number;
  resume: boolean;
  settings: TrainSettings;
  signal?: AbortSignal;
  onDataset?: (ds: TweetDataset) => void;
  onStep?: (s: StepInfo) => void;
  onEval?: (step: number, loss: number) => void;
  onCheckpoint?: (path: string) => void;
}

/** The tokenizer files of a model folder, or the shipped GPT-2 ones. */
export function tokenizerFiles(dir: string): { encoder: string; merges: string } {
  const enc = ['encoder.json', 'vocab.json'].map((f) => join(dir, f)).find(existsSync);
  const mer = ['vocab.bpe', 'merges.txt'].map((f) => join(dir, f)).find(existsSync);
  if (enc && mer) return { encoder: enc, merges: mer };
  return { encoder: join(weightsDir(), 'encoder.json'), merges: join(weightsDir(), 'vocab.bpe') };
}

export async function fineTuneOnTweets(o: FineTuneOptions): Promise<TrainResult & { dataset: TweetDataset }> {
  if (!Number.isSafeInteger(o.epochs) || o.epochs < 1) throw new RangeError(`epochs must be an integer ≥ 1, got ${o.epochs}`);
  const basePath = o.model ?? defaultModelPath();
  const base = loadModelFiles(basePath);
  const cfg = base.config;
  const tokenizer = Tokenizer.fromModel(basePath);
  if (tokenizer.vocabSize > cfg.vocabSize) {
    throw new Error(`the base model's vocabulary (${cfg.vocabSize}) is smaller than its tokenizer's (${tokenizer.vocabSize}); fine-tuning on text needs a GPT-2 vocabulary`);
  }
  const blockSize = o.blockSize ?? Math.min(1024, cfg.nPositions);
  if (!Number.isSafeInteger(blockSize) || blockSize < 2 || blockSize > cfg.nPositions) {
    throw new RangeError(`block size must be an integer in 2..${cfg.nPositions} (n_positions), got ${blockSize}`);
  }
  // huggingtweets baked the epochs into the text as shuffled passes and trained over it once
  const dataset = buildTweetDataset(o.data, {
    tokenizer, nPositions: cfg.nPositions, blockSize, seed: o.settings.seed, validationFraction: o.validation, passes: o.epochs,
  });
  o.onDataset?.(dataset);
  if (!dataset.train.blocks.length) throw new Error(`the tweets make ${dataset.train.totalTokens} tokens, less than one block of ${blockSize}; lower --block-size`);
  const identity = {
    data: o.data.map((f) => createHash('sha256').update(readFileSync(f)).digest('hex').slice(0, 16)),
    base: createHash('sha256').update(new Uint8Array(base.params.data.buffer, base.params.data.byteOffset, base.params.data.byteLength)).digest('hex').slice(0, 16),
    epochs: o.epochs, validation: o.validation, blockSize,
  };
  const r = await runTraining({
    dir: o.out, params: base.params, train: dataset.train.blocks, validation: dataset.validation?.blocks ?? null,
    settings: o.settings, resume: o.resume, identity, ...(o.signal ? { signal: o.signal } : {}),
    ...(o.onStep ? { onStep: o.onStep } : {}), ...(o.onEval ? { onEval: o.onEval } : {}), ...(o.onCheckpoint ? { onCheckpoint: o.onCheckpoint } : {}),
  });
  if (!r.interrupted && r.state.step === r.state.totalSteps) {
    const s = o.settings;
    const last = r.state.history.at(-1)?.loss ?? null;
    const lastVal = r.state.validation.at(-1)?.loss ?? null;
    const card = modelCard({
      config: r.params.config, users: dataset.users, base: o.model ?? 'the embedded gpt2ts default model',
      hyperparameters: {
        epochs: o.epochs, 'learning rate': s.lr, schedule: `${s.schedule}${s.warmup ? `, ${s.warmup} warmup steps` : ''}`,
        'batch size': s.batchSize, 'gradient accumulation': s.gradAccum, 'block size': blockSize,
        'weight decay': s.weightDecay, 'gradient clipping': s.clip ?? 'none', optimizer: 'AdamW (β 0.9, 0.999; ε 1e-8)',
        dropout: s.dropout ?? 'from config', seed: s.seed, steps: r.state.totalSteps,
      },
      steps: r.state.step, finalLoss: last, finalValidationLoss: lastVal,
    });
    writeModelFolder(o.out, r.params, { tokenizer: tokenizerFiles(base.source.dir), card, lossSvg: lossCurveSvg(r.state) });
  }
  return { ...r, dataset };
}
