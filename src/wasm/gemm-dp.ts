// Float64 GEMM on packed panels, for the backward pass, accumulating into a float32 C:
//   C[i, j] = f32( f64(C[i, j]) + Σ_p f64(A(i, p))·f64(B(p, j)) )
//   A(i, p) at a + 4·(aT ? p·lda + i : i·lda + p)      aT = 1: A stored p-major (contiguous in i)
//   B(p, j) at b + 4·(bT ? j·ldb + p : p·ldb + j)      bT = 1: B stored j-major (contiguous in p)
//   C(i, j) at c + 4·(i·ldc + j)
// One kernel serves every product of the matmul backward and reads the model's float32 buffers in
// place (dinp = dout·Wᵀ, dW = inpᵀ·dout, the tied lm-head's two; see cpu/matmul-backward.ts).
//
// Why float64: gradients are small sums of large terms (cancellation), and the tests hold the
// backward to the float64 reference within a couple of float32 ulps of each result. Any float32
// rounding of a product or a partial sum leaves an error of ≈ √P·u·|a·b|, which for near-zero
// results is ten times that bound; a float32 product of float32 operands is exact in float64,
// so promoting while packing and summing in float64 gives the reference's accuracy.
// The order of every sum is fixed by p alone (sequential within each KC block, the blocks added in
// order), never by the thread split or the tiling: results do not depend on the thread count.
//
// Structure (GotoBLAS/BLIS): per thread, columns [j0, j1) in blocks of NC; rows in blocks of MC;
// p in blocks of KC. Per (column block, row block, p block) A and B are packed into float64 panels
// of 4 (rows i of A, columns j of B): [p][4] doubles, 32 B per p, promoting float32 → float64 and
// transposing with 4×4 shuffles where the source is contiguous in p. Panels are padded (edge rows
// and columns read clamped or neighbouring memory and are never stored), so the micro-kernel has
// no edge cases. Micro-kernel (outer product, a 4×4 tile of C): per p, 2 f64x2 loads of B, 4 splat
// loads of A, 8 multiply-adds into 8 f64x2 accumulators; 8 + 2 + 1 (+1 product without FMA) = 12
// of x86-64's 16 xmm registers. At the end of a p block the tile is added to a float64 block
// accumulator (Cacc, in L1/L2; the first p block stores), which is rounded into C once after the
// last p block, 4 columns at a time.
// Blocking (Zen 4: 32 KiB L1d, 1 MiB L2 per core): a B panel (KC × 32 B = 8 KiB) stays in L1 while
// the tile walks the A block (MC × KC × 8 B ≤ 256 KiB, L2); the B block is KC × NC × 8 B = 128 KiB.

import { Code, I32, Locals, type ModuleBuilder, V128 } from './emit.ts';

/** rows per A panel, columns per B panel (the micro-kernel's tile) */
export const DP_MR = 4;
export const DP_NR = 4;
/** p per block (one packing) */
export const DP_KC = 256;
/** columns per block */
export const DP_NC = 64;
/** the largest row block (the driver's MC argument: a multiple of 4, at most this) */
export const DP_MC_MAX = 128;
/** scratch layout (bytes from the thread's scratch pointer): Ap, Bp (each with slack for over-packing), Cacc */
const SLACK = 512;
export const DP_OFF_B = DP_MC_MAX * DP_KC * 8 + SLACK;
export const DP_OFF_C = DP_OFF_B + DP_KC * DP_NC * 8 + SLACK;
export const DP_SCRATCH_BYTES = DP_OFF_C + DP_MC_MAX * DP_NC * 8;

/** block { loop { if exit() break; body(); continue } } */
export function loopWhile(c: Code, exit: () => void, body: () => void): void {
  c.block().loop();
  exit();
  c.br_if(1);
  body();
  c.br(0).end().end();
}

/** push min(x, y) of two i32 locals (signed) */
function minLocals(c: Code, x: number, y: number): void {
  c.local_get(x).local_get(y).local_get(x).local_get(y).i32_lt_s().select();
}

