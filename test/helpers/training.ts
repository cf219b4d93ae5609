// Test helpers for the training suites: fixture parameters and stored gradients as flat buffers
// with the engine's layout, the fixture batch as a TrainBatch, and element-wise comparisons that
// split elements by gradient magnitude (the README's rule for near-zero gradients).

import { loadModelFiles } from '../../src/io/model.ts';
import type { Params } from '../../src/params.ts';
import type { SafetensorsFile } from '../../src/io/safetensors.ts';
import type { TrainBatch } from '../../src/train/step.ts';
import { compareClose, fixtureDir, fixtureInputs } from './fixtures.ts';

export function loadFixtureParams(set: string): Params {
  return loadModelFiles(fixtureDir(set) + 'model.safetensors').params;
}

/** A flat buffer with params' layout holding `${prefix}${name}` of every parameter from exp. */
export function flatFromExpected(params: Params, exp: SafetensorsFile, prefix: string): Float32Array {
  const out = params.zerosLike();
  for (const s of params.specs) {
    const t = exp.readF32(prefix + s.name);
    if (t.length !== s.numel) throw new Error(`${prefix}${s.name}: ${t.length} values, expected ${s.numel}`);
    out.set(t, s.offset);
  }
  return out;
}

/** The fixture's input_ids / targets as one TrainBatch. */
export function fixtureBatch(set: string): TrainBatch {
  const inp = fixtureInputs(set);
  const B = inp.input_ids.length, T = inp.input_ids[0].length;
  return { B, T, ids: Int32Array.from(inp.input_ids.flat()), targets: Int32Array.from(inp.targets.flat()) };
}

/**
 * Compare every parameter tensor of two flat buffers (params' layout) with |a − e| ≤ atol + rtol·|e|;
 * returns the largest difference over all tensors and throws naming the first tensor that fails.
 */
export function expectFlatClose(params: Params, actual: Float32Array, expected: Float32Array, atol: number, rtol: number, label: string): number {
  let worst = 0;
  for (const s of params.specs) {
    const r = compareClose(actual.subarray(s.offset, s.offset + s.numel), expected.subarray(s.offset, s.offset + s.numel), atol, rtol, `${label}.${s.name}`);
    if (!r.ok) throw new Error(r.message);
    worst = Math.max(worst, r.maxAbs);
  }
  return worst;
}

/**
 * The README's end-to-end rule: elements where every gradient in `grads` has |g| ≥ 1e-5 must be
 * within `atol`; the others only within 2.5e-3. Returns the largest difference in each group.
 */
export function expectSplitClose(params: Params, actual: Float32Array, expected: Float32Array, grads: Float32Array[],
  atol: number, label: string): { big: number; small: number; smallCount: number } {
  let big = 0, small = 0, smallCount = 0;
  for (const s of params.specs) {
    for (let i = s.offset; i < s.offset + s.numel; i++) {
      const d = Math.abs(actual[i] - expected[i]);
      const large = grads.every((g) => Math.abs(g[i]) >= 1e-5);
      const bound = large ? atol : 2.5e-3;
      if (!(d <= bound)) {
        throw new Error(`${label}.${s.name}[${i - s.offset}]: |${actual[i]} − ${expected[i]}| = ${d.toExponential(2)} > ${bound} (|grad| ${large ? '≥' : '<'} 1e-5)`);
      }
      if (large) big = Math.max(big, d);
      else {
        small = Math.max(small, d);
        smallCount++;
      }
    }
  }
  return { big, small, smallCount };
}

/** one line of measured figures, printed by the suites (collected in the report) */
export function report(line: string): void {
  console.log(`[measured] ${line}`);
}
