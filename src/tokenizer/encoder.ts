// Plain-text encoding: walk the pre-tokens (pretokenize.ts), and turn each into ids through the
// bounded word cache, or BPE on a miss. A one-character ASCII pre-token (space, newline,
// punctuation) is its own byte token and skips the cache.

import { type Merges, bpeLong, bpeReference, bpeSmall, makeBucketHeads } from './bpe.ts';
import { type Ids, WordCache } from './cache.ts';
import { preTokenEnd } from './pretokenize.ts';
import { utf8Symbols } from './utf8.ts';
import type { Vocab } from './vocab.ts';

/** Words of at least this many bytes use the linear-time merge: its ≈50 µs sweep over all ranks
 * costs more than the quadratic loop below ≈350 bytes (random letters, measured here). */
const LONG_WORD = 384;

export interface CacheOptions {
  /** entries per cache generation (memory is bounded by twice this) */
  cacheSize?: number;
  /** pre-tokens longer than this (UTF-16 units) are not cached */
  cacheMaxWord?: number;
}

export class BpeEncoder {
  private syms = new Int32Array(1024); // scratch: the symbols of one pre-token
  private readonly ranks = new Int32Array(LONG_WORD); // scratch for bpeSmall
  private heads: Int32Array | null = null; // scratch for bpeLong, made on first long word
  private readonly cache: WordCache;
  private readonly merges: Merges;

  constructor(
    private readonly vocab: Vocab,
    opts: CacheOptions = {},
  ) {
    this.cache = new WordCache(opts.cacheSize ?? 32768, opts.cacheMaxWord ?? 64);
    this.merges = vocab;
  }

  /** Append the ids of text[start, end), encoded as plain text, to out. */
  encodeRange(text: string, start: number, end: number, out: number[]): void {
    const byteToken = this.vocab.byteToken;
    for (let i = start; i < end; ) {
      const j = preTokenEnd(text, i, end);
      const c = text.charCodeAt(i);
      if (j === i + 1 && c < 128) {
        out.push(byteToken[c]);
      } else {
        const ids = this.word(text, i, j);
        if (typeof ids === 'number') out.push(ids);
        else for (let k = 0; k < ids.length; k++) out.push(ids[k]);
      }
      i = j;
    }
  }

  /** The number of ids encodeRange would append. */
  countRange(text: string, start: number, end: number): number {
    let count = 0;
    for (let i = start; i < end; ) {
      const j = preTokenEnd(text, i, end);
      if (j === i + 1 && text.charCodeAt(i) < 128) count++;
      else {
        const ids = this.word(text, i, j);
        count += typeof ids === 'number' ? 1 : ids.length;
      }
      i = j;
    }
    return count;
  }

  /** The ids of one pre-token text[i, j), through the cache. */
  private word(text: string, i: number, j: number): Ids {
    if (j - i > this.cache.maxKeyLength) return this.bpe(text, i, j);
    const key = text.slice(i, j);
    let ids = this.cache.get(key);
    if (ids === undefined) {
      ids = this.bpe(text, i, j);
      this.cache.set(key, ids);
    }
    return ids;
  }

  /** BPE of one pre-token text[i, j). */
  private bpe(text: string, i: number, j: number): Ids {
    const need = 3 * (j - i);
    if (this.syms.length < need) this.syms = new Int32Array(need);
    const syms = this.syms;
    let n = utf8Symbols(text, i, j, this.vocab.byteToken, syms);
    if (!this.vocab.wellOrdered) {
      const ids = bpeReference(Array.from(syms.subarray(0, n)), this.merges);
      return ids.length === 1 ? ids[0] : ids;
    }
    if (n < LONG_WORD) {
      n = bpeSmall(syms, n, this.ranks, this.merges);
    } else {
      this.heads ??= makeBucketHeads(this.merges.mergeResult.length);
      n = bpeLong(syms, n, this.merges, this.heads);
    }
    if (n === 1) return syms[0];
    const ids = new Array<number>(n);
    for (let k = 0; k < n; k++) ids[k] = syms[k];
    // drop a huge scratch buffer so one long word does not pin its memory
    if (this.syms.length > 1 << 16) this.syms = new Int32Array(1024);
    return ids;
  }

  /** Forget cached words (memory is bounded anyway; for tests and benchmarks). */
  clearCache(): void {
    this.cache.clear();
  }
}
