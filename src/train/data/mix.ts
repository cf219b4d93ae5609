// Seeded shuffling, the validation split, and the notebook's multi-user mixing (upsampling).
// Everything draws from src/generate/rng.ts's PCG32, so one seed gives the same text on every
// machine and runtime (the notebook used Python's random.Random(seed_data); we cannot match that
// stream, only its rules).

import { Rng } from '../../generate/rng.ts';
import { codePoints } from './clean.ts';

/** uniform integer in [0, n) without modulo bias (n ≤ 2^32) */
export function randBelow(rng: Rng, n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 0x100000000) throw new RangeError(`randBelow: n must be an integer in 1..2^32, got ${n}`);
  const limit = 0x100000000 - (0x100000000 % n); // largest multiple of n ≤ 2^32
  for (;;) {
    const x = rng.nextU32();
    if (x < limit) return x % n;
  }
}

/** Fisher–Yates from the end, as Python's random.shuffle walks it */
export function shuffleInPlace<T>(rng: Rng, a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = randBelow(rng, i + 1);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}

export function totalCodePoints(texts: readonly string[]): number {
  let n = 0;
  for (const t of texts) n += codePoints(t);
  return n;
}

/**
 * Split one user's tweets by tweet (not by block): round(fraction · n) tweets, at least 1 when
 * fraction > 0, drawn at random, go to validation; both parts keep file order.
 */
export function splitValidation(rng: Rng, texts: readonly string[], fraction: number): { train: string[]; validation: string[] } {
  if (!(fraction >= 0 && fraction < 1)) throw new RangeError(`validation fraction must be in [0, 1), got ${fraction}`);
  if (fraction === 0 || texts.length === 0) return { train: texts.slice(), validation: [] };
  const nVal = Math.min(texts.length - 1, Math.max(1, Math.round(fraction * texts.length)));
  const order = shuffleInPlace(rng, texts.map((_, i) => i));
  const isVal = new Uint8Array(texts.length);
  for (let k = 0; k < nVal; k++) isVal[order[k]] = 1;
  const train: string[] = [];
  const validation: string[] = [];
  texts.forEach((t, i) => (isVal[i] ? validation : train).push(t));
  return { train, validation };
}

/**
 * The training sequence of tweets, by the notebook's rule (huggingtweets-demo.ipynb, several
 * handles):
 *   epoch_len = max over users of len(''.join(user's tweets))         (code points, no separators)
 *   for each pass, for each user in order:
 *     shuffle the user's list
 *     while its length in code points < epoch_len: append its tweets again, in the order just
 *       shuffled, one at a time, stopping as soon as the length reaches epoch_len (the last
 *       tweet may overshoot)
 *     shuffle the (upsampled) list again and append it to the sequence
 * The list is the user's own, so the upsampled list carries over to the next pass (there it is
 * already long enough), exactly as the notebook's aliasing did. Users are not interleaved: each
 * pass is user 1's tweets, then user 2's, and so on. The notebook built EPOCHS = 4 passes into one
 * text and trained a single epoch over it; `passes` reproduces that.
 */
export function mixUsers(rng: Rng, users: readonly (readonly string[])[], passes = 1): string[] {
  if (!Number.isInteger(passes) || passes < 1) throw new RangeError(`passes must be a positive integer, got ${passes}`);
  const lists = users.map((u) => u.slice());
  const lengths = lists.map(totalCodePoints);
  const target = Math.max(0, ...lengths);
  const out: string[] = [];
  for (let p = 0; p < passes; p++) {
    lists.forEach((list, u) => {
      shuffleInPlace(rng, list);
      let len = lengths[u];
      if (len < target && len === 0) throw new RangeError(`user ${u + 1} has no text to upsample`);
      // list[i] for i ≥ the original length is a copy appended earlier: this cycles the shuffled order
      for (let i = 0; len < target; i++) {
        list.push(list[i]);
        len += codePoints(list[i]);
      }
      lengths[u] = len;
      shuffleInPlace(rng, list);
      for (const t of list) out.push(t);
    });
  }
  return out;
}

/** separate PCG32 streams, so the split and the shuffles do not depend on each other's draws */
export const SPLIT_STREAM = 1001;
export const MIX_STREAM = 1002;

/** splitValidation over each user in turn, from one generator seeded with seed */
export function splitUsers(users: readonly (readonly string[])[], seed: number, fraction: number): { train: string[][]; validation: string[][] } {
  const rng = new Rng(seed, SPLIT_STREAM);
  const parts = users.map((u) => splitValidation(rng, u, fraction));
  return { train: parts.map((p) => p.train), validation: parts.map((p) => p.validation) };
}

/** mixUsers from a generator seeded with seed: the order of the training tweets */
export function trainingSequence(users: readonly (readonly string[])[], seed: number, passes = 1): string[] {
  return mixUsers(new Rng(seed, MIX_STREAM), users, passes);
}
