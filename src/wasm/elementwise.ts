// Element-wise and row-wise kernels of the training step, as WebAssembly SIMD: GELU forward and
// backward, the cross-entropy's row statistics and gradient, the gradient's sum of squares (for
// clip_grad_norm_) and the AdamW update. Each kernel works on a range [n0, n1) of elements (rows,
// for the cross-entropy) so the worker pool can split it: the signature is
//   kernel(n0, n1, S, args...)        (S: the thread's scratch, unused here)
// The JS functions in cpu/gelu.ts, cpu/crossentropy.ts and train/adamw.ts are the references; each
// kernel's header says how its arithmetic differs from them.

import { Code, F64, I32, Locals, type ModuleBuilder, V128 } from './emit.ts';
import { expF32x4, loopWhile } from './simd.ts';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/**
 * A loop over elements [n0, n1): body(lanes) runs with local `i` at the element index, 4 at a time
 * while 4 remain (lanes = 4), then one at a time (lanes = 1; the body loads with load32_splat or
 * load32_zero and stores lane 0 only).
 */
function elementLoop(c: Code, i: number, n0: number, n1: number, body: (lanes: 1 | 4) => void): void {
  c.local_get(n0).local_set(i);
  loopWhile(c, () => c.local_get(i).i32_const(4).i32_add().local_get(n1).i32_gt_s(), () => {
    body(4);
    c.local_get(i).i32_const(4).i32_add().local_set(i);
  });
  loopWhile(c, () => c.local_get(i).local_get(n1).i32_ge_s(), () => {
    body(1);
    c.local_get(i).i32_const(1).i32_add().local_set(i);
  });
}

/** push the address ptr + 4·i */
function addr(c: Code, ptr: number, i: number): void {
  c.local_get(ptr).local_get(i).i32_const(2).i32_shl().i32_add();
}

/** push a vector load (4 lanes) or a splat of one float (1 lane) from ptr + 4·i */
function load(c: Code, ptr: number, i: number, lanes: 1 | 4): void {
  addr(c, ptr, i);
  if (lanes === 4) c.v128_load();
  else c.v128_load32_splat();
}

/** store the vector local v (4 lanes, or lane 0) at ptr + 4·i */
function store(c: Code, ptr: number, i: number, v: number, lanes: 1 | 4): void {
  addr(c, ptr, i);
  c.local_get(v);
  if (lanes === 4) c.v128_store();
  else c.f32x4_extract_lane(0).f32_store();
}

function splat(c: Code, v: number): void {
  c.v128_const_f32x4([v, v, v, v]);
}

/**
 * e = exp(−2u), u = sqrt(2/π)·(x + 0.044715·x³), from local x into local e (scratch: x2, n, r).
 * gelu_new(x) = 0.5·x·(1 + tanh(u)) = x·σ(2u) = x / (1 + e), with no cancellation for x < 0.
 */
function geluExp(c: Code, x: number, x2: number, e: number, n: number, r: number): void {
  c.local_get(x).local_get(x).f32x4_mul().local_set(x2);
  // −2u = x·(−2s − 2s·0.044715·x²)
  c.local_get(x2);
  splat(c, -2 * SQRT_2_OVER_PI * 0.044715);
  c.f32x4_mul();
  splat(c, -2 * SQRT_2_OVER_PI);
  c.f32x4_add().local_get(x).f32x4_mul().local_set(e);
  expF32x4(c, e, n, r);
  c.local_set(e);
}

/** gelu_fwd(n0, n1, S, out, inp): out = x / (1 + exp(−2u)) (float32; the reference is float64, rounded once) */
function geluFwd(): { locals: Locals; code: Code } {
  const L = new Locals([['n0', I32], ['n1', I32], ['S', I32], ['out', I32], ['inp', I32]]);
  const g = (s: string): number => L.get(s);
  const i = L.add('i', I32), x = L.add('x', V128), x2 = L.add('x2', V128), e = L.add('e', V128);
  const n = L.add('n', V128), r = L.add('r', V128);
  const c = new Code();
  elementLoop(c, i, g('n0'), g('n1'), (lanes) => {
    load(c, g('inp'), i, lanes);
    c.local_set(x);
    geluExp(c, x, x2, e, n, r);
    c.local_get(x);
    splat(c, 1);
    c.local_get(e).f32x4_add().f32x4_div().local_set(e);
    store(c, g('out'), i, e, lanes);
  });
  return { locals: L, code: c };
}

