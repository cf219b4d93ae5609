// Embeddings per second: 1,000 tweets from the shipped archives, mean pooling, batch sizes 1, 8 and
// 32, on the CPU backend (and WebGPU when an adapter is found), for the random 124M-shape model and
// the embedded default model; PyTorch CPU on the same weights, the same length-sorted batches and
// the same pooling, timed in the same run, with a value check of its vectors against ours.
//
//   npx tsx bench/embed.ts [--tweets 1000] [--gpu-tweets 64] [--batches 1,8,32] [--no-124m]
//
// Writes bench/results/embed.json. PyTorch timing setup as in bench/cpu.ts (OpenBLAS, 2 threads,
// OMP_WAIT_POLICY=PASSIVE; OPENBLAS_CORETYPE/L2_SIZE unset).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../src/backend.ts';
import { createBackend } from '../src/backends.ts';
import { configToHF, makeConfig } from '../src/config.ts';
import { embedDefaults, embedIds } from '../src/embed/embed.ts';
import { type TensorToWrite, writeSafetensors } from '../src/io/safetensors.ts';
import { loadModelFiles } from '../src/io/model.ts';
import { defaultModelPath } from '../src/io/paths.ts';
import { uploadParams } from '../src/model/gpt2.ts';
import { type Params, randomParams } from '../src/params.ts';
import { Tokenizer } from '../src/tokenizer/index.ts';
import { filterTweets, readTweetsFile } from '../src/train/data/index.ts';

const { values: args } = parseArgs({
  options: {
    tweets: { type: 'string', default: '1000' }, 'gpu-tweets': { type: 'string', default: '64' },
    batches: { type: 'string', default: '1,8,32' }, 'no-124m': { type: 'boolean', default: false },
  },
});
const root = fileURLToPath(new URL('..', import.meta.url));
const N = Number(args.tweets), NG = Number(args['gpu-tweets']);
const batchSizes = args.batches.split(',').map(Number);

// 1,000 cleaned tweets, alternating the two users
const users = ['unixsage', 'grandmasaid'].map((u) => filterTweets(readTweetsFile(join(root, 'test/fixtures/tweets', u, 'tweets.js')).tweets).texts);
const texts: string[] = [];
for (let i = 0; texts.length < N; i++) texts.push(users[i % 2][Math.floor(i / 2)]);
const tok = Tokenizer.default();
const ids = texts.map((t) => tok.encodeOrdinary(t));
const tokens = ids.reduce((a, r) => a + r.length, 0);
console.log(`${N} tweets, ${tokens} tokens (mean ${(tokens / N).toFixed(1)}); CPU ${cpus()[0]?.model} × ${cpus().length}`);

/** The batches embedIds forms: longest first, then chunks of batchSize (row order as given). */
function batchesOf(rows: number[][], B: number): number[][][] {
  const order = rows.map((_, i) => i).sort((a, b) => rows[b].length - rows[a].length || a - b);
  const out: number[][][] = [];
  for (let i = 0; i < order.length; i += B) out.push(order.slice(i, i + B).map((j) => rows[j]));
  return out;
}

function torchEmbed(dir: string, rows: number[][], B: number): { ms: number; first: number[][]; blas: string[] } | { error: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_WAIT_POLICY: 'PASSIVE', OMP_NUM_THREADS: '2', OPENBLAS_NUM_THREADS: '2' };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const r = spawnSync('/usr/bin/python3', [join(root, 'bench/torch_embed.py')], {
    input: JSON.stringify({ model: dir, batches: batchesOf(rows, B), reps: 1 }), env, encoding: 'utf8', maxBuffer: 1 << 28, timeout: 3_600_000,
  });
  if (r.status !== 0) return { error: (r.stderr || String(r.error)).trim().split('\n').pop() ?? 'failed' };
  const j = JSON.parse(r.stdout) as { ms: number[]; embeddings: number[][]; blas: string[] };
  return { ms: Math.min(...j.ms), first: j.embeddings, blas: j.blas };
}

