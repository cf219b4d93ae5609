// Matrix-vector product for decoding (M = 1) with W stored (K, N), where every weight is used once:
// memory-bound, so the kernel streams rows of W and keeps its partial sums in registers.
//
//   gemv_nn(x, w, y, bias, K, N, n0, n1, KC, S):  y[n] = bias[n] + Σ_k x[k] · W[k, n]  for n0 ≤ n < n1
//
// Same arithmetic as the packed GEMM (gemm-nnp.ts), operation for operation, so a row's result does
// not depend on how many rows are multiplied at once (KV-cache decoding gives the full forward's
// numbers, bit for bit, on a given runtime). Per output column n and K block of KC rows from kc0:
//   p_i[n] = Σ over q, in order, of x[k]·W[k, n] with k = kc0 + 4q + i  (i = 0..3: the packed
//            kernel's lanes), the kl % 4 leftover rows adding into p_0, in order;
//   y = ((p0 + p2) + (p1 + p3)) + (bias | y)
//
// Loop order: the columns [n0, n1) in chunks of at most CW; per chunk and K block, the rows in passes
// of RB = 16 (4-row quads; then the leftover rows one at a time); per pass, strips of 16 columns
// (one cache line of each float32 row); per strip, residue by residue: its 4 partial-sum vectors are
// loaded, updated by the pass's rows of that residue (a loop of one row per iteration) and stored.
// So each line of W is read once, the 16 rows of a pass are 16 sequential streams, and the partial
// sums go through L1 once per 16 rows. (Unrolling 16 rows over 8-column strips, with all residues
// live, made V8 hoist loads and spill: 96 spills, half the speed; 4-column strips with a 64-row
// column walk read lines four times and halved the DRAM rate.) The partial sums of a chunk live in
// the thread's scratch S: 4 arrays of CW floats, 64 bytes apart beyond 4 KiB multiples so stores
// and later loads of different arrays never alias in the low 12 address bits.

import { Code, I32, Locals, type ModuleBuilder, V128 } from './emit.ts';
import { loadW4, madd, storeLanes } from './simd.ts';

/** columns per chunk */
export const GEMV_CW = 2048;
/** rows per pass over the strips (partial sums go through memory once per RB rows) */
const RB = 16;
/** bytes from one partial-sum array to the next: 4·CW + 64 */
const PB = 4 * GEMV_CW + 64;

