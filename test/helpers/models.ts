// Small random models written to a temporary folder, for CLI tests that need the full GPT-2
// vocabulary (text prompts) without shipping weights.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type GPT2Config, configToHF, makeConfig } from '../../src/config.ts';
import { type TensorToWrite, writeSafetensors } from '../../src/io/safetensors.ts';
import { randomParams } from '../../src/params.ts';

/** Write a random GPT-2 (full vocabulary, tiny width) as an HF folder; returns its path. */
export function writeRandomModel(dir: string, over: Partial<GPT2Config> = {}, seed = 1): string {
  const cfg = makeConfig({ vocabSize: 50257, nPositions: 64, nEmbd: 32, nLayer: 1, nHead: 2, ...over });
  const p = randomParams(cfg, seed);
  // stronger weights than GPT-2's init, so sampling is not uniform noise
  for (let i = 0; i < p.data.length; i++) p.data[i] *= 8;
  const tensors: Record<string, TensorToWrite> = {};
  for (const s of p.specs) tensors[s.name] = { dtype: 'F32', shape: s.shape, data: p.view(s.name) };
  mkdirSync(dir, { recursive: true });
  writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(configToHF(cfg), null, 2));
  return dir;
}
