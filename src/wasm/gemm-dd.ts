// GEMM in float64 for the backward pass, as WebAssembly SIMD (f64x2):
//   C[i, j] (+)= Σ_k A[i, k] · B[j, k]      A (I, K), B (J, K): float64 rows, contiguous in k
//   mode 0: C float32 (row stride ldc floats): C = f32(f64(C) + Σ)   (one rounding, like the naive
//           backward's `dw[...] += acc` with a float64 accumulator)
//   mode 1: C float64 (row stride ldc doubles): C += Σ                (partial sums across chunks)
// The gradient tests hold the backward to the naive rung at tight tolerances, and gradients have
// cancellation (small results of large terms), so sums are kept in float64 as the reference does;
// the caller converts (and transposes) the float32 operands into float64 rows first.
//
// Micro-kernel: an MR × NR block of outputs as MR·NR f64x2 partial sums (lanes: k even / odd),
// per 2 k one f64x2 load from each of MR rows of A and NR rows of B, MR·NR multiply-adds; then the
// two lanes are added and C updated. 2 × 4 tiles: 8 accumulators + 2 A + 1 B (+1 product) live.
// Blocking: rows of A in blocks of IC (IC × K × 8 B ≤ 512 KiB: L2), each NR-row group of B
// (NR × K × 8 B: L1 for K ≤ 1024) reused by every tile of the block. Threads split j.

import { Code, F64, I32, Locals, type ModuleBuilder, V128 } from './emit.ts';

export interface DDShape {
  MR: number;
  NR: number;
  fma: boolean;
}

/** tile(a, b, c, K, lda, ldb, ldc, mode): strides in bytes; lda = ldb = 8K */
function tile(s: DDShape, mr: number, nr: number): { locals: Locals; code: Code } {
  const L = new Locals([['a', I32], ['b', I32], ['c', I32], ['K', I32], ['lda', I32], ['ldb', I32], ['ldc', I32], ['mode', I32]]);
  const g = (n: string): number => L.get(n);
  const c = new Code();
  const pa = Array.from({ length: mr }, (_, r) => (r === 0 ? g('a') : L.add(`pa${r}`, I32)));
  const pb = Array.from({ length: nr }, (_, j) => (j === 0 ? g('b') : L.add(`pb${j}`, I32)));
  const q = L.add('q', I32), cr = L.add('cr', I32);
  const acc = Array.from({ length: mr }, (_, r) => Array.from({ length: nr }, (_, j) => L.add(`acc${r}_${j}`, V128)));
  const av = Array.from({ length: mr }, (_, r) => L.add(`a${r}`, V128));
  const bv = L.add('bv', V128), sum = L.add('sum', V128), x = L.add('x', F64);
  for (let r = 1; r < mr; r++) c.local_get(pa[r - 1]).local_get(g('lda')).i32_add().local_set(pa[r]);
  for (let j = 1; j < nr; j++) c.local_get(pb[j - 1]).local_get(g('ldb')).i32_add().local_set(pb[j]);

  // one step of 2 k (full: f64x2 loads) or 1 k (lane 0 only), then advance
  const loop = (count: () => void, full: boolean): void => {
    count();
    c.local_set(q);
    c.block().loop();
    c.local_get(q).i32_eqz().br_if(1);
    for (let r = 0; r < mr; r++) {
      c.local_get(pa[r]);
      if (full) c.v128_load();
      else c.v128_load64_zero();
      c.local_set(av[r]);
    }
    for (let j = 0; j < nr; j++) {
      c.local_get(pb[j]);
      if (full) c.v128_load();
      else c.v128_load64_zero();
      c.local_set(bv);
      for (let r = 0; r < mr; r++) {
        c.local_get(av[r]).local_get(bv);
        if (s.fma) c.local_get(acc[r][j]).f64x2_relaxed_madd();
        else c.f64x2_mul().local_get(acc[r][j]).f64x2_add();
        c.local_set(acc[r][j]);
      }
    }
    for (const p of [...pa, ...pb]) c.local_get(p).i32_const(full ? 16 : 8).i32_add().local_set(p);
    c.local_get(q).i32_const(1).i32_sub().local_set(q);
    c.br(0).end().end();
  };
  loop(() => c.local_get(g('K')).i32_const(1).i32_shr_u(), true);
  loop(() => c.local_get(g('K')).i32_const(1).i32_and(), false);

  for (let r = 0; r < mr; r++) {
    c.local_get(g('c'));
    if (r > 0) c.local_get(g('ldc')).i32_const(r).i32_mul().i32_add();
    c.local_set(cr);
    for (let j = 0; j < nr; j += 2) {
      // sum = [Σ acc_j, Σ acc_j+1] (lane 0 + lane 1 of each)
      const a0 = acc[r][j], a1 = j + 1 < nr ? acc[r][j + 1] : acc[r][j];
      c.local_get(a0).local_get(a1).f64x2_shuffle(0, 2);
      c.local_get(a0).local_get(a1).f64x2_shuffle(1, 3);
      c.f64x2_add().local_set(sum);
      const two = j + 1 < nr;
      c.local_get(g('mode')).if_();
      // float64 C: C[j..] += sum
      if (two) {
        c.local_get(cr).local_get(cr).v128_load(8 * j).local_get(sum).f64x2_add().v128_store(8 * j);
      } else {
        c.local_get(cr).local_get(cr).f64_load(8 * j).local_get(sum).f64x2_extract_lane(0).f64_add().f64_store(8 * j);
      }
      c.else_();
      // float32 C: C = f32(f64(C) + sum)
      for (let l = 0; l < (two ? 2 : 1); l++) {
        c.local_get(cr).f32_load(4 * (j + l)).f64_promote_f32().local_get(sum).f64x2_extract_lane(l).f64_add().local_set(x);
        c.local_get(cr).local_get(x).f32_demote_f64().f32_store(4 * (j + l));
      }
      c.end();
    }
  }
  return { locals: L, code: c };
}