async function oursEmbed(be: Backend<unknown, unknown>, params: Params, rows: number[][], B: number): Promise<{ ms: number; first: Float32Array }> {
  const device = uploadParams(be, params);
  const o = embedDefaults({ pooling: 'mean', batchSize: B }, params.config.nLayer);
  await embedIds(be, device, rows.slice(0, Math.min(B, rows.length)), o); // warm-up (pipelines, pool)
  const t0 = performance.now();
  await embedIds(be, device, rows, o);
  const ms = performance.now() - t0;
  // the first length-sorted batch, for the value check against PyTorch
  const first = await embedIds(be, device, batchesOf(rows, B)[0], o);
  return { ms, first: first.data };
}

const tmp = mkdtempSync(join(tmpdir(), 'gpt2ts-embed-bench-'));
const models: { name: string; dir: string; params: Params }[] = [];
if (!args['no-124m']) {
  const cfg = makeConfig();
  const params = randomParams(cfg, 1);
  const t: Record<string, TensorToWrite> = {};
  for (const s of params.specs) t[s.name] = { dtype: 'F32', shape: s.shape, data: params.view(s.name) };
  const dir = join(tmp, '124m');
  spawnSync('mkdir', ['-p', dir]);
  writeSafetensors(join(dir, 'model.safetensors'), t);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(configToHF(cfg)));
  models.push({ name: 'random 124M-shape', dir, params });
}
try {
  models.push({ name: 'default (weights/default)', dir: defaultModelPath(), params: loadModelFiles(defaultModelPath()).params });
} catch (e) {
  console.log(`default model: ${e instanceof Error ? e.message : e}`);
}

const backends: { name: string; be: Backend<unknown, unknown> }[] = [{ name: 'cpu', be: await createBackend('cpu') }];
try {
  backends.push({ name: 'webgpu', be: await createBackend('webgpu') });
} catch (e) {
  console.log(`webgpu: ${e instanceof Error ? e.message : e}`);
}

const rows: Record<string, unknown>[] = [];
for (const m of models) {
  for (const B of batchSizes) {
    const peer = torchEmbed(m.dir, ids, B);
    const peerRate = 'ms' in peer ? (N / peer.ms) * 1000 : null;
    for (const { name, be } of backends) {
      const n = name === 'webgpu' && be.description.includes('llvmpipe') ? Math.min(NG, N) : N; // lavapipe: a subset
      const r = await oursEmbed(be, m.params, ids.slice(0, n), B);
      const rate = (n / r.ms) * 1000;
      let maxDiff: number | null = null;
      if ('first' in peer && n === N) {
        maxDiff = 0;
        const f = peer.first.flat();
        for (let i = 0; i < f.length; i++) maxDiff = Math.max(maxDiff, Math.abs(f[i] - r.first[i]));
      }
      const row = {
        model: m.name, batch: B, backend: `${name}: ${be.description}`, texts: n, embeddingsPerSecond: rate,
        pytorchPerSecond: peerRate, ratioToPytorch: peerRate && n === N ? rate / peerRate : null, maxDiffVsPytorch: maxDiff,
        pytorchBlas: 'blas' in peer ? peer.blas : null, pytorchError: 'error' in peer ? peer.error : null,
      };
      rows.push(row);
      console.log(`${m.name.padEnd(26)} batch ${String(B).padStart(2)} ${name.padEnd(6)} ${rate.toFixed(1).padStart(8)} emb/s` +
        (peerRate ? `  pytorch ${peerRate.toFixed(1)} emb/s` + (row.ratioToPytorch ? `  ×${row.ratioToPytorch.toFixed(2)}` : ' (subset: no ratio)') : `  pytorch: ${'error' in peer ? peer.error : 'n/a'}`) +
        (maxDiff !== null ? `  max |diff| ${maxDiff.toExponential(1)}` : ''));
    }
  }
}
for (const { be } of backends) be.dispose();
rmSync(tmp, { recursive: true, force: true });
writeFileSync(join(root, 'bench/results/embed.json'), JSON.stringify({
  date: new Date().toISOString(), machine: { cpu: cpus()[0]?.model, cores: cpus().length }, node: process.version, tweets: N, tokens, rows,
}, null, 1) + '\n');
console.log('wrote bench/results/embed.json');
