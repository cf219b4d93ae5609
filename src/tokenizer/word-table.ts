// The bounded memo of pre-token → token ids, as flat typed arrays: an open-addressing table keyed
// by the pre-token's characters, read straight out of the text (no substring, no string hashing
// by the engine), with the keys and ids in two pools. This replaced a Map<string, ids>, whose
// slice + get was ≈60% of encode time on mixed text.
//
// Memory is fixed at construction (≈ 40 bytes per entry plus the pools); when the table or a
// pool is full it is emptied, and the words that matter come back on their next use.

const FNV_SEED = 0x811c9dc5 | 0;

/** Hash of the UTF-16 units text[i, j) (FNV-1a, with a final mix for the low bits). */
export function hashRange(text: string, i: number, j: number): number {
  let h = FNV_SEED;
  for (let k = i; k < j; k++) h = Math.imul(h ^ text.charCodeAt(k), 16777619);
  return h ^ (h >>> 15);
}

export class WordTable {
  private readonly slots: Int32Array; // (S) entry + 1, 0 = empty; S = 2·capacity, a power of 2
  private readonly mask: number;
  private readonly hashes: Int32Array; // per entry: key hash
  private readonly keyAt: Int32Array; // per entry: key start in keyPool
  private readonly keyLen: Int32Array; // per entry: key length (UTF-16 units)
  private readonly valAt: Int32Array; // per entry: ids start in valPool
  private readonly valLen: Int32Array; // per entry: number of ids
  private readonly keyPool: Uint16Array; // the keys' UTF-16 units, back to back
  readonly valPool: Int32Array; // the ids, back to back
  private count = 0;
  private keyUsed = 0;
  private valUsed = 0;

  constructor(
    readonly capacity: number,
    readonly maxKeyLength: number,
  ) {
    let s = 16;
    while (s < 2 * capacity) s *= 2;
    this.slots = new Int32Array(s);
    this.mask = s - 1;
    this.hashes = new Int32Array(capacity);
    this.keyAt = new Int32Array(capacity);
    this.keyLen = new Int32Array(capacity);
    this.valAt = new Int32Array(capacity);
    this.valLen = new Int32Array(capacity);
    // room for keys averaging 12 units and 4 ids per word (pre-tokens average ≈ 4-5 bytes)
    this.keyPool = new Uint16Array(Math.max(12 * capacity, maxKeyLength));
    this.valPool = new Int32Array(Math.max(4 * capacity, 3 * maxKeyLength));
  }

  get size(): number {
    return this.count;
  }

  /** The entry for text[i, j) with hash h, or -1. */
  find(text: string, i: number, j: number, h: number): number {
    const len = j - i;
    for (let s = h & this.mask; ; s = (s + 1) & this.mask) {
      const e = this.slots[s] - 1;
      if (e < 0) return -1;
      if (this.hashes[e] !== h || this.keyLen[e] !== len) continue;
      const at = this.keyAt[e];
      let k = 0;
      while (k < len && this.keyPool[at + k] === text.charCodeAt(i + k)) k++;
      if (k === len) return e;
    }
  }

  /** First id of entry e in valPool; idsLength(e) of them. */
  idsAt(e: number): number {
    return this.valAt[e];
  }

  idsLength(e: number): number {
    return this.valLen[e];
  }

  /** Store ids[0, n) for text[i, j) (not already present; j - i ≤ maxKeyLength). */
  insert(text: string, i: number, j: number, h: number, ids: Int32Array, n: number): void {
    const len = j - i;
    if (this.count === this.capacity || this.keyUsed + len > this.keyPool.length || this.valUsed + n > this.valPool.length) {
      this.clear();
    }
    const e = this.count++;
    this.hashes[e] = h;
    this.keyAt[e] = this.keyUsed;
    this.keyLen[e] = len;
    for (let k = 0; k < len; k++) this.keyPool[this.keyUsed + k] = text.charCodeAt(i + k);
    this.keyUsed += len;
    this.valAt[e] = this.valUsed;
    this.valLen[e] = n;
    for (let k = 0; k < n; k++) this.valPool[this.valUsed + k] = ids[k];
    this.valUsed += n;
    let s = h & this.mask;
    while (this.slots[s] !== 0) s = (s + 1) & this.mask;
    this.slots[s] = e + 1;
  }

  clear(): void {
    this.slots.fill(0);
    this.count = 0;
    this.keyUsed = 0;
    this.valUsed = 0;
  }

  /** Bytes held by the table (fixed at construction). */
  get bytes(): number {
    return this.slots.byteLength + 5 * this.hashes.byteLength + this.keyPool.byteLength + this.valPool.byteLength;
  }
}
