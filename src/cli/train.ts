// `gpt2ts train`: fine-tune a GPT-2 on tweets archives, huggingtweets style (resumable).

import { SCHEDULE_NAMES } from '../train/schedule.ts';
import { fineTuneOnTweets } from '../train/finetune.ts';
import { TRAIN_DEFAULTS, type TrainSettings } from '../train/trainer.ts';
import { type Command, UsageError, bool, choice, int, num, parseFlags, str, write } from './common.ts';

export const trainCommand: Command = {
  name: 'train',
  summary: 'fine-tune on tweets archives (huggingtweets): a model folder with a card',
  help: `Usage: gpt2ts train --data FILE... --out DIR [options]

Fine-tunes a GPT-2 on one or more tweets archives (Twitter's tweets.js, JSONL, CSV with a text
column, or plain text: one file per user), huggingtweets style: retweets, links and very short
tweets are dropped, users are upsampled to the same size, and the tweets are joined with
<|endoftext|> and cut into blocks. DIR becomes a Hugging Face GPT-2 folder (config.json with the
generation defaults, model.safetensors, tokenizer files, README.md model card, loss.svg), with
checkpoints in DIR/checkpoint-N and a log of every step in DIR/trainer_log.jsonl.
Ctrl-C saves a checkpoint; --resume continues bit-exactly.

Options:
  --data FILE...        tweets archives (repeat --data or list several files)
  --out DIR             output folder (also holds checkpoints)
  --model PATH          base model (default: the embedded default model)
  --epochs N            passes over the tweets (default 4)
  --lr LR               learning rate (default ${TRAIN_DEFAULTS.lr})
  --batch-size N        blocks per micro-batch (default ${TRAIN_DEFAULTS.batchSize})
  --block-size N        tokens per block (default min(1024, n_positions))
  --schedule S          ${SCHEDULE_NAMES.join(', ')} (default ${TRAIN_DEFAULTS.schedule})
  --warmup N            linear warmup steps (default 0)
  --weight-decay W      AdamW decoupled weight decay (default 0)
  --clip C              clip the gradient norm to C; 0 disables (default 1.0)
  --grad-accum N        micro-batches per optimizer step (default 1)
  --dropout P           dropout for embeddings, attention and residuals (default: the config's)
  --validation F        fraction of each user's tweets held out (default 0)
  --seed S              seed of the data order, split and dropout (default ${TRAIN_DEFAULTS.seed})
  --eval-every N        validation loss every N steps (default: at the end)
  --save-every N        checkpoint every N steps (default: at the end)
  --keep K              checkpoints kept (default ${TRAIN_DEFAULTS.keep})
  --max-steps N         train N steps in all (the schedule spans them, as HF max_steps)
  --resume              continue from the newest checkpoint in DIR

Example:
  gpt2ts train --data test/fixtures/tweets/unixsage/tweets.js test/fixtures/tweets/grandmasaid/tweets.js \\
    --out my-bot --epochs 1 --block-size 64 --max-steps 20`,
  async run(argv, io) {
    const flags = parseFlags(argv, {
      data: { type: 'string', multiple: true }, out: { type: 'string' }, model: { type: 'string', short: 'm' },
      epochs: { type: 'string' }, lr: { type: 'string' }, 'batch-size': { type: 'string' }, 'block-size': { type: 'string' },
      schedule: { type: 'string' }, warmup: { type: 'string' }, 'weight-decay': { type: 'string' }, clip: { type: 'string' },
      'grad-accum': { type: 'string' }, dropout: { type: 'string' }, validation: { type: 'string' }, seed: { type: 'string' },
      'eval-every': { type: 'string' }, 'save-every': { type: 'string' }, keep: { type: 'string' }, 'max-steps': { type: 'string' },
      resume: { type: 'boolean' }, backend: { type: 'string' },
    });
    const data = [...((flags.values.data as string[] | undefined) ?? []), ...flags.positionals];
    if (!data.length) throw new UsageError('--data is required (one or more tweets archives)');
    const out = str(flags, 'out');
    if (!out) throw new UsageError('--out is required');
    const backend = str(flags, 'backend');
    if (backend !== undefined && backend !== 'cpu') throw new UsageError('training runs on the cpu backend only');
    const clip = num(flags, 'clip', 0, 1e9);
    const settings: TrainSettings = {
      lr: num(flags, 'lr', 0, 10, true) ?? TRAIN_DEFAULTS.lr,
      batchSize: int(flags, 'batch-size', 1, 4096) ?? TRAIN_DEFAULTS.batchSize,
      gradAccum: int(flags, 'grad-accum', 1, 4096) ?? TRAIN_DEFAULTS.gradAccum,
      schedule: choice(flags, 'schedule', SCHEDULE_NAMES) ?? TRAIN_DEFAULTS.schedule,
      warmup: int(flags, 'warmup', 0) ?? TRAIN_DEFAULTS.warmup,
      weightDecay: num(flags, 'weight-decay', 0, 10) ?? TRAIN_DEFAULTS.weightDecay,
      clip: clip === undefined ? TRAIN_DEFAULTS.clip : clip === 0 ? null : clip,
      seed: int(flags, 'seed', 0, 2 ** 53 - 1) ?? TRAIN_DEFAULTS.seed,
      evalEvery: int(flags, 'eval-every', 0) ?? TRAIN_DEFAULTS.evalEvery,
      saveEvery: int(flags, 'save-every', 0) ?? TRAIN_DEFAULTS.saveEvery,
      keep: int(flags, 'keep', 1, 1000) ?? TRAIN_DEFAULTS.keep,
      dropout: num(flags, 'dropout', 0, 0.99) ?? TRAIN_DEFAULTS.dropout,
      maxSteps: int(flags, 'max-steps', 1) ?? TRAIN_DEFAULTS.maxSteps,
    };
    const validation = num(flags, 'validation', 0, 0.9) ?? 0;
    const blockSize = int(flags, 'block-size', 2, 1 << 20);
    const epochs = int(flags, 'epochs', 1, 1000) ?? 4;

    // Ctrl-C: finish the current step, save a checkpoint, exit 130
    const abort = new AbortController();
    const onSigint = (): void => abort.abort();
    process.once('SIGINT', onSigint);
    const t0 = Date.now();
    let lastDraw = 0;
    try {
      const r = await fineTuneOnTweets({
        data, out, ...(str(flags, 'model') ? { model: str(flags, 'model') } : {}), epochs,
        ...(blockSize !== undefined ? { blockSize } : {}), validation, resume: bool(flags, 'resume'), settings, signal: abort.signal,
        onDataset: (ds) => {
          const rows = ds.users.map((u) => `  ${u.user}: ${u.downloaded} tweets, ${u.retweets} retweets, ${u.short} short, ${u.kept} kept`);
          io.stderr.write(`data:\n${rows.join('\n')}\n  ${ds.train.blocks.length} training blocks of ${ds.blockSize} tokens${ds.validation ? `, ${ds.validation.blocks.length} validation blocks` : ''}\n`);
          for (const w of ds.warnings) io.stderr.write(`warning: ${w}\n`);
        },
        onStep: (s) => {
          if (!io.stderrIsTTY || (Date.now() - lastDraw < 200 && s.step !== s.totalSteps)) return;
          lastDraw = Date.now();
          const w = 24, done = Math.round((s.step / s.totalSteps) * w);
          io.stderr.write(`\r[${'#'.repeat(done)}${'.'.repeat(w - done)}] step ${s.step}/${s.totalSteps} epoch ${s.epoch.toFixed(2)} loss ${s.loss.toFixed(4)} lr ${s.lr.toExponential(2)} ${s.tokensPerSecond.toFixed(0)} tok/s `);
        },
        onEval: (step, loss) => io.stderr.write(`${io.stderrIsTTY ? '\n' : ''}step ${step}: validation loss ${loss.toFixed(4)}\n`),
      });
      if (io.stderrIsTTY) io.stderr.write('\n');
      const secs = ((Date.now() - t0) / 1000).toFixed(1);
      if (r.interrupted) {
        io.stderr.write(`gpt2ts: interrupted at step ${r.state.step}; saved ${out}/checkpoint-${r.state.step} (continue with --resume)\n`);
        return 130;
      }
      const last = r.state.history.at(-1);
      await write(io.stdout, `trained ${r.state.step} steps in ${secs} s (final loss ${last?.loss.toFixed(4) ?? 'n/a'}); the model is in ${out}\n`);
    } finally {
      process.removeListener('SIGINT', onSigint);
    }
  },
};
