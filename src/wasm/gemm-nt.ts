// GEMM with W stored (N, K) and used transposed, as WebAssembly SIMD:  C = A · Wᵀ + bias
//   A (M, K), W (N, K) (the tied lm-head: `wte` (V, C), never copied), C (M, N), bias (N) or none.
//
// Micro-kernel (dot-product form): an MR × NR block of C as MR·NR f32x4 partial sums, vectorized
// along k: per 4 k it loads one vector from each of MR rows of A and NR rows of W (all contiguous)
// and does MR·NR multiply-adds; at the end each f32x4 is summed horizontally (a 4×4 transpose-add)
// and bias is added. No packing: rows of A and W are already contiguous in k.
//
// Blocking (driver `gemm_nt`): M is cut into blocks of MC rows (A block MC × K × 4 B: 768 KiB at
// MC = 256, K = 768: L2); within a block every NR-row group of W (NR × K × 4 B = 12 KiB at NR = 4:
// L1) is reused by all MR-row tiles of A. Threads split the columns [n0, n1) = rows of W.
// Edges: fewer rows (M % MR) or W rows (N % NR) are variants called through the function table.

import { Code, I32, Locals, type ModuleBuilder, V128 } from './emit.ts';
import { hsum4, loadW1, loadW4, madd, storeLanes } from './simd.ts';

export interface NTShape {
  MR: number;
  /** W rows per tile (a multiple of 4 is best: outputs are stored 4 at a time) */
  NR: number;
  /** vector (4 k) unroll of the inner loop */
  U: number;
  fma: boolean;
  /** W stored as bfloat16 (half the bytes; widened in registers), A and C stay float32 */
  bf16?: boolean;
}

function ntSlot(s: NTShape, mr: number, nr: number): number {
  return (mr - 1) * s.NR + (nr - 1);
}

/** tile: (a, w, c, bias, K, lda, ldw, ldc, accum); bias 0 = none; accum 1: C += (backward); strides in bytes */
function ntTile(s: NTShape, mr: number, nr: number): { locals: Locals; code: Code } {
  const L = new Locals([['a', I32], ['w', I32], ['c', I32], ['bias', I32], ['K', I32], ['lda', I32], ['ldw', I32], ['ldc', I32], ['accum', I32]]);
  const c = new Code();
  const bf16 = s.bf16 === true;
  const pa = Array.from({ length: mr }, (_, r) => (r === 0 ? L.get('a') : L.add(`pa${r}`, I32)));
  const pw = Array.from({ length: nr }, (_, j) => (j === 0 ? L.get('w') : L.add(`pw${j}`, I32)));
  const kk = L.add('kk', I32);
  const cr = L.add('cr', I32);
  const acc = Array.from({ length: mr }, (_, r) => Array.from({ length: nr }, (_, j) => L.add(`acc${r}_${j}`, V128)));
  const av = Array.from({ length: mr }, (_, r) => L.add(`a${r}`, V128));
  const wv = L.add('wv', V128);
  const zero = L.add('zero', V128); // never written: locals start at zero
  const t0 = L.add('t0', V128), t1 = L.add('t1', V128), sum = L.add('sum', V128);

  for (let r = 1; r < mr; r++) c.local_get(pa[r - 1]).local_get(L.get('lda')).i32_add().local_set(pa[r]);
  for (let j = 1; j < nr; j++) c.local_get(pw[j - 1]).local_get(L.get('ldw')).i32_add().local_set(pw[j]);

  // one step of `width` k (4: a vector; 1: a scalar in lane 0, others zero) at byte offset `off`
  const step = (off: number, width: 4 | 1): void => {
    for (let r = 0; r < mr; r++) {
      c.local_get(pa[r]);
      if (width === 4) c.v128_load(off);
      else c.v128_load32_zero(off);
      c.local_set(av[r]);
    }
    for (let j = 0; j < nr; j++) {
      if (width === 4) {
        c.local_get(pw[j]);
        loadW4(c, bf16, off);
      } else {
        loadW1(c, bf16, off, () => c.local_get(pw[j]));
      }
      c.local_set(wv);
      for (let r = 0; r < mr; r++) madd(c, s.fma, () => c.local_get(av[r]), () => c.local_get(wv), acc[r][j]);
    }
  };
  const loop = (count: () => void, body: () => void, advance: number): void => {
    count();
    c.local_set(kk);
    c.block().loop();
    c.local_get(kk).i32_eqz().br_if(1);
    body();
    for (const p of pa) c.local_get(p).i32_const(advance).i32_add().local_set(p);
    for (const p of pw) c.local_get(p).i32_const(bf16 ? advance / 2 : advance).i32_add().local_set(p);
    c.local_get(kk).i32_const(1).i32_sub().local_set(kk);
    c.br(0).end().end();
  };
  const U = s.U;
  loop(() => c.local_get(L.get('K')).i32_const(2 + Math.log2(U)).i32_shr_u(), () => {
    for (let u = 0; u < U; u++) step(16 * u, 4);
  }, 16 * U);
  if (U > 1) loop(() => c.local_get(L.get('K')).i32_const(2).i32_shr_u().i32_const(U - 1).i32_and(), () => step(0, 4), 16);
  loop(() => c.local_get(L.get('K')).i32_const(3).i32_and(), () => step(0, 1), 4);

  // reduce, add bias, store: outputs (r, 4g .. 4g+3)
  for (let r = 0; r < mr; r++) {
    c.local_get(L.get('c'));
    if (r > 0) c.local_get(L.get('ldc')).i32_const(r).i32_mul().i32_add();
    c.local_set(cr);
    for (let g = 0; 4 * g < nr; g++) {
      hsum4(c, [0, 1, 2, 3].map((i) => (4 * g + i < nr ? acc[r][4 * g + i] : -1)), zero, t0, t1, sum);
      c.local_get(L.get('bias')).if_();
      c.local_get(sum).local_get(L.get('bias')).v128_load(16 * g).f32x4_add().local_set(sum);
      c.end();
      c.local_get(L.get('accum')).if_();
      c.local_get(sum).local_get(cr).v128_load(16 * g).f32x4_add().local_set(sum);
      c.end();
      storeLanes(c, cr, sum, 16 * g, Math.min(4, nr - 4 * g));
    }
  }
  return { locals: L, code: c };
}

