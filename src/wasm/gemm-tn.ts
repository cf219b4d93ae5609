// Float32 GEMM with both operands read transposed (p-major), accumulating, for the weight
// gradients of the matmul backward (cpu/matmul-backward.ts):
//   C[i, j] += Σ_p A[p, i] · B[p, j]
//   A(p, i) at a + 4·(p·lda + i)    B(p, j) at b + 4·(p·ldb + j)    C(i, j) at c + 4·(i·ldc + j)
// dW (K,N) += inpᵀ·dout (A = inp, B = dout) and the tied lm-head's dW (V,C) += doutᵀ·inp (A = dout,
// B = inp): the sum runs over the rows p of both operands, which are contiguous in i and in j.
//
// Micro-kernel (outer product, BLIS): an MR × 8 tile of C in 2·MR f32x4 accumulators; per p it
// loads the 2 vectors of the packed B panel, splats MR values of the packed A panel, and does 2·MR
// multiply-adds. x86-64 V8 allocates 15 xmm registers to wasm SIMD: with relaxed FMA, MR = 6 fills
// them (12 accumulators + 2 B vectors + 1 splat); mul + add needs one more for the product, so it
// runs MR = 4 (MR = 6 spills there, and so do 4 × 12 and 7 × 8 with FMA). Measured on the
// reference machine, 1 thread, FMA: 4 × 8 47, 5 × 8 52, 6 × 8 55 GFLOP/s; mul + add: 4 × 8 36,
// 6 × 8 28. Unrolling the p loop made V8 hoist loads and spill (2× slower).
// At the end of a p block the tile is added into C (C += block sum).
//
// Packing: per p block (KC), the B block (KC × NC; NC ≥ the J of every GPT-2 backward shape, so B
// is packed once per p block) is copied into panels of NR columns, [p][NR] floats; per (p block,
// row block) the A block (KC × MC) into panels of MR rows, [p][MR] floats. Both sources are
// contiguous along the panel: one vector load and store per 4 floats, the last one overlapping
// the one before when MR is not a multiple of 4 (no transposes). The last panel of a block reads
// up to 7 floats past the block (the heap keeps 64 bytes of slack after every allocation); those
// rows and columns are computed but never stored.
// Blocking (Zen 4: 32 KiB L1d, 1 MiB L2 per core): a B panel (KC × NR × 4 B = 8 KiB) stays in L1
// while the tile walks the A block (MC × KC × 4 B ≤ 128 KiB, L2); the B block (≤ 1 MiB) sits in
// L2/L3. Each output's sum order is fixed by p alone (sequential within a p block, the blocks
// added into C in order), never by the split of rows between threads or the tiling: results do
// not depend on the thread count. Threads split the rows i (the driver's [i0, i1)): the lm-head's
// A (dout, 256 × 50257) is then packed once in all, not once per column range.

import { Code, I32, Locals, type ModuleBuilder, V128 } from './emit.ts';
import { loopWhile, storeLanes } from './simd.ts';

export interface TNShape {
  /** tile rows (splats of A per p): 4..6 */
  MR: number;
  fma: boolean;
}

/** tile columns (2 vectors of B) */
export const TN_NR = 8;
/** p per block */
export const TN_KC = 256;
/** the largest row block (the driver uses the largest multiple of MR not above it) */
const MC_MAX = 128;
/** columns per block (a multiple of TN_NR) */
export const TN_NC = 1024;
/** the largest MR (scratch for the edge tile) */
const MR_MAX = 8;
/** rows per thread item: a multiple of every MR in use (4, 6), so only the last item has a partial tile */
export const TN_ALIGN = 12;
const SLACK = 256;
/** scratch layout (bytes from the thread's scratch pointer): Ap, Bp, an MR × NR tile for edges */
const OFF_B = MC_MAX * TN_KC * 4 + SLACK;
const OFF_T = OFF_B + TN_NC * TN_KC * 4 + SLACK;
export const TN_SCRATCH_BYTES = OFF_T + MR_MAX * TN_NR * 4;

/** push min(x, y) of two i32 locals (signed) */
function minLocals(c: Code, x: number, y: number): void {
  c.local_get(x).local_get(y).local_get(x).local_get(y).i32_lt_s().select();
}

