// Train the embedded default model (weights/default/) from scratch, reproducibly, on this CPU:
//   1. pre-train a small GPT-2 (GPT-2 vocabulary) on Debian's fortune files (data/fortunes/);
//   2. fine-tune it on the two shipped tweet archives as a two-user huggingtweets model;
//   3. store it as F16 safetensors with its config, model card and loss curve.
//
//   npm run train:default [-- --pretrain-steps N --finetune-epochs E --resume]
//
// Intermediate checkpoints go to build/default-model/ (git-ignored); `--resume` continues a stage
// from its newest checkpoint. Every random choice is seeded, so a rerun gives the same weights on
// the same machine and kernels.

import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { makeConfig } from '../src/config.ts';
import { Rng } from '../src/generate/rng.ts';
import { type TensorToWrite, f32ToF16Bits, writeSafetensors } from '../src/io/safetensors.ts';
import { loadModelFiles } from '../src/io/model.ts';
import { randomParams } from '../src/params.ts';
import { Tokenizer } from '../src/tokenizer/index.ts';
import { paramTensors } from '../src/train/checkpoint.ts';
import { fineTuneOnTweets } from '../src/train/finetune.ts';
import { lineChartSvg } from '../src/train/plot.ts';
import { TRAIN_DEFAULTS, type StepInfo, runTraining, writeModelFolder } from '../src/train/trainer.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({
  options: {
    'pretrain-steps': { type: 'string' }, 'finetune-epochs': { type: 'string' }, resume: { type: 'boolean' },
    'batch-size': { type: 'string' },
  },
});
const PRETRAIN_STEPS = Number(values['pretrain-steps'] ?? 320);
const FINETUNE_EPOCHS = Number(values['finetune-epochs'] ?? 4);
const BATCH = Number(values['batch-size'] ?? 6);
const SEED = 1234;

// A small GPT-2: 4 layers, 4 heads, C 128, 160 positions (huggingtweets generates up to 160
// tokens; a tweet is well under 128).
const config = makeConfig({ vocabSize: 50257, nPositions: 160, nEmbd: 128, nLayer: 4, nHead: 4, embdPdrop: 0.1, attnPdrop: 0.1, residPdrop: 0.1 });
const build = join(root, 'build', 'default-model');
mkdirSync(build, { recursive: true });
const t0 = Date.now();
const elapsed = (): string => `${((Date.now() - t0) / 60000).toFixed(1)} min`;
/** minutes a stage took, kept in build/ so a resumed run still reports the whole training time */
const stageMinutes = (stage: string, started: number): number => {
  const file = join(build, `${stage}-minutes.json`);
  const prev = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { minutes: number }).minutes : 0;
  const minutes = prev + (Date.now() - started) / 60000;
  writeFileSync(file, JSON.stringify({ minutes }) + '\n');
  return minutes;
};
const progress = (stage: string) => (s: StepInfo): void => {
  if (s.step % 25 === 0 || s.step === s.totalSteps) {
    console.log(`${stage} step ${s.step}/${s.totalSteps} loss ${s.loss.toFixed(4)} lr ${s.lr.toExponential(2)} ${s.tokensPerSecond.toFixed(0)} tok/s (${elapsed()})`);
  }
};

// ---- 1. pre-training text: one document per fortune, overstrikes removed, whitespace collapsed
const fortunesDir = join(root, 'data', 'fortunes');
const docs: string[] = [];
for (const f of readdirSync(fortunesDir).sort()) {
  if (f === f.toUpperCase() || f.endsWith('.md')) continue; // COPYRIGHT.debian, README.md
  for (const entry of readFileSync(join(fortunesDir, f), 'utf8').split(/\n%\n/)) {
    const text = entry.replace(/.\x08/g, '').replace(/\s+/g, ' ').trim();
    if (text.length >= 20) docs.push(text);
  }
}
const rng = new Rng(SEED, 3);
for (let i = docs.length - 1; i > 0; i--) {
  const j = Math.floor(rng.next() * (i + 1));
  [docs[i], docs[j]] = [docs[j], docs[i]];
}
const tok = Tokenizer.default();
const held = Math.floor(docs.length * 0.02);
const toBlocks = (texts: string[]): Int32Array[] => {
  const ids: number[] = [tok.eotId];
  for (const t of texts) ids.push(...tok.encodeOrdinary(t), tok.eotId);
  const T = config.nPositions, out: Int32Array[] = [];
  const all = Int32Array.from(ids);
  for (let i = 0; i + T <= all.length; i += T) out.push(all.subarray(i, i + T));
  return out;
};
const valBlocks = toBlocks(docs.slice(0, held));
const trainBlocks = toBlocks(docs.slice(held));
console.log(`pre-training corpus: ${docs.length} fortunes, ${trainBlocks.length} training blocks and ${valBlocks.length} validation blocks of ${config.nPositions} tokens`);

