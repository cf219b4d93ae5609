// Plain-text encoding: walk the pre-tokens (pretokenize.ts), and turn each into ids through the
// bounded word table (word-table.ts), or BPE on a miss. A one-character ASCII pre-token (space,
// newline, punctuation) is its own byte token and skips the table.

import { type Merges, bpeLong, bpeReference, bpeSmall, makeBucketHeads } from './bpe.ts';
import { preTokenEnd } from './pretokenize.ts';
import { utf8Bytes } from './utf8.ts';
import type { Vocab } from './vocab.ts';
import { WordTable, hashRange } from './word-table.ts';

/** Words of at least this many bytes use the linear-time merge: its ≈50 µs sweep over all ranks
 * costs more than the quadratic loop below ≈350 bytes (random letters, measured here). */
const LONG_WORD = 384;

export interface CacheOptions {
  /** most words remembered (default 65536; the table then takes ≈ 6 MB) */
  cacheSize?: number;
  /** pre-tokens longer than this (UTF-16 units) are not remembered (default 64) */
  cacheMaxWord?: number;
}

export class BpeEncoder {
  private syms = new Int32Array(1024); // scratch: the symbols of one pre-token
  private readonly ranks = new Int32Array(LONG_WORD); // scratch for bpeSmall
  private heads: Int32Array | null = null; // scratch for bpeLong, made on first long word
  private readonly table: WordTable;
  private readonly merges: Merges;

  constructor(
    private readonly vocab: Vocab,
    opts: CacheOptions = {},
  ) {
    this.table = new WordTable(Math.max(1, opts.cacheSize ?? 65536), opts.cacheMaxWord ?? 64);
    this.merges = vocab;
  }

  /** Append the ids of text[start, end), encoded as plain text, to out. */
  encodeRange(text: string, start: number, end: number, out: number[]): void {
    const byteToken = this.vocab.byteToken;
    const table = this.table;
    const pool = table.valPool;
    for (let i = start; i < end; ) {
      const j = preTokenEnd(text, i, end);
      const c = text.charCodeAt(i);
      if (j === i + 1 && c < 128) {
        out.push(byteToken[c]);
      } else if (j - i <= table.maxKeyLength) {
        const h = hashRange(text, i, j);
        const e = table.find(text, i, j, h);
        if (e >= 0) {
          const at = table.idsAt(e);
          const n = table.idsLength(e);
          for (let k = 0; k < n; k++) out.push(pool[at + k]);
        } else {
          const n = this.bpe(text, i, j);
          table.insert(text, i, j, h, this.syms, n);
          for (let k = 0; k < n; k++) out.push(this.syms[k]);
        }
      } else {
        const n = this.bpe(text, i, j);
        const syms = this.syms;
        for (let k = 0; k < n; k++) out.push(syms[k]);
        this.shrinkScratch();
      }
      i = j;
    }
  }

  /** The number of ids encodeRange would append. */
  countRange(text: string, start: number, end: number): number {
    const table = this.table;
    let count = 0;
    for (let i = start; i < end; ) {
      const j = preTokenEnd(text, i, end);
      if (j === i + 1 && text.charCodeAt(i) < 128) {
        count++;
      } else if (j - i <= table.maxKeyLength) {
        const h = hashRange(text, i, j);
        const e = table.find(text, i, j, h);
        if (e >= 0) {
          count += table.idsLength(e);
        } else {
          const n = this.bpe(text, i, j);
          table.insert(text, i, j, h, this.syms, n);
          count += n;
        }
      } else {
        count += this.bpe(text, i, j);
        this.shrinkScratch();
      }
      i = j;
    }
    return count;
  }

  /** BPE of one pre-token text[i, j): the ids are left in this.syms[0, n); returns n. */
  private bpe(text: string, i: number, j: number): number {
    const need = 3 * (j - i);
    if (this.syms.length < need) this.syms = new Int32Array(need);
    const syms = this.syms;
    const n = utf8Bytes(text, i, j, syms);
    const { byteToken, bytePairRank } = this.vocab;
    if (n < LONG_WORD && this.vocab.wellOrdered) {
      // the first ranks are byte pairs: a direct table, not the pair hash
      const ranks = this.ranks;
      for (let k = 0; k + 1 < n; k++) ranks[k] = bytePairRank[(syms[k] << 8) | syms[k + 1]];
      for (let k = 0; k < n; k++) syms[k] = byteToken[syms[k]];
      return bpeSmall(syms, n, ranks, this.merges, true);
    }
    for (let k = 0; k < n; k++) syms[k] = byteToken[syms[k]];
    if (!this.vocab.wellOrdered) {
      const ids = bpeReference(Array.from(syms.subarray(0, n)), this.merges);
      syms.set(ids);
      return ids.length;
    }
    this.heads ??= makeBucketHeads(this.merges.mergeResult.length);
    return bpeLong(syms, n, this.merges, this.heads);
  }

  /** Drop a huge scratch buffer so one long word does not pin its memory. */
  private shrinkScratch(): void {
    if (this.syms.length > 1 << 16) this.syms = new Int32Array(1024);
  }

  cacheStats(): { entries: number; maxEntries: number; maxWordLength: number; bytes: number } {
    return { entries: this.table.size, maxEntries: this.table.capacity, maxWordLength: this.table.maxKeyLength, bytes: this.table.bytes };
  }

  /** Forget remembered words (memory is bounded anyway; for tests and benchmarks). */
  clearCache(): void {
    this.table.clear();
  }
}