/**
 * pack(src, ld, x0, nx, p0, np, dst): panels of W (≥ 4) consecutive indices x for p in
 * [p0, p0 + np): element (x, p) at src + 4·(p·ld + x); panel t at dst + t·np·4W, its p-th W floats
 * at + p·4W. The last panel reads up to W − 1 floats past x0 + nx.
 */
function packFn(W: number): { locals: Locals; code: Code } {
  const L = new Locals([['src', I32], ['ld', I32], ['x0', I32], ['nx', I32], ['p0', I32], ['np', I32], ['dst', I32]]);
  const g = (n: string): number => L.get(n);
  const c = new Code();
  const offs: number[] = [];
  for (let o = 0; o + 4 <= W; o += 4) offs.push(4 * o);
  if (W % 4) offs.push(4 * (W - 4));
  const t = L.add('t', I32), nt = L.add('nt', I32), p = L.add('p', I32), s = L.add('s', I32), d = L.add('d', I32);
  const pstride = L.add('pstride', I32);
  c.local_get(g('nx')).i32_const(W - 1).i32_add().i32_const(W).i32_div_u().local_set(nt);
  c.local_get(g('np')).i32_const(4 * W).i32_mul().local_set(pstride);
  c.i32_const(0).local_set(p);
  loopWhile(c, () => c.local_get(p).local_get(g('np')).i32_ge_s(), () => {
    c.local_get(g('src')).local_get(g('p0')).local_get(p).i32_add().local_get(g('ld')).i32_mul().local_get(g('x0')).i32_add()
      .i32_const(2).i32_shl().i32_add().local_set(s);
    c.local_get(g('dst')).local_get(p).i32_const(4 * W).i32_mul().i32_add().local_set(d);
    c.i32_const(0).local_set(t);
    loopWhile(c, () => c.local_get(t).local_get(nt).i32_ge_s(), () => {
      for (const o of offs) c.local_get(d).local_get(s).v128_load(o).v128_store(o);
      c.local_get(s).i32_const(4 * W).i32_add().local_set(s);
      c.local_get(d).local_get(pstride).i32_add().local_set(d);
      c.local_get(t).i32_const(1).i32_add().local_set(t);
    });
    c.local_get(p).i32_const(1).i32_add().local_set(p);
  });
  return { locals: L, code: c };
}

/**
 * kernel(ap, bp, np, c, ldc, rows, cols, T): C tile (rows ≤ MR, cols ≤ NR; ldc in bytes) +=
 * Σ_{p < np} Ap[p][r]·Bp[p][j]. A partial tile goes through T (MR × NR floats) and is added
 * element by element.
 */