// ---- 2. pre-train from random weights: PRETRAIN_STEPS steps over the blocks (repeated as needed),
// so the cosine schedule spans exactly the steps taken
const preStart = Date.now();
const preTrain = Array.from({ length: PRETRAIN_STEPS * BATCH }, (_, i) => trainBlocks[i % trainBlocks.length]);
const pre = await runTraining({
  dir: join(build, 'pretrain'), params: randomParams(config, SEED), train: preTrain, validation: valBlocks,
  settings: { ...TRAIN_DEFAULTS, lr: 2e-3, batchSize: BATCH, schedule: 'cosine', warmup: 30, weightDecay: 0.01, seed: SEED, evalEvery: 80, saveEvery: 40, keep: 1, maxSteps: null },
  resume: Boolean(values.resume) && readdirSync(join(build)).includes('pretrain'), identity: { corpus: 'data/fortunes', docs: docs.length, steps: PRETRAIN_STEPS },
  onStep: progress('pretrain'),
  onEval: (step, loss) => console.log(`pretrain step ${step}: validation loss ${loss.toFixed(4)}`),
});
const preDir = join(build, 'pretrained');
const preCurve = lineChartSvg([
  { name: 'training loss', color: '#1f77b4', points: pre.state.history.map((h) => [h.step, h.loss]) },
  { name: 'validation loss', color: '#d62728', points: pre.state.validation.map((h) => [h.step, h.loss]) },
], { title: 'Pre-training loss (fortunes)', xLabel: 'step', yLabel: 'cross-entropy' });
writeModelFolder(preDir, pre.params, {
  tokenizer: { encoder: join(root, 'weights', 'encoder.json'), merges: join(root, 'weights', 'vocab.bpe') },
  card: '# gpt2ts default model, pre-trained stage\n', lossSvg: preCurve,
});
const preMinutes = stageMinutes('pretrain', preStart);
console.log(`pre-training done (${preMinutes.toFixed(1)} min of training): final loss ${pre.state.history.at(-1)?.loss.toFixed(4)}, validation ${pre.state.validation.at(-1)?.loss.toFixed(4)}`);

// ---- 3. fine-tune on the two shipped archives (huggingtweets)
const tweets = ['unixsage', 'grandmasaid'].map((u) => join(root, 'test', 'fixtures', 'tweets', u, 'tweets.js'));
const ftDir = join(build, 'finetuned');
const ftStart = Date.now();
const ft = await fineTuneOnTweets({
  data: tweets, out: ftDir, model: preDir, epochs: FINETUNE_EPOCHS, validation: 0.05, resume: Boolean(values.resume) && readdirSync(build).includes('finetuned'),
  settings: { ...TRAIN_DEFAULTS, lr: 1e-3, batchSize: BATCH, schedule: 'cosine', warmup: 10, seed: SEED, evalEvery: 50, saveEvery: 40, keep: 1 },
  onStep: progress('finetune'),
  onEval: (step, loss) => console.log(`finetune step ${step}: validation loss ${loss.toFixed(4)}`),
});
const ftMinutes = stageMinutes('finetune', ftStart);
console.log(`fine-tuning done (${ftMinutes.toFixed(1)} min of training): final loss ${ft.state.history.at(-1)?.loss.toFixed(4)}, validation ${ft.state.validation.at(-1)?.loss.toFixed(4)}`);

// ---- 4. ship as F16 in weights/default/ (written beside, then swapped in)
const finalParams = loadModelFiles(ftDir).params;
const f16: Record<string, TensorToWrite> = {};
for (const [name, t] of Object.entries(paramTensors(finalParams))) f16[name] = { dtype: 'F16', shape: t.shape, data: f32ToF16Bits(t.data as Float32Array) };
const out = join(root, 'weights', 'default');
const tmp = join(root, 'weights', `.default.tmp-${process.pid}`);
rmSync(tmp, { recursive: true, force: true });
mkdirSync(tmp);
writeSafetensors(join(tmp, 'model.safetensors'), f16, { format: 'pt' });
writeFileSync(join(tmp, 'config.json'), readFileSync(join(ftDir, 'config.json')));
writeFileSync(join(tmp, 'loss.svg'), readFileSync(join(ftDir, 'loss.svg')));
writeFileSync(join(tmp, 'pretrain-loss.svg'), preCurve);
const card = readFileSync(join(ftDir, 'README.md'), 'utf8').replace(`\`${preDir}\``, 'the pre-trained model below').replace('## How to use', `## Pre-training

Before the tweets, the model was trained from random weights (${config.nLayer} layers, 4 heads, C 128,
${config.nPositions} positions, GPT-2's vocabulary) on ${docs.length} fortunes from Debian's \`fortunes\` packages (\`data/fortunes/\`, BSD
licence): ${pre.state.step} steps of ${BATCH} blocks of ${config.nPositions} tokens, AdamW (lr 2e-3, cosine, 30 warmup steps, weight decay 0.01),
final training loss ${pre.state.history.at(-1)?.loss.toFixed(3)}, validation loss ${pre.state.validation.at(-1)?.loss.toFixed(3)}.

![pre-training loss](pretrain-loss.svg)

Reproduce with \`npm run train:default\`: ${(preMinutes + ftMinutes).toFixed(0)} minutes of training here (${preMinutes.toFixed(0)} pre-training,
${ftMinutes.toFixed(0)} fine-tuning) on 2 shared CPU cores (AMD EPYC, Node ${process.version}). The weights are stored as F16
and upcast to float32 when loaded.

## How to use`);
writeFileSync(join(tmp, 'README.md'), card);
rmSync(out, { recursive: true, force: true });
renameSync(tmp, out);
console.log(`wrote ${out} (${elapsed()} in all)`);
