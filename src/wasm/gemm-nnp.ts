// GEMM with W stored (K, N), through a packed panel of W:  C = A · W + bias
//   A (M, K), W (K, N) (HF Conv1D layout), C (M, N), bias (N) or none; byte-offset pointers.
//
// For each group of 16 columns, `pack` transposes a K block of W[:, n..n+15] into 4 panels (a
// per-thread scratch P of 4 × (⌊KC/4⌋ + 3) × 64 bytes), panel j for columns n' = n+4j.. in chunks of 4 k:
//   P_j[q] = [W[4q..4q+3, n'], W[4q..4q+3, n'+1], W[.., n'+2], W[.., n'+3]]   (4 f32x4, k-contiguous)
// and each of the K%4 leftover k gets a chunk of its own with the value in lane 0 (other lanes 0).
// Then an MR × 4 tile (dot-product form, as in gemm-nt.ts) sums A[r, k..k+3] · P[q][j] in MR·4 f32x4
// partial sums and reduces them with a 4×4 transpose-add. The dot form needs no broadcasts, which
// on x86 compete with the multiplies for the FP ports; and one pointer walks all four packed rows.
//
// Blocking: K in blocks of KC (the 4 panels, 4 × KC/4 × 64 B = 32 KiB at KC = 512: L1/L2; later
// blocks add into C), rows in blocks of MC (the A block MC × KC × 4 B ≤ 512 KiB: L2). Each panel
// is packed once per (K block, row block) and reused by all MC/MR tiles: packing reads W once per
// row block (one 16-byte piece per row), ≈ 1/(2·MC) of the multiply-adds.
// Columns past N in the last group are computed from whatever follows the row (never stored).

import { Code, I32, Locals, type ModuleBuilder, V128 } from './emit.ts';
import { hsum4, loadW1, loadW4, madd, storeLanes } from './simd.ts';

export interface NNPShape {
  MR: number;
  fma: boolean;
  /** W stored as bfloat16: `pack` widens it into the float32 panel, the tiles are unchanged */
  bf16?: boolean;
}

/**
 * pack(w, ldw, K, p, np, ps): np (1..4) panels of 4 columns each, from w (pointing at W[k0, n]),
 * panel j at p + j·ps. One pass over the rows: each row's 16·np bytes are read once (one cache
 * line for np = 4), which keeps TLB and cache-line traffic at one touch per row. ldw, ps in bytes.
 */
