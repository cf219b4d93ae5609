// Byte-pair merging of one pre-token: symbols start as the one-byte tokens of its UTF-8 bytes, and
// the lowest-ranked adjacent pair is merged until no pair has a rank. Three implementations:
//
//   bpeReference  encoder.py's bpe() line by line: pick the min-rank pair, merge every occurrence
//                 left to right, repeat. O(n²) per round; the definition the others are tested on.
//   bpeSmall      the tiktoken loop: merge the leftmost min-rank pair, update its two neighbour
//                 ranks, repeat. O(n²) worst case but tight for the short words that dominate text.
//   bpeLong       linear time for long words (a 10 MB run of letters): a doubly linked list of
//                 symbols, each pair filed in a bucket by rank, buckets swept in rank order.
//
// bpeSmall and bpeLong equal bpeReference when the merge list is well-ordered (vocab.ts): then a
// merge never creates a pair ranked at or below its own, so ranks are processed in increasing
// order and the one-at-a-time and all-at-once schedules do the same merges.

import { NO_MERGE, type PairTable } from './pair-table.ts';

export interface Merges {
  pairs: PairTable;
  mergeLeft: Int32Array;
  mergeRight: Int32Array;
  mergeResult: Int32Array;
}

/** encoder.py's bpe() on token ids (a new array). */
export function bpeReference(symbols: readonly number[], m: Merges): number[] {
  let word = symbols.slice();
  while (word.length > 1) {
    let best = NO_MERGE;
    for (let i = 0; i + 1 < word.length; i++) best = Math.min(best, m.pairs.get(word[i], word[i + 1]));
    if (best === NO_MERGE) break;
    const a = m.mergeLeft[best];
    const b = m.mergeRight[best];
    const next: number[] = [];
    for (let i = 0; i < word.length; ) {
      if (word[i] === a && i + 1 < word.length && word[i + 1] === b) {
        next.push(m.mergeResult[best]);
        i += 2;
      } else {
        next.push(word[i]);
        i += 1;
      }
    }
    word = next;
  }
  return word;
}

/**
 * In place on syms[0, n); ranks is scratch of length ≥ n, already holding the pair ranks when
 * ranksReady (the caller can look byte pairs up in a direct table). Returns the merged length.
 */
export function bpeSmall(syms: Int32Array, n: number, ranks: Int32Array, m: Merges, ranksReady = false): number {
  const pairs = m.pairs;
  // ranks[i] = rank of the pair (syms[i], syms[i+1])
  if (!ranksReady) for (let i = 0; i + 1 < n; i++) ranks[i] = pairs.get(syms[i], syms[i + 1]);
  while (n > 1) {
    let best = NO_MERGE;
    let at = -1;
    for (let i = 0; i + 1 < n; i++) {
      if (ranks[i] < best) {
        best = ranks[i];
        at = i;
      }
    }
    if (at < 0) break;
    // syms[at], syms[at+1] → merged; close the gap in syms and in ranks
    syms[at] = m.mergeResult[best];
    for (let i = at + 1; i + 1 < n; i++) syms[i] = syms[i + 1];
    for (let i = at + 1; i + 2 < n; i++) ranks[i] = ranks[i + 1];
    n--;
    if (at > 0) ranks[at - 1] = pairs.get(syms[at - 1], syms[at]);
    if (at + 1 < n) ranks[at] = pairs.get(syms[at], syms[at + 1]);
  }
  return n;
}

/** Scratch for bpeLong: one bucket head per rank, all -1 between calls. */
export function makeBucketHeads(numMerges: number): Int32Array {
  return new Int32Array(numMerges).fill(-1);
}

/**
 * Linear-time BPE, in place on syms[0, n). Node p's pair is (syms[p], syms[next[p]]) with rank
 * rank[p]; nodes with a ranked pair sit in bucket head[rank] (doubly linked by bNext/bPrev).
 * Sweeping r upwards, each merge touches O(1) nodes and files at most two new pairs, all ranked
 * above r. A pair (A, A) is merged from the left end of its run of A's, as encoder.py does.
 * Needs a well-ordered merge list. `head` must be all -1 (it is left that way).
 * (Separate arrays measured faster here than one interleaved record per node.)
 */
export function bpeLong(syms: Int32Array, n: number, m: Merges, head: Int32Array): number {
  if (n < 2) return n;
  const { pairs, mergeResult } = m;
  const prev = new Int32Array(n); // (n) list links, -1 at the ends
  const next = new Int32Array(n);
  const rank = new Int32Array(n); // (n) rank of the pair starting at p, NO_MERGE if none
  const bNext = new Int32Array(n); // (n) bucket links
  const bPrev = new Int32Array(n);

  const link = (p: number, r: number): void => {
    rank[p] = r;
    if (r === NO_MERGE) return;
    const h = head[r];
    bPrev[p] = -1;
    bNext[p] = h;
    if (h !== -1) bPrev[h] = p;
    head[r] = p;
  };
  const unlink = (p: number): void => {
    const r = rank[p];
    if (r === NO_MERGE) return;
    const a = bPrev[p];
    const b = bNext[p];
    if (a === -1) head[r] = b;
    else bNext[a] = b;
    if (b !== -1) bPrev[b] = a;
    rank[p] = NO_MERGE;
  };

  let lo = NO_MERGE;
  for (let p = 0; p < n; p++) {
    prev[p] = p - 1;
    next[p] = p + 1 < n ? p + 1 : -1;
    const r = p + 1 < n ? pairs.get(syms[p], syms[p + 1]) : NO_MERGE;
    link(p, r);
    if (r < lo) lo = r;
  }

  const M = mergeResult.length;
  for (let r = lo; r < M; r++) {
    while (head[r] !== -1) {
      let p = head[r];
      // for (A, A): go back to the start of the run so merges pair up from the left
      while (prev[p] !== -1 && rank[prev[p]] === r) p = prev[p];
      for (;;) {
        const q = next[p]; // merge q into p
        unlink(p);
        unlink(q);
        syms[p] = mergeResult[r];
        const nq = next[q];
        next[p] = nq;
        if (nq !== -1) prev[nq] = p;
        const pp = prev[p];
        if (pp !== -1) {
          unlink(pp);
          link(pp, pairs.get(syms[pp], syms[p]));
        }
        link(p, nq !== -1 ? pairs.get(syms[p], syms[nq]) : NO_MERGE);
        // the next pair of the same rank to the right continues the run (A A A A → AA AA)
        if (nq !== -1 && rank[nq] === r) p = nq;
        else break;
      }
    }
  }

  // compact the surviving nodes (node 0 always survives: merges keep the left node)
  let k = 0;
  for (let p = 0; p !== -1; p = next[p]) syms[k++] = syms[p];
  return k;
}
