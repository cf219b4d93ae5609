// Matrix-vector product for decoding (M = 1) with W stored (K, N), where every weight is used once:
// memory-bound, so the kernel streams rows of W and keeps its partial sums in L1.
//
//   gemv_nn(x, w, y, bias, K, N, n0, n1, KC, S):  y[n] = bias[n] + Σ_k x[k] · W[k, n]  for n0 ≤ n < n1
//
// Same arithmetic as the packed GEMM (gemm-nnp.ts), operation for operation, so a row's result does
// not depend on how many rows are multiplied at once (KV-cache decoding gives the full forward's
// numbers, bit for bit, on a given runtime). Per output column n and K block of KC:
//   p_i[n] = Σ over q, in order, of x[4q+i]·W[4q+i, n]   (i = 0..3: the packed kernel's lanes)
//   the K % 4 leftover rows add into p_0, in order;   y = ((p0 + p2) + (p1 + p3)) + (bias | y)
// Rows of W are read 4 at a time (4 sequential streams), over a column chunk of at most CW columns
// whose 4 partial-sum arrays (4 × CW × 4 B = 8 KiB) live in the thread's scratch S (L1).

import { Code, I32, Locals, type ModuleBuilder, V128 } from './emit.ts';
import { madd, storeLanes } from './simd.ts';

/** columns per chunk: the partial sums of a chunk, 4 × CW floats, stay in L1 */
export const GEMV_CW = 512;