/**
 * Add the tiles (table slots base .. base + MR·NR) and the driver
 *   <name>(a, b, c, I, K, J, j0, j1, IC, ldc, mode)
 * for columns [j0, j1) (rows j0..j1 of B); ldc in elements of C's type. Returns the tiles in slot order.
 */
export function addGemmDD(mb: ModuleBuilder, s: DDShape, name: string, base: number): number[] {
  const tileType = mb.typeIndex([I32, I32, I32, I32, I32, I32, I32, I32], []);
  const table: number[] = [];
  for (let mr = 1; mr <= s.MR; mr++) {
    for (let nr = 1; nr <= s.NR; nr++) {
      const t = tile(s, mr, nr);
      const idx = mb.declare(`${name}_tile_${mr}x${nr}`, t.locals.params, [], false);
      mb.define(idx, t.locals.locals, t.code);
      table[(mr - 1) * s.NR + nr - 1] = idx;
    }
  }
  const main = table[s.MR * s.NR - 1];
  const L = new Locals([['a', I32], ['b', I32], ['c', I32], ['I', I32], ['K', I32], ['J', I32], ['j0', I32], ['j1', I32],
    ['IC', I32], ['ldc', I32], ['mode', I32]]);
  const g = (n: string): number => L.get(n);
  const i0 = L.add('i0', I32), ie = L.add('ie', I32), j = L.add('j', I32), i = L.add('i', I32), rem = L.add('rem', I32);
  const nr = L.add('nr', I32), es = L.add('es', I32);
  const c = new Code();
  // tile arguments at (i, j): a + 8iK, b + 8jK, c + es·(i·ldc + j), K, 8K, 8K, es·ldc, mode
  const args = (): void => {
    c.local_get(g('a')).local_get(i).local_get(g('K')).i32_mul().i32_const(3).i32_shl().i32_add();
    c.local_get(g('b')).local_get(j).local_get(g('K')).i32_mul().i32_const(3).i32_shl().i32_add();
    c.local_get(g('c')).local_get(i).local_get(g('ldc')).i32_mul().local_get(j).i32_add().local_get(es).i32_mul().i32_add();
    c.local_get(g('K'));
    c.local_get(g('K')).i32_const(3).i32_shl();
    c.local_get(g('K')).i32_const(3).i32_shl();
    c.local_get(g('ldc')).local_get(es).i32_mul();
    c.local_get(g('mode'));
  };
  // slot of (min(MR, ie - i), nr)
  const slot = (): void => {
    c.i32_const(s.MR).local_get(ie).local_get(i).i32_sub().local_tee(rem).i32_const(s.MR).local_get(rem).i32_lt_s().select();
    c.i32_const(1).i32_sub().i32_const(s.NR).i32_mul().local_get(nr).i32_add().i32_const(1).i32_sub();
    if (base) c.i32_const(base).i32_add();
  };
  // element size of C: 4 (mode 0) or 8 (mode 1)
  c.i32_const(8).i32_const(4).local_get(g('mode')).select().local_set(es);
  c.i32_const(0).local_set(i0);
  c.block().loop(); // row blocks
  c.local_get(g('I')).local_get(i0).local_get(g('IC')).i32_add().local_tee(ie).local_get(g('I')).local_get(ie).i32_lt_s().select().local_set(ie);
  c.local_get(g('j0')).local_set(j);
  c.block().loop(); // groups of NR rows of B
  c.local_get(j).local_get(g('j1')).i32_ge_s().br_if(1);
  c.i32_const(s.NR).local_get(g('j1')).local_get(j).i32_sub().local_tee(nr).i32_const(s.NR).local_get(nr).i32_lt_s().select().local_set(nr);
  c.local_get(i0).local_set(i);
  c.local_get(nr).i32_const(s.NR).i32_eq().if_();
  c.block().loop();
  c.local_get(i).i32_const(s.MR).i32_add().local_get(ie).i32_gt_s().br_if(1);
  args();
  c.call(main);
  c.local_get(i).i32_const(s.MR).i32_add().local_set(i);
  c.br(0).end().end();
  c.end();
  c.block().loop(); // leftover rows, or all rows of a partial group
  c.local_get(i).local_get(ie).i32_ge_s().br_if(1);
  args();
  slot();
  c.call_indirect(tileType);
  c.local_get(i).i32_const(s.MR).i32_add().local_set(i);
  c.br(0).end().end();
  c.local_get(j).i32_const(s.NR).i32_add().local_set(j);
  c.br(0).end().end();
  c.local_get(ie).local_tee(i0).local_get(g('I')).i32_lt_s().br_if(0);
  c.end().end();
  const drv = mb.declare(name, L.params, [], true);
  mb.define(drv, L.locals, c);
  return table;
}