/** the columns of the 4×4 block in locals r0..r3 (rows) into out0..out3, via u0..u3 */
export function transpose4(c: Code, r: readonly number[], u: readonly number[], out: readonly number[]): void {
  c.local_get(r[0]).local_get(r[1]).f32x4_shuffle(0, 4, 1, 5).local_set(u[0]);
  c.local_get(r[0]).local_get(r[1]).f32x4_shuffle(2, 6, 3, 7).local_set(u[1]);
  c.local_get(r[2]).local_get(r[3]).f32x4_shuffle(0, 4, 1, 5).local_set(u[2]);
  c.local_get(r[2]).local_get(r[3]).f32x4_shuffle(2, 6, 3, 7).local_set(u[3]);
  c.local_get(u[0]).local_get(u[2]).f32x4_shuffle(0, 1, 4, 5).local_set(out[0]);
  c.local_get(u[0]).local_get(u[2]).f32x4_shuffle(2, 3, 6, 7).local_set(out[1]);
  c.local_get(u[1]).local_get(u[3]).f32x4_shuffle(0, 1, 4, 5).local_set(out[2]);
  c.local_get(u[1]).local_get(u[3]).f32x4_shuffle(2, 3, 6, 7).local_set(out[3]);
}

/** store the f32x4 local v as 4 doubles at local ptr + off (32 bytes) */
function storePromoted(c: Code, ptr: number, v: number, off: number): void {
  c.local_get(ptr).local_get(v).f64x2_promote_low_f32x4().v128_store(off);
  c.local_get(ptr).local_get(v).local_get(v).f32x4_shuffle(2, 3, 2, 3).f64x2_promote_low_f32x4().v128_store(off + 16);
}

/**
 * pack(src, ld, trans, x0, nx, xmax, p0, np, dst): float64 panels of 4 indices x (rows i of A or
 * columns j of B) for p in [p0, p0 + np): panel t at dst + t·np·32, its p-th 4 doubles at + p·32.
 *   trans = 0: element (x, p) at src + 4·(p·ld + x)  — 4 consecutive floats per p (vector loads)
 *   trans = 1: element (x, p) at src + 4·(x·ld + p)  — 4 rows, transposed 4 p at a time; rows past
 *              xmax − 1 are clamped to it; a panel may write up to 3 p past np (the next panel,
 *              packed after it, overwrites them; the last one spills into the slack).
 */
function packFn(): { locals: Locals; code: Code } {
  const L = new Locals([['src', I32], ['ld', I32], ['trans', I32], ['x0', I32], ['nx', I32], ['xmax', I32],
    ['p0', I32], ['np', I32], ['dst', I32]]);
  const g = (n: string): number => L.get(n);
  const c = new Code();
  const t = L.add('t', I32), nt = L.add('nt', I32), p = L.add('p', I32), s = L.add('s', I32), d = L.add('d', I32);
  const q = L.add('q', I32), rowMax = L.add('rowMax', I32), pstride = L.add('pstride', I32);
  const rows = [0, 1, 2, 3].map((i) => L.add(`row${i}`, I32));
  const v = L.add('v', V128);
  const r = [0, 1, 2, 3].map((i) => L.add(`r${i}`, V128));
  const u = [0, 1, 2, 3].map((i) => L.add(`u${i}`, V128));
  const o = [0, 1, 2, 3].map((i) => L.add(`o${i}`, V128));
  // nt = ⌈nx / 4⌉; pstride = np·32 (bytes per panel)
  c.local_get(g('nx')).i32_const(3).i32_add().i32_const(2).i32_shr_u().local_set(nt);
  c.local_get(g('np')).i32_const(5).i32_shl().local_set(pstride);
  c.local_get(g('trans')).i32_eqz().if_();
  {
    // contiguous in x: per p, the panels' floats are consecutive in memory (a row of the source)
    c.i32_const(0).local_set(p);
    loopWhile(c, () => c.local_get(p).local_get(g('np')).i32_ge_s(), () => {
      // s = src + 4·((p0 + p)·ld + x0); d = dst + 32p
      c.local_get(g('src')).local_get(g('p0')).local_get(p).i32_add().local_get(g('ld')).i32_mul().local_get(g('x0')).i32_add()
        .i32_const(2).i32_shl().i32_add().local_set(s);
      c.local_get(g('dst')).local_get(p).i32_const(5).i32_shl().i32_add().local_set(d);
      c.i32_const(0).local_set(t);
      loopWhile(c, () => c.local_get(t).local_get(nt).i32_ge_s(), () => {
        c.local_get(s).v128_load().local_set(v);
        storePromoted(c, d, v, 0);
        c.local_get(s).i32_const(16).i32_add().local_set(s);
        c.local_get(d).local_get(pstride).i32_add().local_set(d);
        c.local_get(t).i32_const(1).i32_add().local_set(t);
      });
      c.local_get(p).i32_const(1).i32_add().local_set(p);
    });
  }
  c.else_();
  {
    // contiguous in p: 4 rows per panel, 4×4 transposes
    c.local_get(g('xmax')).i32_const(1).i32_sub().local_set(rowMax);
    c.i32_const(0).local_set(t);
    loopWhile(c, () => c.local_get(t).local_get(nt).i32_ge_s(), () => {
      // row_k = src + 4·(min(x0 + 4t + k, xmax − 1)·ld + p0)
      for (let k = 0; k < 4; k++) {
        c.local_get(g('x0')).local_get(t).i32_const(2).i32_shl().i32_add().i32_const(k).i32_add().local_set(q);
        c.local_get(g('src'));
        minLocals(c, q, rowMax);
        c.local_get(g('ld')).i32_mul().local_get(g('p0')).i32_add().i32_const(2).i32_shl().i32_add().local_set(rows[k]);
      }
      c.local_get(g('dst')).local_get(t).local_get(pstride).i32_mul().i32_add().local_set(d);
      c.i32_const(0).local_set(q);
      loopWhile(c, () => c.local_get(q).local_get(g('np')).i32_ge_s(), () => {
        for (let k = 0; k < 4; k++) c.local_get(rows[k]).local_get(q).i32_const(2).i32_shl().i32_add().v128_load().local_set(r[k]);
        transpose4(c, r, u, o);
        // o_k = the 4 rows' values at p = q + k
        for (let k = 0; k < 4; k++) storePromoted(c, d, o[k], 32 * k);
        c.local_get(d).i32_const(128).i32_add().local_set(d);
        c.local_get(q).i32_const(4).i32_add().local_set(q);
      });
      c.local_get(t).i32_const(1).i32_add().local_set(t);
    });
  }
  c.end();
  return { locals: L, code: c };
}