function kernelFn(MR: number, fma: boolean): { locals: Locals; code: Code } {
  const L = new Locals([['ap', I32], ['bp', I32], ['np', I32], ['c', I32], ['ldc', I32], ['rows', I32], ['cols', I32], ['T', I32]]);
  const g = (n: string): number => L.get(n);
  const c = new Code();
  const V = TN_NR / 4;
  const acc = Array.from({ length: MR }, (_, r) => Array.from({ length: V }, (_, v) => L.add(`acc${r}_${v}`, V128)));
  const b = Array.from({ length: V }, (_, v) => L.add(`b${v}`, V128));
  const av = L.add('av', V128);
  const cr = L.add('cr', I32), r = L.add('r', I32), j = L.add('j', I32), tp = L.add('tp', I32);
  loopWhile(c, () => c.local_get(g('np')).i32_eqz(), () => {
    for (let v = 0; v < V; v++) c.local_get(g('bp')).v128_load(16 * v).local_set(b[v]);
    for (let i = 0; i < MR; i++) {
      c.local_get(g('ap')).v128_load32_splat(4 * i).local_set(av);
      for (let v = 0; v < V; v++) {
        c.local_get(av).local_get(b[v]);
        if (fma) c.local_get(acc[i][v]).f32x4_relaxed_madd();
        else c.f32x4_mul().local_get(acc[i][v]).f32x4_add();
        c.local_set(acc[i][v]);
      }
    }
    c.local_get(g('ap')).i32_const(4 * MR).i32_add().local_set(g('ap'));
    c.local_get(g('bp')).i32_const(4 * TN_NR).i32_add().local_set(g('bp'));
    c.local_get(g('np')).i32_const(1).i32_sub().local_set(g('np'));
  });
  // a full tile: C += acc in place
  c.local_get(g('rows')).i32_const(MR).i32_eq().local_get(g('cols')).i32_const(TN_NR).i32_eq().i32_and().if_();
  c.local_get(g('c')).local_set(cr);
  for (let i = 0; i < MR; i++) {
    for (let v = 0; v < V; v++) {
      c.local_get(cr).local_get(cr).v128_load(16 * v).local_get(acc[i][v]).f32x4_add().v128_store(16 * v);
    }
    if (i + 1 < MR) c.local_get(cr).local_get(g('ldc')).i32_add().local_set(cr);
  }
  c.else_();
  // an edge tile: acc → T, then C[r, j] += T[r][j] for r < rows, j < cols
  for (let i = 0; i < MR; i++) for (let v = 0; v < V; v++) storeLanes(c, g('T'), acc[i][v], 4 * (i * TN_NR + 4 * v), 4);
  c.i32_const(0).local_set(r);
  loopWhile(c, () => c.local_get(r).local_get(g('rows')).i32_ge_s(), () => {
    c.local_get(g('c')).local_get(r).local_get(g('ldc')).i32_mul().i32_add().local_set(cr);
    c.local_get(g('T')).local_get(r).i32_const(4 * TN_NR).i32_mul().i32_add().local_set(tp);
    c.i32_const(0).local_set(j);
    loopWhile(c, () => c.local_get(j).local_get(g('cols')).i32_ge_s(), () => {
      c.local_get(cr).local_get(cr).f32_load().local_get(tp).f32_load().f32_add().f32_store();
      c.local_get(cr).i32_const(4).i32_add().local_set(cr);
      c.local_get(tp).i32_const(4).i32_add().local_set(tp);
      c.local_get(j).i32_const(1).i32_add().local_set(j);
    });
    c.local_get(r).i32_const(1).i32_add().local_set(r);
  });
  c.end();
  return { locals: L, code: c };
}

/**
 * Add the packing routines, the micro-kernel and the driver
 *   <name>(a, lda, b, ldb, c, ldc, J, P, i0, i1, S)
 * for rows [i0, i1) of C (all J columns); lda, ldb, ldc in floats; S: this thread's scratch
 * (TN_SCRATCH_BYTES).
 */
