// Training step time: gpt2ts on the CPU against PyTorch CPU, same shapes, same step, same run.
//
//   npx tsx bench/train.ts [--steps N] [--warmup N] [--only 124M|small] [--no-torch] [--no-profile]
//
// One step = forward, cross-entropy loss, backward, clip_grad_norm_(1.0), AdamW (trainStep in
// src/train/step.ts; bench/torch_train.py does the same in PyTorch, hand-written GPT-2). No dropout.
// Configs: the 124M shape (randomParams(makeConfig(), 1)) at B=4, T=64 (issue 6 §5), and a small
// GPT-2 with the GPT-2 vocabulary (C 128, L 4, NH 4) for tokens/s. Each engine and config runs in its
// own child process, so peak RSS (process.resourceUsage().maxRSS / ru_maxrss) is that run's alone.
// With profiling (the default), one extra 124M step runs with every backend op timed, to show where
// the time goes. Results: bench/results/train.json (+ a line per config on stdout).

import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { arch, cpus, platform } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TrainingBackend } from '../src/backend.ts';
import { makeConfig } from '../src/config.ts';
import { CpuBackend } from '../src/cpu/backend.ts';
import { Rng } from '../src/generate/rng.ts';
import { randomParams } from '../src/params.ts';
import { ADAMW_DEFAULTS } from '../src/train/adamw.ts';
import { type TrainBatch, createTrainContext, disposeTrainContext, trainStep } from '../src/train/step.ts';

const here = dirname(fileURLToPath(import.meta.url));

interface BenchConfig {
  name: string;
  V: number;
  C: number;
  L: number;
  NH: number;
  P: number;
  B: number;
  T: number;
}
const CONFIGS: BenchConfig[] = [
  { name: '124M', V: 50257, C: 768, L: 12, NH: 12, P: 1024, B: 4, T: 64 },
  { name: 'small', V: 50257, C: 128, L: 4, NH: 4, P: 1024, B: 4, T: 64 },
];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}
const flag = (name: string): boolean => process.argv.includes(`--${name}`);

/** Wrap a backend so every op's time is summed by name (the CPU backend runs ops synchronously). */
function profiled<F, I>(be: TrainingBackend<F, I>, totals: Map<string, number>): TrainingBackend<F, I> {
  return new Proxy(be, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function' || typeof prop !== 'string') return v;
      const fn = v as (...a: unknown[]) => unknown;
      return (...args: unknown[]) => {
        const t0 = performance.now();
        const r = fn.apply(target, args);
        // matmuls by direction and shape class: the forward/backward split is what matters here
        const key = prop.startsWith('matmul') ? `${prop}${args[args.length - 1] ? ' (lm-head)' : ''}` : prop;
        totals.set(key, (totals.get(key) ?? 0) + performance.now() - t0);
        return r;
      };
    },
  });
}

/** Child: time `steps` training steps of one config in this process. */
async function child(cfgName: string, warmup: number, steps: number, profile: boolean): Promise<void> {
  const bc = CONFIGS.find((c) => c.name === cfgName);
  if (!bc) throw new Error(`unknown config ${cfgName}`);
  const cfg = makeConfig({ vocabSize: bc.V, nEmbd: bc.C, nLayer: bc.L, nHead: bc.NH, nPositions: bc.P });
  const params = randomParams(cfg, 1);
  const cpu = new CpuBackend();
  const totals = new Map<string, number>();
  const ctx = createTrainContext(params, { B: bc.B, T: bc.T, backend: cpu });
  const rng = new Rng(2);
  const toks = Int32Array.from({ length: bc.B * (bc.T + 1) }, () => rng.nextU32() % bc.V);
  const ids = new Int32Array(bc.B * bc.T), targets = new Int32Array(bc.B * bc.T);
  for (let b = 0; b < bc.B; b++) {
    ids.set(toks.subarray(b * (bc.T + 1), b * (bc.T + 1) + bc.T), b * bc.T);
    targets.set(toks.subarray(b * (bc.T + 1) + 1, (b + 1) * (bc.T + 1)), b * bc.T);
  }
  const batch: TrainBatch = { B: bc.B, T: bc.T, ids, targets };
  const opts = { lr: 1e-4, adamw: ADAMW_DEFAULTS, maxGradNorm: 1.0 };
  for (let i = 0; i < warmup; i++) await trainStep(ctx, [batch], opts);
  const times: number[] = [];
  let loss = NaN;
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    loss = (await trainStep(ctx, [batch], opts)).loss;
    times.push((performance.now() - t0) / 1000);
  }
  let profileMs: Record<string, number> | null = null;
  if (profile) {
    // one more step with every op timed; the optimizer and clipping are timed around it
    const pctx = { ...ctx, be: profiled(cpu, totals) };
    const t0 = performance.now();
    await trainStep(pctx, [batch], opts);
    const total = performance.now() - t0;
    const ops = [...totals.values()].reduce((a, b) => a + b, 0);
    totals.set('clip + AdamW + host (rest of the step)', total - ops);
    profileMs = Object.fromEntries([...totals.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, Math.round(v)]));
  }
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  const out = {
    engine: 'gpt2ts', backend: cpu.description, step_s: times, mean_step_s: mean, tokens_per_s: (bc.B * bc.T) / mean, loss,
    peak_rss_bytes: process.resourceUsage().maxRSS * 1024, params: params.count, profile_ms: profileMs,
  };
  disposeTrainContext(ctx);
  cpu.dispose();
  console.log(JSON.stringify(out));
}

