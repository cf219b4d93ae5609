// A small seeded PRNG for sampling and dropout: PCG32 (O'Neill, pcg-random.org, "pcg32_random_r"),
// 64-bit state and increment held as two 32-bit halves so it runs identically in every JS runtime
// without BigInt on the hot path. Same seed → same stream, on every backend and machine.

const MUL_HI = 0x5851f42d, MUL_LO = 0x4c957f2d; // 6364136223846793005

export interface RngState {
  stateHi: number;
  stateLo: number;
  incHi: number;
  incLo: number;
}

export class Rng {
  private sHi = 0;
  private sLo = 0;
  private iHi = 0;
  private iLo = 0;

  /** seed: any safe integer (negative allowed); stream selects an independent sequence */
  constructor(seed: number, stream = 54) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
    const s = BigInt.asUintN(64, BigInt(seed));
    const inc = BigInt.asUintN(64, (BigInt(stream) << 1n) | 1n);
    this.iHi = Number(inc >> 32n) >>> 0;
    this.iLo = Number(inc & 0xffffffffn) >>> 0;
    // pcg32_srandom_r: state = 0; step; state += seed; step
    this.step();
    const lo = this.sLo + Number(s & 0xffffffffn);
    this.sHi = (this.sHi + Number(s >> 32n) + (lo > 0xffffffff ? 1 : 0)) >>> 0;
    this.sLo = lo >>> 0;
    this.step();
  }

  /** state = state · MUL + inc (mod 2^64), in 32-bit halves */
  private step(): void {
    const aLo = this.sLo, aHi = this.sHi;
    // 64×64 → low 64 bits: lo·lo (full 64) + (hi·lo + lo·hi) << 32
    const a0 = aLo & 0xffff, a1 = aLo >>> 16;
    const b0 = MUL_LO & 0xffff, b1 = MUL_LO >>> 16;
    let lo = a0 * b0;
    const mid = a1 * b0 + a0 * b1 + (lo >>> 16);
    lo = (lo & 0xffff) | ((mid & 0xffff) << 16);
    let hi = a1 * b1 + Math.floor(mid / 65536);
    hi = (hi + Math.imul(aHi, MUL_LO) + Math.imul(aLo, MUL_HI)) >>> 0;
    lo >>>= 0;
    // + inc
    const sum = lo + this.iLo;
    this.sLo = sum >>> 0;
    this.sHi = (hi + this.iHi + (sum > 0xffffffff ? 1 : 0)) >>> 0;
  }

  /** the next uniformly distributed 32-bit unsigned integer */
  nextU32(): number {
    const hi = this.sHi, lo = this.sLo;
    this.step();
    // xorshifted = ((old >> 18) ^ old) >> 27 ; rot = old >> 59
    const xHi = (hi >>> 18) ^ hi;
    const xLo = ((lo >>> 18) | (hi << 14)) ^ lo;
    const xorshifted = ((xLo >>> 27) | (xHi << 5)) >>> 0;
    const rot = hi >>> 27;
    return ((xorshifted >>> rot) | (xorshifted << ((32 - rot) & 31))) >>> 0;
  }

  /** uniform in [0, 1) with 53 random bits */
  next(): number {
    const a = this.nextU32() >>> 5, b = this.nextU32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** the full state, for checkpoints (resume must continue the same stream) */
  getState(): RngState {
    return { stateHi: this.sHi, stateLo: this.sLo, incHi: this.iHi, incLo: this.iLo };
  }

  setState(s: RngState): void {
    for (const v of [s.stateHi, s.stateLo, s.incHi, s.incLo]) {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError('invalid RNG state');
    }
    this.sHi = s.stateHi; this.sLo = s.stateLo; this.iHi = s.incHi; this.iLo = s.incLo;
  }
}