/** bf16: W stored as bfloat16 (rows of N × 2 bytes), widened in registers; x, y stay float32 */
export function addGemvNN(mb: ModuleBuilder, fma: boolean, name: string, bf16 = false): void {
  const L = new Locals([['x', I32], ['w', I32], ['y', I32], ['bias', I32], ['K', I32], ['N', I32], ['n0', I32], ['n1', I32],
    ['KC', I32], ['S', I32]]);
  const g = (n: string): number => L.get(n);
  const c = new Code();
  const c0 = L.add('c0', I32), cb = L.add('cb', I32), kc0 = L.add('kc0', I32), kl = L.add('kl', I32);
  const k = L.add('k', I32), kQuad = L.add('kQuad', I32), kEnd = L.add('kEnd', I32), j = L.add('j', I32);
  const pw = L.add('pw', I32), ps = L.add('ps', I32), px = L.add('px', I32), ldw = L.add('ldw', I32);
  const p = [0, 1, 2, 3].map((v) => L.add(`p${v}`, V128)); // one residue's partial sums, 4 vectors
  const q = L.add('q', I32), quads = L.add('quads', I32), one = L.add('one', I32), ldw4 = L.add('ldw4', I32);
  const xs = L.add('xs', V128), s = L.add('s', V128);
  const es = bf16 ? 2 : 4; // bytes per weight

  // loop j over the chunk's float32 bytes in steps of `step` (the last step may run past the chunk: body stores clip)
  const overChunk = (step: number, body: () => void): void => {
    c.i32_const(0).local_set(j);
    c.block().loop();
    c.local_get(j).local_get(cb).i32_ge_s().br_if(1);
    body();
    c.local_get(j).i32_const(step).i32_add().local_set(j);
    c.br(0).end().end();
  };

  /**
   * One pass over every 16-column strip of the chunk (one cache line of each float32 row), rows
   * from k: `quads` (a local) quads of 4 rows, residue i taking rows k + i, k + i + 4, … (full),
   * or `one` single row into residue 0. Residue by residue, only its 4 partial-sum vectors are live,
   * and the loop body is one row, so V8 has nothing to hoist into spills.
   */
  const rowsPass = (full: boolean): void => {
    overChunk(64, () => {
      c.local_get(g('S')).local_get(j).i32_add().local_set(ps);
      for (const i of full ? [0, 1, 2, 3] : [0]) {
        for (let v = 0; v < 4; v++) c.local_get(ps).v128_load(i * PB + 16 * v).local_set(p[v]);
        // pw = w + ((k + i)·N + c0)·es + j·es/4 ; px = x + 4(k + i)
        c.local_get(g('w')).local_get(k).i32_const(i).i32_add().local_get(g('N')).i32_mul().local_get(c0).i32_add()
          .i32_const(es === 4 ? 2 : 1).i32_shl().i32_add();
        c.local_get(j);
        if (bf16) c.i32_const(1).i32_shr_u();
        c.i32_add().local_set(pw);
        c.local_get(g('x')).local_get(k).i32_const(i).i32_add().i32_const(2).i32_shl().i32_add().local_set(px);
        c.local_get(full ? quads : one).local_set(q);
        c.block().loop();
        c.local_get(q).i32_eqz().br_if(1);
        c.local_get(px).v128_load32_splat().local_set(xs);
        for (let v = 0; v < 4; v++) madd(c, fma, () => c.local_get(xs), () => { c.local_get(pw); loadW4(c, bf16, 16 * v); }, p[v]);
        c.local_get(pw).local_get(full ? ldw4 : ldw).i32_add().local_set(pw);
        c.local_get(px).i32_const(full ? 16 : 4).i32_add().local_set(px);
        c.local_get(q).i32_const(1).i32_sub().local_set(q);
        c.br(0).end().end();
        for (let v = 0; v < 4; v++) c.local_get(ps).local_get(p[v]).v128_store(i * PB + 16 * v);
      }
    });
  };

  c.local_get(g('N')).i32_const(es === 4 ? 2 : 1).i32_shl().local_set(ldw);
  c.local_get(ldw).i32_const(2).i32_shl().local_set(ldw4);
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
  // p_i = 0 over the chunk, rounded up to whole strips (what the strips read)
  overChunk(64, () => {
    for (let i = 0; i < 4; i++) for (let v = 0; v < 4; v++) c.local_get(g('S')).local_get(j).i32_add().v128_const_zero().v128_store(i * PB + 16 * v);
  });
  // rows: kQuad = kc0 + 4·⌊kl/4⌋ (the packed kernel's full chunks), kEnd = kc0 + kl
  c.local_get(kc0).local_set(k);
  c.local_get(kc0).local_get(kl).i32_const(-4).i32_and().i32_add().local_set(kQuad);
  c.local_get(kc0).local_get(kl).i32_add().local_set(kEnd);
  // full quads in passes of up to RB rows, then the leftover rows one at a time (residue 0)
  c.block().loop();
  c.local_get(k).local_get(kQuad).i32_ge_s().br_if(1);
  c.i32_const(RB / 4).local_get(kQuad).local_get(k).i32_sub().i32_const(2).i32_shr_u().local_tee(quads)
    .i32_const(RB / 4).local_get(quads).i32_lt_s().select().local_set(quads);
  rowsPass(true);
  c.local_get(k).local_get(quads).i32_const(2).i32_shl().i32_add().local_set(k);
  c.br(0).end().end();
  c.i32_const(1).local_set(one);
  c.block().loop();
  c.local_get(k).local_get(kEnd).i32_ge_s().br_if(1);
  rowsPass(false);
  c.local_get(k).i32_const(1).i32_add().local_set(k);
  c.br(0).end().end();
  // y = ((p0 + p2) + (p1 + p3)) + (first block ? bias : y), the last vector clipped to the chunk
  overChunk(16, () => {
    const sp = (i: number): void => { c.local_get(g('S')).local_get(j).i32_add().v128_load(i * PB); };
    sp(0); sp(2); c.f32x4_add();
    sp(1); sp(3); c.f32x4_add();
    c.f32x4_add().local_set(s);
    c.local_get(kc0).if_();
    c.local_get(s).local_get(g('y')).local_get(c0).i32_const(2).i32_shl().i32_add().local_get(j).i32_add().v128_load().f32x4_add().local_set(s);
    c.else_().local_get(g('bias')).if_();
    c.local_get(s).local_get(g('bias')).local_get(c0).i32_const(2).i32_shl().i32_add().local_get(j).i32_add().v128_load().f32x4_add().local_set(s);
    c.end().end();
    c.local_get(g('y')).local_get(c0).i32_const(2).i32_shl().i32_add().local_get(j).i32_add().local_set(ps);
    c.local_get(j).i32_const(16).i32_add().local_get(cb).i32_le_s().if_();
    storeLanes(c, ps, s, 0, 4);
    c.else_();
    for (let lanes = 1; lanes <= 3; lanes++) {
      c.local_get(cb).local_get(j).i32_sub().i32_const(4 * lanes).i32_eq().if_();
      storeLanes(c, ps, s, 0, lanes);
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
