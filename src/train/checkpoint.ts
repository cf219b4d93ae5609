// Training checkpoints: DIR/checkpoint-N/ holds model.safetensors (HF names, F32),
// optimizer.safetensors (AdamW m and v per parameter, the step in the metadata) and
// trainer_state.json (step, data position, RNG states, the run's settings). A checkpoint is
// written under a temporary folder name and renamed into place, so a crash never leaves a half
// checkpoint under a real name; only the newest `keep` checkpoints are kept.

import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configFromHF, configToHF } from '../config.ts';
import { SafetensorsFile, type TensorToWrite, writeSafetensors } from '../io/safetensors.ts';
import { Params } from '../params.ts';
import type { RngState } from '../generate/rng.ts';
import type { AdamWState } from './adamw.ts';

export interface TrainerState {
  /** optimizer steps taken */
  step: number;
  /** training blocks consumed (the position in the seeded block order) */
  position: number;
  totalSteps: number;
  /** dropout RNG state, so a resumed run draws the same masks */
  dropoutRng: RngState;
  /** the settings that must not change on resume */
  settings: Record<string, unknown>;
  /** step → training loss, and validation evaluations, for the loss curve */
  history: { step: number; loss: number }[];
  validation: { step: number; loss: number }[];
}

const CKPT = /^checkpoint-(\d+)$/;

/** The newest complete checkpoint folder in dir, or null. */
export function latestCheckpoint(dir: string): string | null {
  if (!existsSync(dir)) return null;
  const steps = readdirSync(dir).map((f) => CKPT.exec(f)).filter((m): m is RegExpExecArray => m !== null)
    .map((m) => Number(m[1])).filter((n) => existsSync(join(dir, `checkpoint-${n}`, 'trainer_state.json'))).sort((a, b) => b - a);
  return steps.length ? join(dir, `checkpoint-${steps[0]}`) : null;
}

/** The parameters as HF-named F32 tensors (views, no copies). */
export function paramTensors(params: Params, prefix = ''): Record<string, TensorToWrite> {
  const out: Record<string, TensorToWrite> = {};
  for (const s of params.specs) out[prefix + s.name] = { dtype: 'F32', shape: s.shape, data: params.view(s.name) };
  return out;
}

/** Write checkpoint-N into dir (atomically) and delete all but the newest `keep`. */
export function saveCheckpoint(dir: string, params: Params, opt: AdamWState, state: TrainerState, keep: number): string {
  const final = join(dir, `checkpoint-${state.step}`);
  const tmp = join(dir, `.checkpoint-${state.step}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    writeSafetensors(join(tmp, 'model.safetensors'), paramTensors(params), { format: 'pt' });
    writeFileSync(join(tmp, 'config.json'), JSON.stringify(configToHF(params.config), null, 2) + '\n');
    const m: Record<string, TensorToWrite> = {};
    for (const s of params.specs) {
      m[`exp_avg.${s.name}`] = { dtype: 'F32', shape: s.shape, data: opt.m.subarray(s.offset, s.offset + s.numel) };
      m[`exp_avg_sq.${s.name}`] = { dtype: 'F32', shape: s.shape, data: opt.v.subarray(s.offset, s.offset + s.numel) };
    }
    writeSafetensors(join(tmp, 'optimizer.safetensors'), m, { format: 'pt', step: String(opt.step) });
    writeFileSync(join(tmp, 'trainer_state.json'), JSON.stringify(state, null, 1) + '\n');
    rmSync(final, { recursive: true, force: true });
    renameSync(tmp, final);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  pruneCheckpoints(dir, keep);
  return final;
}

function pruneCheckpoints(dir: string, keep: number): void {
  const steps = readdirSync(dir).map((f) => CKPT.exec(f)).filter((m): m is RegExpExecArray => m !== null).map((m) => Number(m[1])).sort((a, b) => b - a);
  for (const s of steps.slice(keep)) rmSync(join(dir, `checkpoint-${s}`), { recursive: true, force: true });
}

/** Read a checkpoint folder back: parameters, optimizer state and trainer state. */
export function loadCheckpoint(path: string): { params: Params; opt: AdamWState; state: TrainerState } {
  const stateFile = join(path, 'trainer_state.json');
  let state: TrainerState;
  try {
    state = JSON.parse(readFileSync(stateFile, 'utf8')) as TrainerState;
  } catch (e) {
    throw new Error(`${stateFile}: cannot read the trainer state (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!Number.isSafeInteger(state.step) || !Number.isSafeInteger(state.position)) throw new Error(`${stateFile}: step and position must be integers`);
  const cfg = configFromHF(JSON.parse(readFileSync(join(path, 'config.json'), 'utf8')), join(path, 'config.json'));
  const model = SafetensorsFile.open(join(path, 'model.safetensors'));
  const optFile = SafetensorsFile.open(join(path, 'optimizer.safetensors'));
  try {
    const params = new Params(cfg, model.tensors.has('lm_head.weight'));
    const m = new Float32Array(params.data.length), v = new Float32Array(params.data.length);
    for (const s of params.specs) {
      model.readF32Into(s.name, params.view(s.name));
      optFile.readF32Into(`exp_avg.${s.name}`, m.subarray(s.offset, s.offset + s.numel));
      optFile.readF32Into(`exp_avg_sq.${s.name}`, v.subarray(s.offset, s.offset + s.numel));
    }
    const step = Number(optFile.metadata.step);
    if (!Number.isSafeInteger(step) || step !== state.step) throw new Error(`${path}: optimizer step ${optFile.metadata.step} does not match trainer step ${state.step}`);
    return { params, opt: { step, m, v }, state };
  } finally {
    model.close();
    optFile.close();
  }
}