/**
 * gelu_bwd(n0, n1, S, dinp, inp, dout): dinp += gelu_new'(x)·dout, with σ = 1/(1 + e):
 *   gelu_new'(x) = σ + 2x·σ(1 − σ)·s·(1 + 3·0.044715·x²),   σ(1 − σ) = e·σ·σ
 * (the reference's 0.5(1 + tanh u) + 0.5x(1 − tanh²u)·s·(...) with tanh u = 2σ − 1).
 */
function geluBwd(): { locals: Locals; code: Code } {
  const L = new Locals([['n0', I32], ['n1', I32], ['S', I32], ['dinp', I32], ['inp', I32], ['dout', I32]]);
  const g = (s: string): number => L.get(s);
  const i = L.add('i', I32), x = L.add('x', V128), x2 = L.add('x2', V128), e = L.add('e', V128), sg = L.add('sg', V128);
  const n = L.add('n', V128), r = L.add('r', V128);
  const c = new Code();
  elementLoop(c, i, g('n0'), g('n1'), (lanes) => {
    load(c, g('inp'), i, lanes);
    c.local_set(x);
    geluExp(c, x, x2, e, n, r);
    splat(c, 1);
    splat(c, 1);
    c.local_get(e).f32x4_add().f32x4_div().local_set(sg);
    // grad = σ + x·(e·σ·σ)·(2s + 6s·0.044715·x²)
    c.local_get(sg);
    c.local_get(x).local_get(e).local_get(sg).f32x4_mul().local_get(sg).f32x4_mul().f32x4_mul();
    c.local_get(x2);
    splat(c, 6 * SQRT_2_OVER_PI * 0.044715);
    c.f32x4_mul();
    splat(c, 2 * SQRT_2_OVER_PI);
    c.f32x4_add().f32x4_mul().f32x4_add();
    load(c, g('dout'), i, lanes);
    c.f32x4_mul();
    load(c, g('dinp'), i, lanes);
    c.f32x4_add().local_set(e);
    store(c, g('dinp'), i, e, lanes);
  });
  return { locals: L, code: c };
}

/**
 * sumsq(n0, n1, S, g, out, chunk): out[n0 / chunk] (float64) = Σ_{i ∈ [n0, n1)} g[i]² in float64
 * (each square exact, the sum in two pairs of float64 lanes; the caller adds the chunks in order).
 */
function sumsq(): { locals: Locals; code: Code } {
  const L = new Locals([['n0', I32], ['n1', I32], ['S', I32], ['gp', I32], ['out', I32], ['chunk', I32]]);
  const g = (s: string): number => L.get(s);
  const i = L.add('i', I32), v = L.add('v', V128), a0 = L.add('a0', V128), a1 = L.add('a1', V128), t = L.add('t', V128);
  const tail = L.add('tail', F64);
  const c = new Code();
  elementLoop(c, i, g('n0'), g('n1'), (lanes) => {
    load(c, g('gp'), i, lanes);
    c.local_set(v);
    c.local_get(v).f64x2_promote_low_f32x4().local_tee(t).local_get(t).f64x2_mul();
    if (lanes === 4) {
      c.local_get(a0).f64x2_add().local_set(a0);
      c.local_get(v).local_get(v).f32x4_shuffle(2, 3, 2, 3).f64x2_promote_low_f32x4().local_tee(t).local_get(t).f64x2_mul();
      c.local_get(a1).f64x2_add().local_set(a1);
    } else {
      c.f64x2_extract_lane(0).local_get(tail).f64_add().local_set(tail);
    }
  });
  // out[n0/chunk] = (a0₀ + a0₁) + (a1₀ + a1₁) + tail
  c.local_get(g('out')).local_get(g('n0')).local_get(g('chunk')).i32_div_u().i32_const(3).i32_shl().i32_add();
  c.local_get(a0).f64x2_extract_lane(0).local_get(a0).f64x2_extract_lane(1).f64_add();
  c.local_get(a1).f64x2_extract_lane(0).local_get(a1).f64x2_extract_lane(1).f64_add().f64_add();
  c.local_get(tail).f64_add().f64_store();
  return { locals: L, code: c };
}

