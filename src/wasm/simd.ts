// Small code patterns shared by the kernel generators.

import type { Code } from './emit.ts';

/** block { loop { if exit() break; body(); continue } } */
export function loopWhile(c: Code, exit: () => void, body: () => void): void {
  c.block().loop();
  exit();
  c.br_if(1);
  body();
  c.br(0).end().end();
}

/**
 * acc = a·b + acc on f32x4: relaxed_madd (one FMA where the engine fuses) or mul then add.
 * `pushA`/`pushB` push the factors, `acc` is the accumulator's local index (read and written).
 */
export function madd(c: Code, fma: boolean, pushA: () => void, pushB: () => void, acc: number): void {
  pushA();
  pushB();
  if (!fma) c.f32x4_mul();
  c.local_get(acc);
  if (fma) c.f32x4_relaxed_madd();
  else c.f32x4_add();
  c.local_set(acc);
}

/**
 * out = [Σ a, Σ b, Σ c, Σ d]: horizontal sums of four f32x4 locals (index -1 = a zero vector, taken
 * from local `zero`), by a 4×4 transpose-and-add. t0, t1 are scratch v128 locals.
 *   t0 = [a0+a2, b0+b2, a1+a3, b1+b3],  t1 = the same for c, d
 *   out = [t0_0, t0_1, t1_0, t1_1] + [t0_2, t0_3, t1_2, t1_3]
 */
export function hsum4(c: Code, v: readonly number[], zero: number, t0: number, t1: number, out: number): void {
  const get = (i: number): void => {
    c.local_get(v[i] !== undefined && v[i] >= 0 ? v[i] : zero);
  };
  const pair = (x: number, y: number, dst: number): void => {
    get(x); get(y); c.f32x4_shuffle(0, 4, 1, 5);
    get(x); get(y); c.f32x4_shuffle(2, 6, 3, 7);
    c.f32x4_add().local_set(dst);
  };
  pair(0, 1, t0);
  pair(2, 3, t1);
  c.local_get(t0).local_get(t1).f32x4_shuffle(0, 1, 4, 5);
  c.local_get(t0).local_get(t1).f32x4_shuffle(2, 3, 6, 7);
  c.f32x4_add().local_set(out);
}

/** Store `lanes` (1..4) lanes of the f32x4 local `v` at address local `ptr` + offset. */
export function storeLanes(c: Code, ptr: number, v: number, offset: number, lanes: number): void {
  if (lanes === 4) {
    c.local_get(ptr).local_get(v).v128_store(offset);
    return;
  }
  for (let l = 0; l < lanes; l++) c.local_get(ptr).local_get(v).f32x4_extract_lane(l).f32_store(offset + 4 * l);
}

/**
 * Push 4 weights as f32x4 from the address on the stack + `offF32` (an offset counted in float32
 * bytes): float32 weights load 16 bytes; bfloat16 weights load 4 × u16 (8 bytes, at half the
 * offset), widened and shifted into the high half of each float32 (bf16 → f32 is exact).
 */
export function loadW4(c: Code, bf16: boolean, offF32: number): void {
  if (!bf16) {
    c.v128_load(offF32);
    return;
  }
  c.v128_load16x4_u(offF32 / 2).i32_const(16).i32x4_shl();
}

/** Push [w, 0, 0, 0] (one weight in lane 0) from the address on the stack + offF32 (float32 bytes). */
export function loadW1(c: Code, bf16: boolean, offF32: number, addr: () => void): void {
  if (!bf16) {
    addr();
    c.v128_load32_zero(offF32);
    return;
  }
  c.v128_const_zero();
  addr();
  c.i32_load16_u(offF32 / 2).i32_const(16).i32_shl().i32x4_replace_lane(0);
}

/**
 * exp on f32x4 (Cephes expf): the argument clamped to [−86, 88] (so 2^n stays a normal scale:
 * exp(−86) = 4.4e−38 stands for anything smaller, exp(88) = 1.7e38 for anything larger),
 * n = round(x·log2 e), r = x − n·ln2 (ln2 in two parts, so r is exact to a few ulps),
 * e^r by a degree-7 polynomial on |r| ≤ ln2/2, then 2^n added into the exponent bits.
 * Relative error ≈ 1–2 float32 ulps. Reads the argument from local `x`, leaves the result on the
 * stack; `n` and `r` are scratch v128 locals.
 */
export function expF32x4(c: Code, x: number, n: number, r: number): void {
  c.local_get(x).v128_const_f32x4([88, 88, 88, 88]).f32x4_min()
    .v128_const_f32x4([-86, -86, -86, -86]).f32x4_max().local_set(r);
  const k = (v: number): void => { c.v128_const_f32x4([v, v, v, v]); };
  c.local_get(r);
  k(1.44269504088896341);
  c.f32x4_mul().f32x4_nearest().local_set(n);
  // r = x − n·0.693359375 − n·(−2.12194440e−4)
  c.local_get(r).local_get(n);
  k(0.693359375);
  c.f32x4_mul().f32x4_sub().local_get(n);
  k(-2.12194440e-4);
  c.f32x4_mul().f32x4_sub().local_set(r);
  // p(r) = ((((((1.9875691500e−4·r + 1.3981999507e−3)·r + 8.3334519073e−3)·r + 4.1665795894e−2)·r
  //        + 1.6666665459e−1)·r + 5.0000001201e−1)·r²  + r + 1
  k(1.9875691500e-4);
  for (const coef of [1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1]) {
    c.local_get(r).f32x4_mul();
    k(coef);
    c.f32x4_add();
  }
  c.local_get(r).f32x4_mul().local_get(r).f32x4_mul().local_get(r).f32x4_add();
  k(1);
  c.f32x4_add();
  // · 2^n: n (integral, |n| ≤ 127) shifted into the exponent field
  c.local_get(n).i32x4_trunc_sat_f32x4_s().i32_const(23).i32x4_shl().i32x4_add();
}