function packFn(bf16: boolean): { locals: Locals; code: Code } {
  const L = new Locals([['w', I32], ['ldw', I32], ['K', I32], ['p', I32], ['np', I32], ['ps', I32]]);
  const g = (n: string): number => L.get(n);
  const c = new Code();
  const q = L.add('q', I32), j = L.add('j', I32), off = L.add('off', I32), pj = L.add('pj', I32);
  const wr = [0, 1, 2, 3].map((i) => L.add(`w${i}`, I32));
  const r = [0, 1, 2, 3].map((i) => L.add(`r${i}`, V128));
  const t = [0, 1, 2, 3].map((i) => L.add(`t${i}`, V128));
  // for each panel j < np: body(j) with off = 16j, pj = p + j·ps
  const panels = (body: () => void): void => {
    c.i32_const(0).local_set(j).local_get(g('p')).local_set(pj).i32_const(0).local_set(off);
    c.block().loop();
    c.local_get(j).local_get(g('np')).i32_ge_s().br_if(1);
    body();
    c.local_get(j).i32_const(1).i32_add().local_set(j);
    c.local_get(off).i32_const(16).i32_add().local_set(off);
    c.local_get(pj).local_get(g('ps')).i32_add().local_set(pj);
    c.br(0).end().end();
  };
  // full chunks: rows k..k+3 (r_i = W[k+i, n+4j .. n+4j+3]) transposed to columns
  c.local_get(g('K')).i32_const(2).i32_shr_u().local_set(q);
  c.block().loop();
  c.local_get(q).i32_eqz().br_if(1);
  c.local_get(g('w')).local_set(wr[0]);
  for (let i = 1; i < 4; i++) c.local_get(wr[i - 1]).local_get(g('ldw')).i32_add().local_set(wr[i]);
  panels(() => {
    // off counts float32 bytes (16 per panel); bfloat16 rows advance half as far
    for (let i = 0; i < 4; i++) {
      c.local_get(wr[i]).local_get(off);
      if (bf16) c.i32_const(1).i32_shr_u();
      c.i32_add();
      loadW4(c, bf16, 0);
      c.local_set(r[i]);
    }
    // t0 = [r0_0, r1_0, r0_1, r1_1], t1 = [r0_2, r1_2, r0_3, r1_3], t2, t3 the same for r2, r3
    c.local_get(r[0]).local_get(r[1]).f32x4_shuffle(0, 4, 1, 5).local_set(t[0]);
    c.local_get(r[0]).local_get(r[1]).f32x4_shuffle(2, 6, 3, 7).local_set(t[1]);
    c.local_get(r[2]).local_get(r[3]).f32x4_shuffle(0, 4, 1, 5).local_set(t[2]);
    c.local_get(r[2]).local_get(r[3]).f32x4_shuffle(2, 6, 3, 7).local_set(t[3]);
    // column c = [r0_c, r1_c, r2_c, r3_c]
    c.local_get(pj).local_get(t[0]).local_get(t[2]).f32x4_shuffle(0, 1, 4, 5).v128_store(0);
    c.local_get(pj).local_get(t[0]).local_get(t[2]).f32x4_shuffle(2, 3, 6, 7).v128_store(16);
    c.local_get(pj).local_get(t[1]).local_get(t[3]).f32x4_shuffle(0, 1, 4, 5).v128_store(32);
    c.local_get(pj).local_get(t[1]).local_get(t[3]).f32x4_shuffle(2, 3, 6, 7).v128_store(48);
  });
  c.local_get(wr[3]).local_get(g('ldw')).i32_add().local_set(g('w'));
  c.local_get(g('p')).i32_const(64).i32_add().local_set(g('p'));
  c.local_get(q).i32_const(1).i32_sub().local_set(q);
  c.br(0).end().end();
  // leftover k: one chunk each, W[k, n+4j+i] in lane 0 of column i
  c.local_get(g('K')).i32_const(3).i32_and().local_set(q);
  c.block().loop();
  c.local_get(q).i32_eqz().br_if(1);
  panels(() => {
    for (let i = 0; i < 4; i++) {
      c.local_get(pj);
      loadW1(c, bf16, 4 * i, () => {
        c.local_get(g('w')).local_get(off);
        if (bf16) c.i32_const(1).i32_shr_u();
        c.i32_add();
      });
      c.v128_store(16 * i);
    }
  });
  c.local_get(g('w')).local_get(g('ldw')).i32_add().local_set(g('w'));
  c.local_get(g('p')).i32_const(64).i32_add().local_set(g('p'));
  c.local_get(q).i32_const(1).i32_sub().local_set(q);
  c.br(0).end().end();
  return { locals: L, code: c };
}

/**
 * tile(a, p, c, bias, K, lda, ldc, accum): mr rows of A against one packed panel of K k's; `lanes`
 * columns stored. accum = 0: C = sum (+ bias); accum = 1: C += sum (later K blocks).
 */
function tile(s: NNPShape, mr: number, lanes: number): { locals: Locals; code: Code } {
  const L = new Locals([['a', I32], ['p', I32], ['c', I32], ['bias', I32], ['K', I32], ['lda', I32], ['ldc', I32], ['accum', I32]]);
  const g = (n: string): number => L.get(n);
  const c = new Code();
  const pa = Array.from({ length: mr }, (_, r) => (r === 0 ? g('a') : L.add(`pa${r}`, I32)));
  const q = L.add('q', I32), cr = L.add('cr', I32);
  const acc = Array.from({ length: mr }, (_, r) => [0, 1, 2, 3].map((j) => L.add(`acc${r}_${j}`, V128)));
  const av = Array.from({ length: mr }, (_, r) => L.add(`a${r}`, V128));
  const wv = L.add('wv', V128);
  const zero = L.add('zero', V128), t0 = L.add('t0', V128), t1 = L.add('t1', V128), sum = L.add('sum', V128);
  for (let r = 1; r < mr; r++) c.local_get(pa[r - 1]).local_get(g('lda')).i32_add().local_set(pa[r]);

  const loop = (count: () => void, full: boolean): void => {
    count();
    c.local_set(q);
    c.block().loop();
    c.local_get(q).i32_eqz().br_if(1);
    for (let r = 0; r < mr; r++) {
      c.local_get(pa[r]);
      if (full) c.v128_load();
      else c.v128_load32_zero();
      c.local_set(av[r]);
    }
    for (let j = 0; j < 4; j++) {
      c.local_get(g('p')).v128_load(16 * j).local_set(wv);
      for (let r = 0; r < mr; r++) madd(c, s.fma, () => c.local_get(av[r]), () => c.local_get(wv), acc[r][j]);
    }
    for (let r = 0; r < mr; r++) c.local_get(pa[r]).i32_const(full ? 16 : 4).i32_add().local_set(pa[r]);
    c.local_get(g('p')).i32_const(64).i32_add().local_set(g('p'));
    c.local_get(q).i32_const(1).i32_sub().local_set(q);
    c.br(0).end().end();
  };
  loop(() => c.local_get(g('K')).i32_const(2).i32_shr_u(), true);
  loop(() => c.local_get(g('K')).i32_const(3).i32_and(), false);

  for (let r = 0; r < mr; r++) {
    c.local_get(g('c'));
    if (r > 0) c.local_get(g('ldc')).i32_const(r).i32_mul().i32_add();
    c.local_set(cr);
    hsum4(c, acc[r], zero, t0, t1, sum);
    c.local_get(g('accum')).if_();
    c.local_get(sum).local_get(cr).v128_load().f32x4_add().local_set(sum);
    c.else_().local_get(g('bias')).if_();
    c.local_get(sum).local_get(g('bias')).v128_load().f32x4_add().local_set(sum);
    c.end().end();
    storeLanes(c, cr, sum, 0, lanes);
  }
  return { locals: L, code: c };
}