/** AdamW hyper-parameter block (float64 words at `hyper`), filled by the caller */
export const ADAMW_HYPER = { b1: 0, omb1: 1, b2: 2, omb2: 3, stepSize: 4, bc2Sqrt: 5, eps: 6, decay: 7, coef: 8, clip: 9 } as const;
export const ADAMW_HYPER_WORDS = 10;

/**
 * adamw(n0, n1, S, p, g, m, v, hyper): one torch.optim.AdamW step on elements [n0, n1), each in
 * float64 and rounded once when stored — the same operations in the same order as adamwStep
 * (train/adamw.ts), so the results are identical:
 *   (clip ≠ 0)  g ← f32(g·coef)  (stored back: clip_grad_norm_ scales the gradients in place)
 *   m ← b1·m + (1 − b1)·g;   v ← b2·v + ((1 − b2)·g)·g
 *   p ← p·decay − (stepSize·m) / (sqrt(v)/bc2Sqrt + eps)
 */
function adamw(): { locals: Locals; code: Code } {
  const L = new Locals([['n0', I32], ['n1', I32], ['S', I32], ['p', I32], ['gp', I32], ['m', I32], ['v', I32], ['hyper', I32]]);
  const g = (s: string): number => L.get(s);
  const i = L.add('i', I32), clip = L.add('clip', I32);
  const H = Object.fromEntries(Object.keys(ADAMW_HYPER).map((k) => [k, L.add(`h_${k}`, V128)])) as Record<keyof typeof ADAMW_HYPER, number>;
  const gv = [0, 1].map((h) => L.add(`g${h}`, V128)), mv = [0, 1].map((h) => L.add(`m${h}`, V128));
  const vv = [0, 1].map((h) => L.add(`v${h}`, V128)), pv = [0, 1].map((h) => L.add(`p${h}`, V128));
  const t = L.add('t', V128);
  const c = new Code();
  for (const [k, w] of Object.entries(ADAMW_HYPER)) {
    c.local_get(g('hyper')).v128_load64_splat(8 * w).local_set(H[k as keyof typeof ADAMW_HYPER]);
  }
  c.local_get(H.clip).f64x2_extract_lane(0).f64_const(0).f64_gt().local_set(clip);
  // the f32x4 at ptr + 4i as two f64x2 halves (lanes 0, 1 and 2, 3) into dst[0], dst[1]
  const loadHalves = (ptr: number, dst: number[], lanes: 1 | 4): void => {
    addr(c, ptr, i);
    if (lanes === 4) c.v128_load();
    else c.v128_load32_zero();
    c.local_tee(t).f64x2_promote_low_f32x4().local_set(dst[0]);
    c.local_get(t).local_get(t).f32x4_shuffle(2, 3, 2, 3).f64x2_promote_low_f32x4().local_set(dst[1]);
  };
  // the two f64x2 halves src[0], src[1] rounded to float32 and stored at ptr + 4i
  const storeHalves = (ptr: number, src: number[], lanes: 1 | 4): void => {
    c.local_get(src[0]).f32x4_demote_f64x2_zero().local_get(src[1]).f32x4_demote_f64x2_zero().f32x4_shuffle(0, 1, 4, 5).local_set(t);
    store(c, ptr, i, t, lanes);
  };
  elementLoop(c, i, g('n0'), g('n1'), (lanes) => {
    loadHalves(g('gp'), gv, lanes);
    c.local_get(clip).if_();
    for (const h of [0, 1]) c.local_get(gv[h]).local_get(H.coef).f64x2_mul().local_set(gv[h]);
    storeHalves(g('gp'), gv, lanes);
    loadHalves(g('gp'), gv, lanes); // the rounded value, as clip_grad_norm_ leaves it
    c.end();
    loadHalves(g('m'), mv, lanes);
    loadHalves(g('v'), vv, lanes);
    loadHalves(g('p'), pv, lanes);
    for (const h of [0, 1]) {
      c.local_get(H.b1).local_get(mv[h]).f64x2_mul().local_get(H.omb1).local_get(gv[h]).f64x2_mul().f64x2_add().local_set(mv[h]);
      c.local_get(H.b2).local_get(vv[h]).f64x2_mul().local_get(H.omb2).local_get(gv[h]).f64x2_mul().local_get(gv[h]).f64x2_mul()
        .f64x2_add().local_set(vv[h]);
      c.local_get(pv[h]).local_get(H.decay).f64x2_mul();
      c.local_get(H.stepSize).local_get(mv[h]).f64x2_mul();
      c.local_get(vv[h]).f64x2_sqrt().local_get(H.bc2Sqrt).f64x2_div().local_get(H.eps).f64x2_add();
      c.f64x2_div().f64x2_sub().local_set(pv[h]);
    }
    storeHalves(g('m'), mv, lanes);
    storeHalves(g('v'), vv, lanes);
    storeHalves(g('p'), pv, lanes);
  });
  return { locals: L, code: c };
}