export function addGemmTN(mb: ModuleBuilder, s: TNShape, name: string): void {
  const MR = s.MR, MC = MR * Math.floor(MC_MAX / MR);
  if (MR < 4 || MR > MR_MAX) throw new Error(`internal: gemm_tn MR ${MR}`);
  const pa = packFn(MR), pb = packFn(TN_NR), kr = kernelFn(MR, s.fma);
  const packA = mb.declare(`${name}_pack_a`, pa.locals.params, [], false);
  mb.define(packA, pa.locals.locals, pa.code);
  const packB = mb.declare(`${name}_pack_b`, pb.locals.params, [], false);
  mb.define(packB, pb.locals.locals, pb.code);
  const kern = mb.declare(`${name}_kernel`, kr.locals.params, [], false);
  mb.define(kern, kr.locals.locals, kr.code);

  const L = new Locals([['a', I32], ['lda', I32], ['b', I32], ['ldb', I32], ['c', I32], ['ldc', I32], ['J', I32], ['P', I32],
    ['i0', I32], ['i1', I32], ['S', I32]]);
  const g = (n: string): number => L.get(n);
  const p0 = L.add('p0', I32), np = L.add('np', I32), jb = L.add('jb', I32), nj = L.add('nj', I32), ntj = L.add('ntj', I32);
  const ib = L.add('ib', I32), ni = L.add('ni', I32), nti = L.add('nti', I32), it = L.add('it', I32), jt = L.add('jt', I32);
  const tmp = L.add('tmp', I32), cols = L.add('cols', I32), Ap = L.add('Ap', I32), Bp = L.add('Bp', I32), T = L.add('T', I32);
  const c = new Code();
  c.local_get(g('S')).local_set(Ap);
  c.local_get(g('S')).i32_const(OFF_B).i32_add().local_set(Bp);
  c.local_get(g('S')).i32_const(OFF_T).i32_add().local_set(T);
  c.i32_const(0).local_set(p0);
  loopWhile(c, () => c.local_get(p0).local_get(g('P')).i32_ge_s(), () => {
    // np = min(KC, P − p0)
    c.local_get(g('P')).local_get(p0).i32_sub().local_set(tmp);
    c.i32_const(TN_KC).local_set(np);
    minLocals(c, np, tmp);
    c.local_set(np);
    c.i32_const(0).local_set(jb);
    loopWhile(c, () => c.local_get(jb).local_get(g('J')).i32_ge_s(), () => {
      // nj = min(NC, J − jb); ntj = ⌈nj / NR⌉
      c.local_get(g('J')).local_get(jb).i32_sub().local_set(tmp);
      c.i32_const(TN_NC).local_set(nj);
      minLocals(c, nj, tmp);
      c.local_tee(nj).i32_const(TN_NR - 1).i32_add().i32_const(TN_NR).i32_div_u().local_set(ntj);
      c.local_get(g('b')).local_get(g('ldb')).local_get(jb).local_get(nj).local_get(p0).local_get(np).local_get(Bp).call(packB);
      c.local_get(g('i0')).local_set(ib);
      loopWhile(c, () => c.local_get(ib).local_get(g('i1')).i32_ge_s(), () => {
        // ni = min(MC, i1 − ib); nti = ⌈ni / MR⌉
        c.local_get(g('i1')).local_get(ib).i32_sub().local_set(tmp);
        c.i32_const(MC).local_set(ni);
        minLocals(c, ni, tmp);
        c.local_tee(ni).i32_const(MR - 1).i32_add().i32_const(MR).i32_div_u().local_set(nti);
        c.local_get(g('a')).local_get(g('lda')).local_get(ib).local_get(ni).local_get(p0).local_get(np).local_get(Ap).call(packA);
        // each B panel (in L1) against every A panel of the block
        c.i32_const(0).local_set(jt);
        loopWhile(c, () => c.local_get(jt).local_get(ntj).i32_ge_s(), () => {
          // cols = min(NR, nj − jt·NR)
          c.local_get(nj).local_get(jt).i32_const(TN_NR).i32_mul().i32_sub().local_set(tmp);
          c.i32_const(TN_NR).local_set(cols);
          minLocals(c, cols, tmp);
          c.local_set(cols);
          c.i32_const(0).local_set(it);
          loopWhile(c, () => c.local_get(it).local_get(nti).i32_ge_s(), () => {
            // kernel(Ap + it·np·4MR, Bp + jt·np·4NR, np, c + 4·((ib + it·MR)·ldc + jb + jt·NR), 4·ldc, rows, cols, T)
            c.local_get(Ap).local_get(it).local_get(np).i32_mul().i32_const(4 * MR).i32_mul().i32_add();
            c.local_get(Bp).local_get(jt).local_get(np).i32_mul().i32_const(4 * TN_NR).i32_mul().i32_add();
            c.local_get(np);
            c.local_get(g('c')).local_get(ib).local_get(it).i32_const(MR).i32_mul().i32_add().local_get(g('ldc')).i32_mul()
              .local_get(jb).i32_add().local_get(jt).i32_const(TN_NR).i32_mul().i32_add().i32_const(2).i32_shl().i32_add();
            c.local_get(g('ldc')).i32_const(2).i32_shl();
            // rows = min(MR, ni − it·MR)
            c.local_get(ni).local_get(it).i32_const(MR).i32_mul().i32_sub().local_set(tmp);
            c.i32_const(MR).local_get(tmp).i32_const(MR).local_get(tmp).i32_lt_s().select();
            c.local_get(cols).local_get(T).call(kern);
            c.local_get(it).i32_const(1).i32_add().local_set(it);
          });
          c.local_get(jt).i32_const(1).i32_add().local_set(jt);
        });
        c.local_get(ib).i32_const(MC).i32_add().local_set(ib);
      });
      c.local_get(jb).i32_const(TN_NC).i32_add().local_set(jb);
    });
    c.local_get(p0).i32_const(TN_KC).i32_add().local_set(p0);
  });
  const drv = mb.declare(name, L.params, [], true);
  mb.define(drv, L.locals, c);
}