export function addGemvNN(mb: ModuleBuilder, fma: boolean, name: string): void {
  const L = new Locals([['x', I32], ['w', I32], ['y', I32], ['bias', I32], ['K', I32], ['N', I32], ['n0', I32], ['n1', I32],
    ['KC', I32], ['S', I32]]);
  const g = (n: string): number => L.get(n);
  const c = new Code();
  const c0 = L.add('c0', I32), cb = L.add('cb', I32), kc0 = L.add('kc0', I32), kl = L.add('kl', I32);
  const k = L.add('k', I32), kEnd = L.add('kEnd', I32), j = L.add('j', I32);
  const row = [0, 1, 2, 3].map((i) => L.add(`row${i}`, I32));
  const xv = [0, 1, 2, 3].map((i) => L.add(`x${i}`, V128));
  const pv = [0, 1, 2, 3].map((i) => L.add(`p${i}`, V128));
  const s = L.add('s', V128);
  const PB = 4 * GEMV_CW; // bytes of one partial-sum array

  // loop j over the chunk's bytes in 16-byte vectors (the last one may be partial): body()
  const overVectors = (body: () => void): void => {
    c.i32_const(0).local_set(j);
    c.block().loop();
    c.local_get(j).local_get(cb).i32_ge_s().br_if(1);
    body();
    c.local_get(j).i32_const(16).i32_add().local_set(j);
    c.br(0).end().end();
  };
  // row pointer: w + ((k + i)·N + c0)·4
  const rowPtr = (i: number): void => {
    c.local_get(g('w')).local_get(k).i32_const(i).i32_add().local_get(g('N')).i32_mul().local_get(c0).i32_add()
      .i32_const(2).i32_shl().i32_add().local_set(row[i]);
  };

  c.local_get(g('n0')).local_set(c0);
  c.block().loop(); // column chunks
  c.local_get(c0).local_get(g('n1')).i32_ge_s().br_if(1);
  // cb = 4·min(CW, n1 - c0)
  c.i32_const(GEMV_CW).local_get(g('n1')).local_get(c0).i32_sub().local_tee(cb).i32_const(GEMV_CW).local_get(cb).i32_lt_s()
    .select().i32_const(2).i32_shl().local_set(cb);
  c.i32_const(0).local_set(kc0);
  c.block().loop(); // K blocks
  c.local_get(g('KC')).local_get(g('K')).local_get(kc0).i32_sub().local_tee(kl).local_get(g('KC')).local_get(kl).i32_lt_s()
    .select().local_set(kl);
  // p_i = 0
  overVectors(() => {
    for (let i = 0; i < 4; i++) c.local_get(g('S')).local_get(j).i32_add().v128_const_zero().v128_store(i * PB);
  });
  // full quads of rows: p_i += x[k+i] · W[k+i, chunk]
  c.local_get(kc0).local_set(k);
  c.local_get(kc0).local_get(kl).i32_const(-4).i32_and().i32_add().local_set(kEnd);
  c.block().loop();
  c.local_get(k).local_get(kEnd).i32_ge_s().br_if(1);
  for (let i = 0; i < 4; i++) {
    rowPtr(i);
    c.local_get(g('x')).local_get(k).i32_const(2).i32_shl().i32_add().v128_load32_splat(4 * i).local_set(xv[i]);
  }
  overVectors(() => {
    for (let i = 0; i < 4; i++) c.local_get(g('S')).local_get(j).i32_add().v128_load(i * PB).local_set(pv[i]);
    for (let i = 0; i < 4; i++) {
      madd(c, fma, () => c.local_get(xv[i]), () => c.local_get(row[i]).local_get(j).i32_add().v128_load(), pv[i]);
    }
    for (let i = 0; i < 4; i++) c.local_get(g('S')).local_get(j).i32_add().local_get(pv[i]).v128_store(i * PB);
  });
  c.local_get(k).i32_const(4).i32_add().local_set(k);
  c.br(0).end().end();
  // leftover rows (kl % 4 of them): into p_0, in order
  c.local_get(kc0).local_get(kl).i32_add().local_set(kEnd);
  c.block().loop();
  c.local_get(k).local_get(kEnd).i32_ge_s().br_if(1);
  rowPtr(0);
  c.local_get(g('x')).local_get(k).i32_const(2).i32_shl().i32_add().v128_load32_splat().local_set(xv[0]);
  overVectors(() => {
    c.local_get(g('S')).local_get(j).i32_add().v128_load().local_set(pv[0]);
    madd(c, fma, () => c.local_get(xv[0]), () => c.local_get(row[0]).local_get(j).i32_add().v128_load(), pv[0]);
    c.local_get(g('S')).local_get(j).i32_add().local_get(pv[0]).v128_store();
  });
  c.local_get(k).i32_const(1).i32_add().local_set(k);
  c.br(0).end().end();
  // y = ((p0 + p2) + (p1 + p3)) + (first block ? bias : y); the last vector may be partial
  overVectors(() => {
    const sp = (i: number): void => { c.local_get(g('S')).local_get(j).i32_add().v128_load(i * PB); };
    sp(0); sp(2); c.f32x4_add();
    sp(1); sp(3); c.f32x4_add();
    c.f32x4_add().local_set(s);
    c.local_get(kc0).if_();
    c.local_get(s).local_get(g('y')).local_get(c0).i32_const(2).i32_shl().i32_add().local_get(j).i32_add().v128_load().f32x4_add().local_set(s);
    c.else_().local_get(g('bias')).if_();
    c.local_get(s).local_get(g('bias')).local_get(c0).i32_const(2).i32_shl().i32_add().local_get(j).i32_add().v128_load().f32x4_add().local_set(s);
    c.end().end();
    // address of y[c0 + j/4]: full vector, or the 1..3 lanes left at the end of the chunk
    c.local_get(g('y')).local_get(c0).i32_const(2).i32_shl().i32_add().local_get(j).i32_add().local_set(row[0]);
    c.local_get(j).i32_const(16).i32_add().local_get(cb).i32_le_s().if_();
    storeLanes(c, row[0], s, 0, 4);
    c.else_();
    for (let lanes = 1; lanes <= 3; lanes++) {
      c.local_get(cb).local_get(j).i32_sub().i32_const(4 * lanes).i32_eq().if_();
      storeLanes(c, row[0], s, 0, lanes);
      c.end();
    }
    c.end();
  });
  c.local_get(kc0).local_get(g('KC')).i32_add().local_tee(kc0).local_get(g('K')).i32_lt_s().br_if(0);
  c.end().end();
  c.local_get(c0).i32_const(GEMV_CW).i32_add().local_set(c0);
  c.br(0).end().end();

  const f = mb.declare(name, L.params, [], true);
  mb.define(f, L.locals, c);
}