/**
 * ce_stats(r0, r1, S, logits, V, stats): per row r, stats[2r] = max_j z_j and
 * stats[2r + 1] = Σ_j exp(z_j − max) (float64 sum of float32 exponentials; the reference
 * exponentiates in float64). The caller finishes the loss: max + log(Σ) − z_y.
 */
function ceStats(): { locals: Locals; code: Code } {
  const L = new Locals([['r0', I32], ['r1', I32], ['S', I32], ['logits', I32], ['V', I32], ['stats', I32]]);
  const g = (s: string): number => L.get(s);
  const row = L.add('row', I32), base = L.add('base', I32), i = L.add('i', I32);
  const mx = L.add('mx', V128), x = L.add('x', V128), n = L.add('n', V128), r = L.add('r', V128);
  const s0 = L.add('s0', V128), s1 = L.add('s1', V128), e = L.add('e', V128), tail = L.add('tail', F64);
  const zero = L.add('zero', I32), V = g('V');
  const c = new Code();
  c.local_get(g('r0')).local_set(row);
  loopWhile(c, () => c.local_get(row).local_get(g('r1')).i32_ge_s(), () => {
    c.local_get(g('logits')).local_get(row).local_get(V).i32_mul().i32_const(2).i32_shl().i32_add().local_set(base);
    // max over the row
    splat(c, -Infinity);
    c.local_set(mx);
    elementLoop(c, i, zero, V, (lanes) => {
      load(c, base, i, lanes);
      c.local_get(mx).f32x4_max().local_set(mx);
    });
    c.local_get(mx).local_get(mx).local_get(mx).f32x4_shuffle(2, 3, 0, 1).f32x4_max().local_set(mx);
    c.local_get(mx).local_get(mx).local_get(mx).f32x4_shuffle(1, 0, 3, 2).f32x4_max().local_set(mx);
    // Σ exp(z − max)
    c.v128_const_zero().local_set(s0).v128_const_zero().local_set(s1).f64_const(0).local_set(tail);
    elementLoop(c, i, zero, V, (lanes) => {
      load(c, base, i, lanes);
      c.local_get(mx).f32x4_sub().local_set(x);
      expF32x4(c, x, n, r);
      c.local_set(e);
      if (lanes === 4) {
        c.local_get(e).f64x2_promote_low_f32x4().local_get(s0).f64x2_add().local_set(s0);
        c.local_get(e).local_get(e).f32x4_shuffle(2, 3, 2, 3).f64x2_promote_low_f32x4().local_get(s1).f64x2_add().local_set(s1);
      } else {
        c.local_get(e).f32x4_extract_lane(0).f64_promote_f32().local_get(tail).f64_add().local_set(tail);
      }
    });
    c.local_get(g('stats')).local_get(row).i32_const(4).i32_shl().i32_add().local_tee(i);
    c.local_get(mx).f32x4_extract_lane(0).f64_promote_f32().f64_store(0);
    c.local_get(i);
    c.local_get(s0).f64x2_extract_lane(0).local_get(s0).f64x2_extract_lane(1).f64_add();
    c.local_get(s1).f64x2_extract_lane(0).local_get(s1).f64x2_extract_lane(1).f64_add().f64_add();
    c.local_get(tail).f64_add().f64_store(8);
    c.local_get(row).i32_const(1).i32_add().local_set(row);
  });
  return { locals: L, code: c };
}

