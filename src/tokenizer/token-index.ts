// Token string → id, looked up by a range of a larger string (a line of vocab.bpe) without
// slicing it: an open-addressing table of ids hashed with FNV-1a over UTF-16 units. Building the
// tables through a Map<string, number> with sliced keys was the larger part of load time.

function fnvStep(h: number, c: number): number {
  return Math.imul(h ^ c, 16777619);
}
const FNV_SEED = 0x811c9dc5 | 0;

export class TokenIndex {
  private readonly slots: Int32Array; // ids, -1 = empty
  private readonly mask: number;

  constructor(private readonly tokens: readonly string[]) {
    let size = 16;
    while (size < tokens.length * 2) size *= 2;
    this.slots = new Int32Array(size).fill(-1);
    this.mask = size - 1;
    for (let id = 0; id < tokens.length; id++) {
      const t = tokens[id];
      let h = FNV_SEED;
      for (let i = 0; i < t.length; i++) h = fnvStep(h, t.charCodeAt(i));
      let s = h & this.mask;
      while (this.slots[s] !== -1) {
        if (tokens[this.slots[s]] === t) throw new Error(`token ${JSON.stringify(t)} appears twice (ids ${this.slots[s]} and ${id})`);
        s = (s + 1) & this.mask;
      }
      this.slots[s] = id;
    }
  }

  /** The id of the token text[a0, a1) + text[b0, b1) (b0 = b1 for a single range), or -1. */
  find(text: string, a0: number, a1: number, b0 = 0, b1 = 0): number {
    let h = FNV_SEED;
    for (let i = a0; i < a1; i++) h = fnvStep(h, text.charCodeAt(i));
    for (let i = b0; i < b1; i++) h = fnvStep(h, text.charCodeAt(i));
    const len = a1 - a0 + (b1 - b0);
    for (let s = h & this.mask; ; s = (s + 1) & this.mask) {
      const id = this.slots[s];
      if (id === -1) return -1;
      const t = this.tokens[id];
      if (t.length !== len) continue;
      let k = 0;
      let ok = true;
      for (let i = a0; i < a1 && ok; i++) ok = t.charCodeAt(k++) === text.charCodeAt(i);
      for (let i = b0; i < b1 && ok; i++) ok = t.charCodeAt(k++) === text.charCodeAt(i);
      if (ok) return id;
    }
  }

  /** The id of a whole string, or -1. */
  get(s: string): number {
    return this.find(s, 0, s.length);
  }
}