/**
 * kernel(ap, bp, cacc, np, init): the 4×4 tile cacc (float64 [4][4]) (+)= Σ_{p < np} Ap[p][r]·Bp[p][c]
 * in float64; init = 1 (the first p block) stores instead of adding.
 */
function kernelFn(fma: boolean): { locals: Locals; code: Code } {
  const L = new Locals([['ap', I32], ['bp', I32], ['cacc', I32], ['np', I32], ['init', I32]]);
  const g = (n: string): number => L.get(n);
  const c = new Code();
  const acc = [0, 1, 2, 3].map((r) => [0, 1].map((v) => L.add(`acc${r}_${v}`, V128)));
  const b = [0, 1].map((v) => L.add(`b${v}`, V128));
  const av = L.add('av', V128);
  // per p: 2 loads of B, 4 splats of A, 8 multiply-adds. (Unrolling 2 or 4 p per iteration made
  // V8 spill and ran 25–30% slower on the reference machine.)
  loopWhile(c, () => c.local_get(g('np')).i32_eqz(), () => {
    c.local_get(g('bp')).v128_load(0).local_set(b[0]);
    c.local_get(g('bp')).v128_load(16).local_set(b[1]);
    for (let r = 0; r < 4; r++) {
      c.local_get(g('ap')).v128_load64_splat(8 * r).local_set(av);
      for (let v = 0; v < 2; v++) {
        c.local_get(av).local_get(b[v]);
        if (fma) c.local_get(acc[r][v]).f64x2_relaxed_madd();
        else c.f64x2_mul().local_get(acc[r][v]).f64x2_add();
        c.local_set(acc[r][v]);
      }
    }
    c.local_get(g('ap')).i32_const(32).i32_add().local_set(g('ap'));
    c.local_get(g('bp')).i32_const(32).i32_add().local_set(g('bp'));
    c.local_get(g('np')).i32_const(1).i32_sub().local_set(g('np'));
  });
  c.local_get(g('init')).if_();
  for (let r = 0; r < 4; r++) for (let v = 0; v < 2; v++) c.local_get(g('cacc')).local_get(acc[r][v]).v128_store((r * 4 + 2 * v) * 8);
  c.else_();
  for (let r = 0; r < 4; r++) {
    for (let v = 0; v < 2; v++) {
      const off = (r * 4 + 2 * v) * 8;
      c.local_get(g('cacc')).local_get(g('cacc')).v128_load(off).local_get(acc[r][v]).f64x2_add().v128_store(off);
    }
  }
  c.end();
  return { locals: L, code: c };
}