/**
 * ce_bwd(r0, r1, S, dlogits, logits, V, stats, k): per row r with k[r] ≠ 0 (float64 words),
 * dlogits[r, j] += k[r]·exp(z_j − max_r) in float32 (max_r = stats[2r]; the caller passes
 * k[r] = scale/Σ_r and subtracts scale at the target).
 */
function ceBwd(): { locals: Locals; code: Code } {
  const L = new Locals([['r0', I32], ['r1', I32], ['S', I32], ['dl', I32], ['logits', I32], ['V', I32], ['stats', I32], ['k', I32]]);
  const g = (s: string): number => L.get(s);
  const row = L.add('row', I32), base = L.add('base', I32), dbase = L.add('dbase', I32), i = L.add('i', I32), zero = L.add('zero', I32);
  const mx = L.add('mx', V128), kv = L.add('kv', V128), x = L.add('x', V128), n = L.add('n', V128), r = L.add('r', V128);
  const V = g('V');
  const c = new Code();
  c.local_get(g('r0')).local_set(row);
  loopWhile(c, () => c.local_get(row).local_get(g('r1')).i32_ge_s(), () => {
    c.local_get(g('k')).local_get(row).i32_const(3).i32_shl().i32_add().f64_load().f32_demote_f64().f32x4_splat().local_tee(kv);
    c.f32x4_extract_lane(0).f32_const(0).f32_eq().i32_eqz().if_();
    c.local_get(g('stats')).local_get(row).i32_const(4).i32_shl().i32_add().f64_load().f32_demote_f64().f32x4_splat().local_set(mx);
    c.local_get(row).local_get(V).i32_mul().i32_const(2).i32_shl().local_tee(base).local_get(g('dl')).i32_add().local_set(dbase);
    c.local_get(base).local_get(g('logits')).i32_add().local_set(base);
    elementLoop(c, i, zero, V, (lanes) => {
      load(c, base, i, lanes);
      c.local_get(mx).f32x4_sub().local_set(x);
      expF32x4(c, x, n, r);
      c.local_get(kv).f32x4_mul();
      load(c, dbase, i, lanes);
      c.f32x4_add().local_set(x);
      store(c, dbase, i, x, lanes);
    });
    c.end();
    c.local_get(row).i32_const(1).i32_add().local_set(row);
  });
  return { locals: L, code: c };
}

/** The kernels this file adds (export names) and their generators. */
const KERNELS = { gelu_fwd: geluFwd, gelu_bwd: geluBwd, sumsq, adamw, ce_stats: ceStats, ce_bwd: ceBwd } as const;
export type ElementwiseName = keyof typeof KERNELS;

export function addElementwise(mb: ModuleBuilder): void {
  for (const [name, gen] of Object.entries(KERNELS)) {
    const k = gen();
    const idx = mb.declare(name, k.locals.params, [], true);
    mb.define(idx, k.locals.locals, k.code);
  }
}
