// A hash map from a pair of token ids (left, right) to a merge rank, in two typed arrays, so the
// BPE inner loop looks ranks up by integers: no string keys, no allocation. Open addressing with
// linear probing at load factor ≤ 0.5.

/** The rank returned for a pair with no merge: larger than every real rank. */
export const NO_MERGE = 0x7fffffff;

export class PairTable {
  private readonly keys: Int32Array; // (2·slots): left, right; left = -1 marks an empty slot
  private readonly vals: Int32Array; // (slots): rank
  private readonly mask: number;

  constructor(capacity: number) {
    let slots = 16;
    while (slots < capacity * 2) slots *= 2;
    this.keys = new Int32Array(2 * slots).fill(-1);
    this.vals = new Int32Array(slots);
    this.mask = slots - 1;
  }

  private static hash(a: number, b: number): number {
    const h = Math.imul(a ^ Math.imul(b, 0x85ebca6b), 0x9e3779b1);
    return h ^ (h >>> 15);
  }

  /** Insert or overwrite. a, b ≥ 0. */
  set(a: number, b: number, rank: number): void {
    const { keys, mask } = this;
    let s = PairTable.hash(a, b) & mask;
    while (keys[2 * s] !== -1 && (keys[2 * s] !== a || keys[2 * s + 1] !== b)) s = (s + 1) & mask;
    keys[2 * s] = a;
    keys[2 * s + 1] = b;
    this.vals[s] = rank;
  }

  /** The rank of (a, b), or NO_MERGE. */
  get(a: number, b: number): number {
    const keys = this.keys;
    const mask = this.mask;
    let s = PairTable.hash(a, b) & mask;
    for (;;) {
      const k = keys[2 * s];
      if (k === a && keys[2 * s + 1] === b) return this.vals[s];
      if (k === -1) return NO_MERGE;
      s = (s + 1) & mask;
    }
  }
}