/**
 * Add the packing routine, the micro-kernel and the driver
 *   <name>(a, lda, aT, b, ldb, bT, c, ldc, I, P, MC, j0, j1, S)
 * for columns [j0, j1) of C (I rows); MC: rows per block (a multiple of 4, ≤ DP_MC_MAX);
 * S: this thread's scratch (DP_SCRATCH_BYTES).
 */
export function addGemmDP(mb: ModuleBuilder, fma: boolean, name: string): void {
  const pk = packFn(), kr = kernelFn(fma);
  const pack = mb.declare(`${name}_pack`, pk.locals.params, [], false);
  mb.define(pack, pk.locals.locals, pk.code);
  const kern = mb.declare(`${name}_kernel`, kr.locals.params, [], false);
  mb.define(kern, kr.locals.locals, kr.code);

  const L = new Locals([['a', I32], ['lda', I32], ['aT', I32], ['b', I32], ['ldb', I32], ['bT', I32], ['c', I32], ['ldc', I32],
    ['I', I32], ['P', I32], ['MC', I32], ['j0', I32], ['j1', I32], ['S', I32]]);
  const g = (n: string): number => L.get(n);
  const jb = L.add('jb', I32), nj = L.add('nj', I32), ntj = L.add('ntj', I32), ib = L.add('ib', I32), ni = L.add('ni', I32);
  const nti = L.add('nti', I32), p0 = L.add('p0', I32), np = L.add('np', I32), it = L.add('it', I32), jt = L.add('jt', I32);
  const i = L.add('i', I32), j = L.add('j', I32), x = L.add('x', I32), tmp = L.add('tmp', I32), cv = L.add('cv', V128);
  const Ap = L.add('Ap', I32), Bp = L.add('Bp', I32), Cacc = L.add('Cacc', I32), crow = L.add('crow', I32), arow = L.add('arow', I32);
  const c = new Code();
  c.local_get(g('S')).local_set(Ap);
  c.local_get(g('S')).i32_const(DP_OFF_B).i32_add().local_set(Bp);
  c.local_get(g('S')).i32_const(DP_OFF_C).i32_add().local_set(Cacc);
  c.local_get(g('j0')).local_set(jb);
  loopWhile(c, () => c.local_get(jb).local_get(g('j1')).i32_ge_s(), () => {
    // nj = min(NC, j1 − jb); ntj = ⌈nj/4⌉
    c.local_get(g('j1')).local_get(jb).i32_sub().local_set(tmp);
    c.i32_const(DP_NC).local_set(nj);
    minLocals(c, nj, tmp);
    c.local_tee(nj).i32_const(3).i32_add().i32_const(2).i32_shr_u().local_set(ntj);
    c.i32_const(0).local_set(ib);
    loopWhile(c, () => c.local_get(ib).local_get(g('I')).i32_ge_s(), () => {
      c.local_get(g('I')).local_get(ib).i32_sub().local_set(tmp);
      minLocals(c, g('MC'), tmp);
      c.local_tee(ni).i32_const(3).i32_add().i32_const(2).i32_shr_u().local_set(nti);
      c.i32_const(0).local_set(p0);
      loopWhile(c, () => c.local_get(p0).local_get(g('P')).i32_ge_s(), () => {
        c.local_get(g('P')).local_get(p0).i32_sub().local_set(tmp);
        c.i32_const(DP_KC).local_set(np);
        minLocals(c, np, tmp);
        c.local_set(np);
        // the B block (np × nj): for every row block, or only the first when P fits one p block
        c.local_get(ib).i32_eqz().local_get(g('P')).i32_const(DP_KC).i32_gt_s().i32_or().if_();
        c.local_get(g('b')).local_get(g('ldb')).local_get(g('bT')).local_get(jb).local_get(nj).local_get(g('j1'))
          .local_get(p0).local_get(np).local_get(Bp).call(pack);
        c.end();
        // (A(i, p) is contiguous in p — the transposing pack — when aT = 0)
        c.local_get(g('a')).local_get(g('lda')).local_get(g('aT')).i32_eqz().local_get(ib).local_get(ni).local_get(g('I'))
          .local_get(p0).local_get(np).local_get(Ap).call(pack);
        // tiles: each B panel (in L1) against every A panel of the block
        c.i32_const(0).local_set(jt);
        loopWhile(c, () => c.local_get(jt).local_get(ntj).i32_ge_s(), () => {
          c.i32_const(0).local_set(it);
          loopWhile(c, () => c.local_get(it).local_get(nti).i32_ge_s(), () => {
            c.local_get(Ap).local_get(it).local_get(np).i32_mul().i32_const(5).i32_shl().i32_add();
            c.local_get(Bp).local_get(jt).local_get(np).i32_mul().i32_const(5).i32_shl().i32_add();
            c.local_get(Cacc).local_get(it).local_get(ntj).i32_mul().local_get(jt).i32_add().i32_const(7).i32_shl().i32_add();
            c.local_get(np).local_get(p0).i32_eqz().call(kern); // the first p block initializes Cacc
            c.local_get(it).i32_const(1).i32_add().local_set(it);
          });
          c.local_get(jt).i32_const(1).i32_add().local_set(jt);
        });
        c.local_get(p0).i32_const(DP_KC).i32_add().local_set(p0);
      });
      // C[ib + i, jb + j] = f32(f64(C) + Cacc[tile (i/4, j/4)][i%4][j%4])
      c.i32_const(0).local_set(i);
      loopWhile(c, () => c.local_get(i).local_get(ni).i32_ge_s(), () => {
        // crow = c + 4·((ib + i)·ldc + jb);  arow = Cacc + (i/4)·ntj·128 + (i%4)·32
        c.local_get(g('c')).local_get(ib).local_get(i).i32_add().local_get(g('ldc')).i32_mul().local_get(jb).i32_add()
          .i32_const(2).i32_shl().i32_add().local_set(crow);
        c.local_get(Cacc).local_get(i).i32_const(2).i32_shr_u().local_get(ntj).i32_mul().i32_const(7).i32_shl().i32_add()
          .local_get(i).i32_const(3).i32_and().i32_const(5).i32_shl().i32_add().local_set(arow);
        // 4 columns at a time (one tile row: 4 consecutive doubles of Cacc), then the rest one by one
        c.i32_const(0).local_set(j);
        loopWhile(c, () => c.local_get(j).i32_const(4).i32_add().local_get(nj).i32_gt_s(), () => {
          c.local_get(arow).local_get(j).i32_const(5).i32_shl().i32_add().local_set(x); // arow + 128·(j/4)
          c.local_get(crow).v128_load().local_set(cv);
          c.local_get(crow);
          c.local_get(cv).f64x2_promote_low_f32x4().local_get(x).v128_load(0).f64x2_add().f32x4_demote_f64x2_zero();
          c.local_get(cv).local_get(cv).f32x4_shuffle(2, 3, 2, 3).f64x2_promote_low_f32x4().local_get(x).v128_load(16).f64x2_add()
            .f32x4_demote_f64x2_zero();
          c.f32x4_shuffle(0, 1, 4, 5).v128_store();
          c.local_get(crow).i32_const(16).i32_add().local_set(crow);
          c.local_get(j).i32_const(4).i32_add().local_set(j);
        });
        loopWhile(c, () => c.local_get(j).local_get(nj).i32_ge_s(), () => {
          // x = arow + 128·(j/4) + 8·(j%4)
          c.local_get(arow).local_get(j).i32_const(2).i32_shr_u().i32_const(7).i32_shl().i32_add()
            .local_get(j).i32_const(3).i32_and().i32_const(3).i32_shl().i32_add().local_set(x);
          c.local_get(crow);
          c.local_get(crow).f32_load().f64_promote_f32().local_get(x).f64_load().f64_add().f32_demote_f64();
          c.f32_store();
          c.local_get(crow).i32_const(4).i32_add().local_set(crow);
          c.local_get(j).i32_const(1).i32_add().local_set(j);
        });
        c.local_get(i).i32_const(1).i32_add().local_set(i);
      });
      c.local_get(ib).local_get(g('MC')).i32_add().local_set(ib);
    });
    c.local_get(jb).i32_const(DP_NC).i32_add().local_set(jb);
  });
  const drv = mb.declare(name, L.params, [], true);
  mb.define(drv, L.locals, c);
}