function runJson(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env, maxBuffer: 1 << 24 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status}): ${r.stderr.slice(-2000)}`);
  }
}

async function main(): Promise<void> {
  const warmup = Number(arg('warmup', '1'));
  const steps = Number(arg('steps', '2'));
  if (flag('child')) return child(arg('child', ''), warmup, steps, !flag('no-profile'));
  const only = arg('only', '');
  const rows: Record<string, unknown>[] = [];
  for (const bc of CONFIGS) {
    if (only && bc.name !== only) continue;
    const shape = { V: bc.V, C: bc.C, L: bc.L, NH: bc.NH, P: bc.P, B: bc.B, T: bc.T };
    const ours = runJson(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', bc.name,
      '--warmup', String(warmup), '--steps', String(steps), ...(flag('no-profile') ? ['--no-profile'] : [])]);
    let torch: Record<string, unknown> | null = null;
    if (!flag('no-torch')) {
      torch = runJson('/usr/bin/python3', [join(here, 'torch_train.py'), '--vocab', String(bc.V), '--n-embd', String(bc.C),
        '--n-layer', String(bc.L), '--n-head', String(bc.NH), '--n-positions', String(bc.P), '--batch', String(bc.B),
        '--seq', String(bc.T), '--warmup', String(warmup), '--steps', String(steps)]);
    }
    const ratio = torch ? (ours.mean_step_s as number) / (torch.mean_step_s as number) : null;
    rows.push({ config: bc.name, shape, gpt2ts: ours, pytorch: torch, step_time_ratio_gpt2ts_over_pytorch: ratio });
    const mb = (x: unknown): string => `${Math.round((x as number) / 2 ** 20)} MiB`;
    console.log(`${bc.name} B=${bc.B} T=${bc.T}: gpt2ts ${(ours.mean_step_s as number).toFixed(2)} s/step ` +
      `(${(ours.tokens_per_s as number).toFixed(1)} tok/s, peak RSS ${mb(ours.peak_rss_bytes)})` +
      (torch ? `; PyTorch ${(torch.mean_step_s as number).toFixed(2)} s/step (${(torch.tokens_per_s as number).toFixed(1)} tok/s, ` +
        `peak RSS ${mb(torch.peak_rss_bytes)}); ratio ${ratio?.toFixed(2)}×` : ''));
    if (ours.profile_ms) console.log(`  profile (ms, one ${bc.name} step):`, JSON.stringify(ours.profile_ms));
  }
  const result = {
    bench: 'train', date: new Date().toISOString(), machine: { platform: platform(), arch: arch(), cpus: cpus().length, cpu: cpus()[0]?.model },
    node: process.version, warmup, steps, step: 'forward + cross-entropy + backward + clip_grad_norm_(1.0) + AdamW, no dropout', rows,
  };
  const out = join(here, 'results', only ? `train-${only}.json` : 'train.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log(`wrote ${out}`);
}

await main();
