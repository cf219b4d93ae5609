// A bounded memo of pre-token → token ids. Two generations of at most `capacity` entries each:
// hits are served from either and promoted to the young one; when the young one is full it
// becomes the old one and the previous old one is dropped. Recently used words survive, memory
// is bounded by 2·capacity entries of keys ≤ maxKeyLength, and there is no per-hit bookkeeping.

/** one token id, or several */
export type Ids = number | number[];

export class WordCache {
  private young = new Map<string, Ids>();
  private old = new Map<string, Ids>();

  constructor(
    readonly capacity = 32768,
    readonly maxKeyLength = 64,
  ) {}

  get(key: string): Ids | undefined {
    const v = this.young.get(key);
    if (v !== undefined) return v;
    const w = this.old.get(key);
    if (w !== undefined) this.set(key, w);
    return w;
  }

  set(key: string, ids: Ids): void {
    if (this.young.size >= this.capacity) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, ids);
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  clear(): void {
    this.young.clear();
    this.old.clear();
  }
}
