// Test helpers: the fixture sets in test/fixtures/ (written by test/oracle/gpt2_reference.py) and a
// symmetric closeness check that prints the worst element on failure.

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SafetensorsFile } from '../../src/io/safetensors.ts';

export const FIXTURE_SETS = ['gpt2-tiny', 'odd-3head', 'odd-6head'] as const;
export type FixtureSet = (typeof FIXTURE_SETS)[number];

export interface FixtureInputs {
  input_ids: number[][];
  targets: number[][];
  ignore_index: number;
  padded: { input_ids: number[][]; attention_mask: number[][]; lengths: number[]; pad_token_id: number };
  generation: { prompt: number[]; max_new_tokens: number };
}

export function fixtureDir(set: string): string {
  return fileURLToPath(new URL(`../fixtures/${set}/`, import.meta.url));
}

export function fixtureInputs(set: string): FixtureInputs {
  return JSON.parse(readFileSync(fixtureDir(set) + 'inputs.json', 'utf8')) as FixtureInputs;
}

/** expected.safetensors of a set (whole file in memory; small) */
export function fixtureExpected(set: string): SafetensorsFile {
  return SafetensorsFile.fromBytes(readFileSync(fixtureDir(set) + 'expected.safetensors'), `${set}/expected.safetensors`);
}

export interface CloseReport {
  ok: boolean;
  maxAbs: number;
  worst: number;
  message: string;
}

/** |a − b| ≤ atol + rtol·|b| element by element (b is the reference). */
export function compareClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol = 0, label = ''): CloseReport {
  if (actual.length !== expected.length) {
    return { ok: false, maxAbs: Infinity, worst: -1, message: `${label}: length ${actual.length} vs expected ${expected.length}` };
  }
  let maxAbs = 0, worst = -1, worstExcess = -Infinity, ok = true;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    const bound = atol + rtol * Math.abs(expected[i]);
    if (!(d <= bound)) ok = false; // NaN fails too
    if (d > maxAbs || Number.isNaN(d)) maxAbs = Number.isNaN(d) ? NaN : d;
    if (d - bound > worstExcess || Number.isNaN(d)) {
      worstExcess = Number.isNaN(d) ? Infinity : d - bound;
      worst = i;
    }
  }
  const message = `${label}: max |diff| ${maxAbs.toExponential(2)} (atol ${atol}, rtol ${rtol})` +
    (worst >= 0 ? `; worst at [${worst}]: ${actual[worst]} vs ${expected[worst]}` : '');
  return { ok, maxAbs, worst, message };
}

/** Throws (with the max difference) unless actual ≈ expected. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol = 0, label = 'values'): number {
  const r = compareClose(actual, expected, atol, rtol, label);
  if (!r.ok) throw new Error(r.message);
  return r.maxAbs;
}

/** rows [b][t] → flat */
export function flat2(rows: number[][]): number[] {
  return rows.flat();
}