/**
 * Add the tiles (table slots base .. base + MR·NR) and the driver
 *   <name>(a, w, c, bias, M, K, N, n0, n1, MC, accum)
 * computing columns [n0, n1) of C (rows n0..n1 of W); accum = 1 adds into C (C += A·Wᵀ). Returns the tiles' function indices in slot order.
 */
export function addGemmNT(mb: ModuleBuilder, s: NTShape, name: string, base: number): number[] {
  const table: number[] = [];
  const tileType = mb.typeIndex([I32, I32, I32, I32, I32, I32, I32, I32, I32], []);
  for (let mr = 1; mr <= s.MR; mr++) {
    for (let nr = 1; nr <= s.NR; nr++) {
      const t = ntTile(s, mr, nr);
      const idx = mb.declare(`${name}_tile_${mr}x${nr}`, t.locals.params, [], false);
      mb.define(idx, t.locals.locals, t.code);
      table[ntSlot(s, mr, nr)] = idx;
    }
  }
  const main = table[ntSlot(s, s.MR, s.NR)];

  const L = new Locals([['a', I32], ['w', I32], ['c', I32], ['bias', I32], ['M', I32], ['K', I32], ['N', I32],
    ['n0', I32], ['n1', I32], ['MC', I32], ['accum', I32]]);
  const g = (n: string): number => L.get(n);
  const mc0 = L.add('mc0', I32), me = L.add('me', I32), n = L.add('n', I32), m = L.add('m', I32);
  const rem = L.add('rem', I32), nr = L.add('nr', I32);
  const c = new Code();
  const wShift = s.bf16 ? 1 : 2; // log2 of W's element size
  const args = (): void => {
    c.local_get(g('a')).local_get(m).local_get(g('K')).i32_mul().i32_const(2).i32_shl().i32_add();
    c.local_get(g('w')).local_get(n).local_get(g('K')).i32_mul().i32_const(wShift).i32_shl().i32_add();
    c.local_get(g('c')).local_get(m).local_get(g('N')).i32_mul().local_get(n).i32_add().i32_const(2).i32_shl().i32_add();
    // bias ? bias + 4n : 0
    c.local_get(g('bias')).local_get(n).i32_const(2).i32_shl().i32_add().i32_const(0).local_get(g('bias')).select();
    c.local_get(g('K'));
    c.local_get(g('K')).i32_const(2).i32_shl();
    c.local_get(g('K')).i32_const(wShift).i32_shl();
    c.local_get(g('N')).i32_const(2).i32_shl();
    c.local_get(g('accum'));
  };
  // slot of (min(MR, me - m), nr) where nr is a constant (NR) or the local `nr`
  const slot = (nrLocal: number | null): void => {
    c.i32_const(s.MR).local_get(me).local_get(m).i32_sub().local_tee(rem).i32_const(s.MR).local_get(rem).i32_lt_s().select();
    c.i32_const(1).i32_sub().i32_const(s.NR).i32_mul();
    if (nrLocal === null) c.i32_const(s.NR);
    else c.local_get(nrLocal);
    c.i32_const(1).i32_sub().i32_add();
    if (base) c.i32_const(base).i32_add();
  };
  // rows of one M block against one group of W rows, all tiles of the block
  const rowsOfBlock = (full: boolean): void => {
    c.local_get(mc0).local_set(m);
    if (full) {
      c.block().loop();
      c.local_get(m).i32_const(s.MR).i32_add().local_get(me).i32_gt_s().br_if(1);
      args();
      c.call(main);
      c.local_get(m).i32_const(s.MR).i32_add().local_set(m);
      c.br(0).end().end();
      c.local_get(m).local_get(me).i32_lt_s().if_();
      args();
      slot(null);
      c.call_indirect(tileType);
      c.end();
    } else {
      c.block().loop();
      c.local_get(m).local_get(me).i32_ge_s().br_if(1);
      args();
      slot(nr);
      c.call_indirect(tileType);
      c.local_get(m).i32_const(s.MR).i32_add().local_set(m);
      c.br(0).end().end();
    }
  };

  c.i32_const(0).local_set(mc0);
  c.block().loop(); // M blocks
  // me = min(M, mc0 + MC)
  c.local_get(g('M')).local_get(mc0).local_get(g('MC')).i32_add().local_tee(me).local_get(g('M')).local_get(me).i32_lt_s().select().local_set(me);
  c.local_get(g('n0')).local_set(n);
  c.block().loop(); // full groups of NR W rows
  c.local_get(n).i32_const(s.NR).i32_add().local_get(g('n1')).i32_gt_s().br_if(1);
  rowsOfBlock(true);
  c.local_get(n).i32_const(s.NR).i32_add().local_set(n);
  c.br(0).end().end();
  c.local_get(n).local_get(g('n1')).i32_lt_s().if_();
  c.local_get(g('n1')).local_get(n).i32_sub().local_set(nr);
  rowsOfBlock(false);
  c.end();
  c.local_get(me).local_tee(mc0).local_get(g('M')).i32_lt_s().br_if(0);
  c.end().end();

  const drv = mb.declare(name, L.params, [], true);
  mb.define(drv, L.locals, c);
  return table;
}