/**
 * Add pack, the tiles (table slots base .. base + 4·MR) and the driver
 *   <name>(a, w, c, bias, M, K, N, n0, n1, MC, KC, P, accum)
 * computing columns [n0, n1) of C; P is this thread's panel scratch; accum = 1 adds into C
 * (C += A·W, the backward pass; bias is then ignored). Returns the tiles in slot order.
 */
export function addGemmNNP(mb: ModuleBuilder, s: NNPShape, name: string, base: number): number[] {
  const pk = packFn(s.bf16 === true);
  const wShift = s.bf16 ? 1 : 2; // log2 of W's element size
  const pack = mb.declare(`${name}_pack`, pk.locals.params, [], false);
  mb.define(pack, pk.locals.locals, pk.code);
  const tileType = mb.typeIndex([I32, I32, I32, I32, I32, I32, I32, I32], []);
  const table: number[] = [];
  for (let mr = 1; mr <= s.MR; mr++) {
    for (let lanes = 1; lanes <= 4; lanes++) {
      const t = tile(s, mr, lanes);
      const idx = mb.declare(`${name}_tile_${mr}_${lanes}`, t.locals.params, [], false);
      mb.define(idx, t.locals.locals, t.code);
      table[(mr - 1) * 4 + lanes - 1] = idx;
    }
  }
  const main = table[(s.MR - 1) * 4 + 3];

  const L = new Locals([['a', I32], ['w', I32], ['c', I32], ['bias', I32], ['M', I32], ['K', I32], ['N', I32],
    ['n0', I32], ['n1', I32], ['MC', I32], ['KC', I32], ['P', I32], ['accum', I32]]);
  const g = (n: string): number => L.get(n);
  const kc0 = L.add('kc0', I32), kl = L.add('kl', I32), ps = L.add('ps', I32);
  const mc0 = L.add('mc0', I32), me = L.add('me', I32), n = L.add('n', I32), m = L.add('m', I32);
  const np = L.add('np', I32), j = L.add('j', I32), nj = L.add('nj', I32), pj = L.add('pj', I32);
  const lanes = L.add('lanes', I32), rem = L.add('rem', I32);
  const c = new Code();
  // tile arguments for rows from m, columns nj .. nj+3, panel pj
  const args = (): void => {
    // a + (m·K + kc0)·4, pj, c + (m·N + nj)·4, bias ? bias + 4nj : 0, kl, 4K, 4N, kc0 ≠ 0 or accum
    c.local_get(g('a')).local_get(m).local_get(g('K')).i32_mul().local_get(kc0).i32_add().i32_const(2).i32_shl().i32_add();
    c.local_get(pj);
    c.local_get(g('c')).local_get(m).local_get(g('N')).i32_mul().local_get(nj).i32_add().i32_const(2).i32_shl().i32_add();
    c.local_get(g('bias')).local_get(nj).i32_const(2).i32_shl().i32_add().i32_const(0).local_get(g('bias')).select();
    c.local_get(kl);
    c.local_get(g('K')).i32_const(2).i32_shl();
    c.local_get(g('N')).i32_const(2).i32_shl();
    c.local_get(kc0).i32_const(0).i32_ne().local_get(g('accum')).i32_or();
  };
  // slot (min(MR, me - m) - 1)·4 + lanes - 1
  const slot = (): void => {
    c.i32_const(s.MR).local_get(me).local_get(m).i32_sub().local_tee(rem).i32_const(s.MR).local_get(rem).i32_lt_s().select();
    c.i32_const(1).i32_sub().i32_const(2).i32_shl().local_get(lanes).i32_const(1).i32_sub().i32_add();
    if (base) c.i32_const(base).i32_add();
  };
  // for each panel j < np of this group: body() with nj = n + 4j, pj = P + j·ps, lanes = min(4, n1 - nj)
  const eachPanel = (body: () => void): void => {
    c.i32_const(0).local_set(j).local_get(n).local_set(nj).local_get(g('P')).local_set(pj);
    c.block().loop();
    c.local_get(j).local_get(np).i32_ge_s().br_if(1);
    c.i32_const(4).local_get(g('n1')).local_get(nj).i32_sub().local_tee(lanes).i32_const(4).local_get(lanes).i32_lt_s().select().local_set(lanes);
    body();
    c.local_get(j).i32_const(1).i32_add().local_set(j);
    c.local_get(nj).i32_const(4).i32_add().local_set(nj);
    c.local_get(pj).local_get(ps).i32_add().local_set(pj);
    c.br(0).end().end();
  };

  c.i32_const(0).local_set(kc0);
  c.block().loop(); // K blocks
  // kl = min(KC, K - kc0); ps = (⌊kl/4⌋ + kl%4)·64
  c.local_get(g('KC')).local_get(g('K')).local_get(kc0).i32_sub().local_tee(kl).local_get(g('KC')).local_get(kl).i32_lt_s().select().local_set(kl);
  c.local_get(kl).i32_const(2).i32_shr_u().local_get(kl).i32_const(3).i32_and().i32_add().i32_const(6).i32_shl().local_set(ps);
  c.i32_const(0).local_set(mc0);
  c.block().loop(); // M blocks
  c.local_get(g('M')).local_get(mc0).local_get(g('MC')).i32_add().local_tee(me).local_get(g('M')).local_get(me).i32_lt_s().select().local_set(me);
  c.local_get(g('n0')).local_set(n);
  c.block().loop(); // column groups of 16 = up to 4 panels
  c.local_get(n).local_get(g('n1')).i32_ge_s().br_if(1);
  // np = min(4, ⌈(n1 - n)/4⌉)
  c.i32_const(4).local_get(g('n1')).local_get(n).i32_sub().i32_const(3).i32_add().i32_const(2).i32_shr_u().local_tee(np)
    .i32_const(4).local_get(np).i32_lt_s().select().local_set(np);
  // pack(w + esize·(kc0·N + n), esize·N, kl, P, np, ps)
  c.local_get(g('w')).local_get(kc0).local_get(g('N')).i32_mul().local_get(n).i32_add().i32_const(wShift).i32_shl().i32_add()
    .local_get(g('N')).i32_const(wShift).i32_shl().local_get(kl).local_get(g('P')).local_get(np).local_get(ps).call(pack);
  c.local_get(mc0).local_set(m);
  // a full group: MR-row tiles against the 4 panels, direct calls
  c.local_get(n).i32_const(16).i32_add().local_get(g('n1')).i32_le_s().if_();
  c.block().loop();
  c.local_get(m).i32_const(s.MR).i32_add().local_get(me).i32_gt_s().br_if(1);
  for (let q = 0; q < 4; q++) {
    c.local_get(n).i32_const(4 * q).i32_add().local_set(nj);
    c.local_get(g('P')).local_get(ps).i32_const(q).i32_mul().i32_add().local_set(pj);
    args();
    c.call(main);
  }
  c.local_get(m).i32_const(s.MR).i32_add().local_set(m);
  c.br(0).end().end();
  c.end();
  // leftover rows, or every row of a partial group: through the table
  c.block().loop();
  c.local_get(m).local_get(me).i32_ge_s().br_if(1);
  eachPanel(() => {
    args();
    slot();
    c.call_indirect(tileType);
  });
  c.local_get(m).i32_const(s.MR).i32_add().local_set(m);
  c.br(0).end().end();
  c.local_get(n).i32_const(16).i32_add().local_set(n);
  c.br(0).end().end();
  c.local_get(me).local_tee(mc0).local_get(g('M')).i32_lt_s().br_if(0);
  c.end().end();
  c.local_get(kc0).local_get(g('KC')).i32_add().local_tee(kc0).local_get(g('K')).i32_lt_s().br_if(0);
  c.end().end();

  const drv = mb.declare(name, L.params, [], true);
  mb.define(drv, L.locals, c);
  return table;
}
