// Causal multi-head attention, forward (with or without a KV cache) and backward, as WebAssembly:
// the arithmetic of cpu/attention.ts (the reference) with its float64 accuracy — dot products of
// float32 vectors summed in float64 (in 4 interleaved lanes, where the reference sums in order),
// the softmax in float64 with a float64 exp (Cody–Waite reduction, degree-13 Taylor polynomial:
// < 1e−16 relative), and gradient accumulations rounded the way the reference rounds them.
//
// One wasm function per direction works on a range of (b, h) heads [bh0, bh1) — the worker pool
// splits heads across threads; a head's rows write disjoint slices of the outputs. Arguments come
// in a parameter block in the heap (int32 words, the scale as a float64), see FWD / BWD below.
// The forward's row routine is the same code for keys read from qkv (full forward, prefill) and
// from the KV cache (decode), so a cached row gets exactly the full forward's result.
//
// Per query row t of head (b, h) (forward), keys s < n (n = t + 1, or pos0 + t + 1 with a cache):
//   score[s] = (q_t · k_s)·scale;  masked keys −∞;  p = softmax(score) (all masked: 1/n)
//   out_t = f32(Σ_s p_s·drop[s]·v_s)  (float64 sum);  att[t, s] = f32(p_s), 0 for s ≥ n
// Backward (per t, keys s ≤ t), as cpu/attention.ts attentionBackward:
//   dv_s += att·keep·dout_t;  dP[s] = (dout_t·v_s)·keep;  Σ = Σ_s att[s]·dP[s]
//   ds = att[s]·(dP[s] − Σ)·scale;  dq_t += Σ_s ds·k_s (float64, added once);  dk_s += ds·q_t

import { Code, F64, I32, Locals, type ModuleBuilder, V128 } from './emit.ts';
import { loopWhile } from './simd.ts';

/** forward parameter block: int32 word indices (the scale is a float64 at byte FWD_SCALE) */
export const FWD = { qkv: 0, out: 1, att: 2, drop: 3, mask: 4, maskStride: 5, T: 6, C: 7, NH: 8, cacheK: 9, cacheV: 10, cap: 11, pos0: 12 } as const;
/** backward parameter block */
export const BWD = { dqkv: 0, dout: 1, qkv: 2, att: 3, drop: 4, mask: 5, maskStride: 6, T: 7, C: 8, NH: 9 } as const;
export const ATT_SCALE_BYTE = 64;
export const ATT_BLOCK_WORDS = 18;
/** scratch layout: float64 accumulators of one head row (hs ≤ ATT_MAX_HS) then float64 scores */
export const ATT_MAX_HS = 1024;
export const ATT_SCORES_BYTE = 8 * ATT_MAX_HS;

/** dot(a, b, n) → f64: Σ f64(a[i])·f64(b[i]) over float32 vectors, 4 float64 lanes then the tail */
function dotFn(): { locals: Locals; code: Code } {
  const L = new Locals([['a', I32], ['b', I32], ['n', I32]]);
  const g = (s: string): number => L.get(s);
  const c = new Code();
  const i = L.add('i', I32), va = L.add('va', V128), vb = L.add('vb', V128), s0 = L.add('s0', V128), s1 = L.add('s1', V128);
  const tail = L.add('tail', F64);
  c.i32_const(0).local_set(i);
  loopWhile(c, () => c.local_get(i).i32_const(4).i32_add().local_get(g('n')).i32_gt_s(), () => {
    c.local_get(g('a')).local_get(i).i32_const(2).i32_shl().i32_add().v128_load().local_set(va);
    c.local_get(g('b')).local_get(i).i32_const(2).i32_shl().i32_add().v128_load().local_set(vb);
    c.local_get(va).f64x2_promote_low_f32x4().local_get(vb).f64x2_promote_low_f32x4().f64x2_mul().local_get(s0).f64x2_add().local_set(s0);
    c.local_get(va).local_get(va).f32x4_shuffle(2, 3, 2, 3).f64x2_promote_low_f32x4();
    c.local_get(vb).local_get(vb).f32x4_shuffle(2, 3, 2, 3).f64x2_promote_low_f32x4();
    c.f64x2_mul().local_get(s1).f64x2_add().local_set(s1);
    c.local_get(i).i32_const(4).i32_add().local_set(i);
  });
  loopWhile(c, () => c.local_get(i).local_get(g('n')).i32_ge_s(), () => {
    c.local_get(g('a')).local_get(i).i32_const(2).i32_shl().i32_add().f32_load().f64_promote_f32();
    c.local_get(g('b')).local_get(i).i32_const(2).i32_shl().i32_add().f32_load().f64_promote_f32();
    c.f64_mul().local_get(tail).f64_add().local_set(tail);
    c.local_get(i).i32_const(1).i32_add().local_set(i);
  });
  c.local_get(s0).f64x2_extract_lane(0).local_get(s0).f64x2_extract_lane(1).f64_add();
  c.local_get(s1).f64x2_extract_lane(0).local_get(s1).f64x2_extract_lane(1).f64_add().f64_add();
  c.local_get(tail).f64_add();
  return { locals: L, code: c };
}

/**
 * exp(x) → f64 for x ≤ 0 (softmax arguments): 0 below −708 (and for −∞); otherwise
 * n = round(x/ln 2), r = x − n·ln2_hi − n·ln2_lo (|r| ≤ ln2/2), e^r by Taylor to degree 13
 * (truncation < 5e−18), times 2^n built in the exponent bits. NaN stays NaN (the saturating
 * conversion never traps).
 */
function expFn(): { locals: Locals; code: Code } {
  const L = new Locals([['x', F64]]);
  const c = new Code();
  const x = L.get('x'), n = L.add('n', F64), r = L.add('r', F64), p = L.add('p', F64);
  c.local_get(x).f64_const(-708).f64_lt().if_();
  c.f64_const(0).return_();
  c.end();
  c.local_get(x).f64_const(709).f64_min().local_set(x);
  c.local_get(x).f64_const(1.4426950408889634).f64_mul().f64_nearest().local_set(n);
  c.local_get(x).local_get(n).f64_const(6.93147180369123816490e-01).f64_mul().f64_sub()
    .local_get(n).f64_const(1.90821492927058770002e-10).f64_mul().f64_sub().local_set(r);
  let fact = 1;
  const coef: number[] = [1];
  for (let k = 1; k <= 13; k++) {
    fact *= k;
    coef.push(1 / fact);
  }
  c.f64_const(coef[13]).local_set(p);
  for (let k = 12; k >= 0; k--) c.local_get(p).local_get(r).f64_mul().f64_const(coef[k]).f64_add().local_set(p);
  // p · 2^n:  bits of 2^n = (n + 1023) << 52
  c.local_get(p);
  c.local_get(n).i64_trunc_sat_f64_s().i64_const(1023).i64_add().i64_const(52).i64_shl().f64_reinterpret_i64();
  c.f64_mul();
  return { locals: L, code: c };
}

/** axpy64(y, a, x, n): y[i] += a·f64(x[i]);  y float64, x float32 */
function axpy64Fn(): { locals: Locals; code: Code } {
  const L = new Locals([['y', I32], ['a', F64], ['x', I32], ['n', I32]]);
  const g = (s: string): number => L.get(s);
  const c = new Code();
  const i = L.add('i', I32), av = L.add('av', V128), vx = L.add('vx', V128), py = L.add('py', I32);
  c.local_get(g('a')).f64x2_splat().local_set(av);
  c.i32_const(0).local_set(i);
  loopWhile(c, () => c.local_get(i).i32_const(4).i32_add().local_get(g('n')).i32_gt_s(), () => {
    c.local_get(g('x')).local_get(i).i32_const(2).i32_shl().i32_add().v128_load().local_set(vx);
    c.local_get(g('y')).local_get(i).i32_const(3).i32_shl().i32_add().local_set(py);
    c.local_get(py).local_get(py).v128_load(0).local_get(vx).f64x2_promote_low_f32x4().local_get(av).f64x2_mul().f64x2_add().v128_store(0);
    c.local_get(py).local_get(py).v128_load(16).local_get(vx).local_get(vx).f32x4_shuffle(2, 3, 2, 3).f64x2_promote_low_f32x4()
      .local_get(av).f64x2_mul().f64x2_add().v128_store(16);
    c.local_get(i).i32_const(4).i32_add().local_set(i);
  });
  loopWhile(c, () => c.local_get(i).local_get(g('n')).i32_ge_s(), () => {
    c.local_get(g('y')).local_get(i).i32_const(3).i32_shl().i32_add().local_tee(py);
    c.local_get(py).f64_load().local_get(g('a'));
    c.local_get(g('x')).local_get(i).i32_const(2).i32_shl().i32_add().f32_load().f64_promote_f32();
    c.f64_mul().f64_add().f64_store();
    c.local_get(i).i32_const(1).i32_add().local_set(i);
  });
  return { locals: L, code: c };
}

/** axpy32(y, a, x, n): y[i] = f32(f64(y[i]) + a·f64(x[i]));  y, x float32 (the reference's `y[i] += a * x[i]`) */
function axpy32Fn(): { locals: Locals; code: Code } {
  const L = new Locals([['y', I32], ['a', F64], ['x', I32], ['n', I32]]);
  const g = (s: string): number => L.get(s);
  const c = new Code();
  const i = L.add('i', I32), av = L.add('av', V128), vx = L.add('vx', V128), vy = L.add('vy', V128), py = L.add('py', I32);
  c.local_get(g('a')).f64x2_splat().local_set(av);
  c.i32_const(0).local_set(i);
  loopWhile(c, () => c.local_get(i).i32_const(4).i32_add().local_get(g('n')).i32_gt_s(), () => {
    c.local_get(g('x')).local_get(i).i32_const(2).i32_shl().i32_add().v128_load().local_set(vx);
    c.local_get(g('y')).local_get(i).i32_const(2).i32_shl().i32_add().local_tee(py).v128_load().local_set(vy);
    c.local_get(py);
    c.local_get(vy).f64x2_promote_low_f32x4().local_get(vx).f64x2_promote_low_f32x4().local_get(av).f64x2_mul().f64x2_add()
      .f32x4_demote_f64x2_zero();
    c.local_get(vy).local_get(vy).f32x4_shuffle(2, 3, 2, 3).f64x2_promote_low_f32x4()
      .local_get(vx).local_get(vx).f32x4_shuffle(2, 3, 2, 3).f64x2_promote_low_f32x4().local_get(av).f64x2_mul().f64x2_add()
      .f32x4_demote_f64x2_zero();
    c.f32x4_shuffle(0, 1, 4, 5).v128_store();
    c.local_get(i).i32_const(4).i32_add().local_set(i);
  });
  loopWhile(c, () => c.local_get(i).local_get(g('n')).i32_ge_s(), () => {
    c.local_get(g('y')).local_get(i).i32_const(2).i32_shl().i32_add().local_tee(py);
    c.local_get(py).f32_load().f64_promote_f32().local_get(g('a'));
    c.local_get(g('x')).local_get(i).i32_const(2).i32_shl().i32_add().f32_load().f64_promote_f32();
    c.f64_mul().f64_add().f32_demote_f64().f32_store();
    c.local_get(i).i32_const(1).i32_add().local_set(i);
  });
  return { locals: L, code: c };
}

interface Helpers { dot: number; exp: number; axpy64: number; axpy32: number }

/** attn_fwd(bh0, bh1, S, pb): the forward rows of heads [bh0, bh1) (FWD block at pb) */
function fwdFn(h: Helpers): { locals: Locals; code: Code } {
  const L = new Locals([['bh0', I32], ['bh1', I32], ['S', I32], ['pb', I32]]);
  const g = (s: string): number => L.get(s);
  const c = new Code();
  const w = Object.fromEntries(Object.keys(FWD).map((k) => [k, L.add(`w_${k}`, I32)])) as Record<keyof typeof FWD, number>;
  const bh = L.add('bh', I32), b = L.add('b', I32), hh = L.add('hh', I32), hs = L.add('hs', I32), t = L.add('t', I32);
  const q = L.add('q', I32), kp = L.add('kp', I32), vp = L.add('vp', I32), ks = L.add('ks', I32), n = L.add('n', I32);
  const mrow = L.add('mrow', I32), s = L.add('s', I32), sc = L.add('sc', I32), acc = L.add('acc', I32), o = L.add('o', I32);
  const arow = L.add('arow', I32), drow = L.add('drow', I32), ptr = L.add('ptr', I32);
  const scale = L.add('scale', F64), mx = L.add('mx', F64), sum = L.add('sum', F64), x = L.add('x', F64);
  for (const [k, i] of Object.entries(FWD)) c.local_get(g('pb')).i32_load(4 * i).local_set(w[k as keyof typeof FWD]);
  c.local_get(g('pb')).f64_load(ATT_SCALE_BYTE).local_set(scale);
  c.local_get(w.C).local_get(w.NH).i32_div_u().local_set(hs);
  c.local_get(g('S')).local_set(acc);
  c.local_get(g('S')).i32_const(ATT_SCORES_BYTE).i32_add().local_set(sc);
  const sAddr = (): void => { c.local_get(sc).local_get(s).i32_const(3).i32_shl().i32_add(); }; // &score[s]
  c.local_get(g('bh0')).local_set(bh);
  loopWhile(c, () => c.local_get(bh).local_get(g('bh1')).i32_ge_s(), () => {
    c.local_get(bh).local_get(w.NH).i32_div_u().local_set(b);
    c.local_get(bh).local_get(w.NH).i32_rem_u().local_set(hh);
    // mask row of batch b (or 0)
    c.local_get(w.mask).local_get(b).local_get(w.maskStride).i32_mul().i32_const(2).i32_shl().i32_add()
      .i32_const(0).local_get(w.mask).select().local_set(mrow);
    c.i32_const(0).local_set(t);
    loopWhile(c, () => c.local_get(t).local_get(w.T).i32_ge_s(), () => {
      // q = qkv + 4·((b·T + t)·3C + h·hs)
      c.local_get(w.qkv).local_get(b).local_get(w.T).i32_mul().local_get(t).i32_add().local_get(w.C).i32_const(3).i32_mul().i32_mul()
        .local_get(hh).local_get(hs).i32_mul().i32_add().i32_const(2).i32_shl().i32_add().local_set(q);
      c.local_get(w.cacheK).if_();
      {
        // keys and values from the cache (B, NH, cap, hs): row s at + 4·hs·s
        c.local_get(bh).local_get(w.cap).i32_mul().local_get(hs).i32_mul().i32_const(2).i32_shl().local_tee(ptr)
          .local_get(w.cacheK).i32_add().local_set(kp);
        c.local_get(ptr).local_get(w.cacheV).i32_add().local_set(vp);
        c.local_get(hs).i32_const(2).i32_shl().local_set(ks);
        c.local_get(w.pos0).local_get(t).i32_add().i32_const(1).i32_add().local_set(n);
      }
      c.else_();
      {
        // keys and values from qkv: k_s = qkv + 4·((b·T + s)·3C + C + h·hs), v_s = k_s + 4C
        c.local_get(w.qkv).local_get(b).local_get(w.T).i32_mul().local_get(w.C).i32_const(3).i32_mul().i32_mul().local_get(w.C).i32_add()
          .local_get(hh).local_get(hs).i32_mul().i32_add().i32_const(2).i32_shl().i32_add().local_set(kp);
        c.local_get(kp).local_get(w.C).i32_const(2).i32_shl().i32_add().local_set(vp);
        c.local_get(w.C).i32_const(12).i32_mul().local_set(ks);
        c.local_get(t).i32_const(1).i32_add().local_set(n);
      }
      c.end();
      // scores, and the max over unmasked keys
      c.f64_const(-Infinity).local_set(mx);
      c.i32_const(0).local_set(s);
      loopWhile(c, () => c.local_get(s).local_get(n).i32_ge_s(), () => {
        c.local_get(mrow).if_();
        c.local_get(mrow).local_get(s).i32_const(2).i32_shl().i32_add().i32_load().i32_eqz().if_();
        sAddr();
        c.f64_const(-Infinity).f64_store();
        c.local_get(s).i32_const(1).i32_add().local_set(s);
        c.br(2); // next s (the loop label is 2 out: if, if, loop)
        c.end().end();
        c.local_get(q).local_get(kp).local_get(s).local_get(ks).i32_mul().i32_add().local_get(hs).call(h.dot).local_get(scale).f64_mul().local_set(x);
        sAddr();
        c.local_get(x).f64_store();
        c.local_get(x).local_get(mx).f64_gt().if_();
        c.local_get(x).local_set(mx);
        c.end();
        c.local_get(s).i32_const(1).i32_add().local_set(s);
      });
      // softmax in float64 (every key masked: 1/n each)
      c.local_get(mx).f64_const(-Infinity).f64_eq().if_();
      {
        c.i32_const(0).local_set(s);
        loopWhile(c, () => c.local_get(s).local_get(n).i32_ge_s(), () => {
          sAddr();
          c.f64_const(1).local_get(n).f64_convert_i32_s().f64_div().f64_store();
          c.local_get(s).i32_const(1).i32_add().local_set(s);
        });
      }
      c.else_();
      {
        c.f64_const(0).local_set(sum);
        c.i32_const(0).local_set(s);
        loopWhile(c, () => c.local_get(s).local_get(n).i32_ge_s(), () => {
          sAddr();
          sAddr();
          c.f64_load().local_get(mx).f64_sub().call(h.exp).local_tee(x).f64_store();
          c.local_get(sum).local_get(x).f64_add().local_set(sum);
          c.local_get(s).i32_const(1).i32_add().local_set(s);
        });
        c.f64_const(1).local_get(sum).f64_div().local_set(sum);
        c.i32_const(0).local_set(s);
        loopWhile(c, () => c.local_get(s).local_get(n).i32_ge_s(), () => {
          sAddr();
          sAddr();
          c.f64_load().local_get(sum).f64_mul().f64_store();
          c.local_get(s).i32_const(1).i32_add().local_set(s);
        });
      }
      c.end();
      // att row (if kept): p for s < n, zero up to T;  drop row
      c.local_get(bh).local_get(w.T).i32_mul().local_get(t).i32_add().local_get(w.T).i32_mul().i32_const(2).i32_shl().local_tee(ptr);
      c.local_get(w.att).i32_add().local_set(arow);
      c.local_get(ptr).local_get(w.drop).i32_add().local_set(drow);
      // out_t = f32(Σ_s p_s·drop_s·v_s), summed in float64
      c.i32_const(0).local_set(s);
      loopWhile(c, () => c.local_get(s).local_get(hs).i32_ge_s(), () => {
        c.local_get(acc).local_get(s).i32_const(3).i32_shl().i32_add().f64_const(0).f64_store();
        c.local_get(s).i32_const(1).i32_add().local_set(s);
      });
      c.i32_const(0).local_set(s);
      loopWhile(c, () => c.local_get(s).local_get(n).i32_ge_s(), () => {
        sAddr();
        c.f64_load().local_set(x);
        c.local_get(w.att).if_();
        c.local_get(arow).local_get(s).i32_const(2).i32_shl().i32_add().local_get(x).f32_demote_f64().f32_store();
        c.end();
        c.local_get(w.drop).if_();
        c.local_get(x).local_get(drow).local_get(s).i32_const(2).i32_shl().i32_add().f32_load().f64_promote_f32().f64_mul().local_set(x);
        c.end();
        c.local_get(acc).local_get(x).local_get(vp).local_get(s).local_get(ks).i32_mul().i32_add().local_get(hs).call(h.axpy64);
        c.local_get(s).i32_const(1).i32_add().local_set(s);
      });
      c.local_get(w.att).if_();
      loopWhile(c, () => c.local_get(s).local_get(w.T).i32_ge_s(), () => {
        c.local_get(arow).local_get(s).i32_const(2).i32_shl().i32_add().f32_const(0).f32_store();
        c.local_get(s).i32_const(1).i32_add().local_set(s);
      });
      c.end();
      // o = out + 4·((b·T + t)·C + h·hs)
      c.local_get(w.out).local_get(b).local_get(w.T).i32_mul().local_get(t).i32_add().local_get(w.C).i32_mul()
        .local_get(hh).local_get(hs).i32_mul().i32_add().i32_const(2).i32_shl().i32_add().local_set(o);
      c.i32_const(0).local_set(s);
      loopWhile(c, () => c.local_get(s).local_get(hs).i32_ge_s(), () => {
        c.local_get(o).local_get(s).i32_const(2).i32_shl().i32_add();
        c.local_get(acc).local_get(s).i32_const(3).i32_shl().i32_add().f64_load().f32_demote_f64().f32_store();
        c.local_get(s).i32_const(1).i32_add().local_set(s);
      });
      c.local_get(t).i32_const(1).i32_add().local_set(t);
    });
    c.local_get(bh).i32_const(1).i32_add().local_set(bh);
  });
  return { locals: L, code: c };
}

/** attn_bwd(bh0, bh1, S, pb): dqkv += the attention gradient of heads [bh0, bh1) (BWD block at pb) */
function bwdFn(h: Helpers): { locals: Locals; code: Code } {
  const L = new Locals([['bh0', I32], ['bh1', I32], ['S', I32], ['pb', I32]]);
  const g = (s: string): number => L.get(s);
  const c = new Code();
  const w = Object.fromEntries(Object.keys(BWD).map((k) => [k, L.add(`w_${k}`, I32)])) as Record<keyof typeof BWD, number>;
  const bh = L.add('bh', I32), b = L.add('b', I32), hh = L.add('hh', I32), hs = L.add('hs', I32), t = L.add('t', I32);
  const q = L.add('q', I32), kp = L.add('kp', I32), vp = L.add('vp', I32), dkp = L.add('dkp', I32), dvp = L.add('dvp', I32);
  const ks = L.add('ks', I32), mrow = L.add('mrow', I32), s = L.add('s', I32), dp = L.add('dp', I32), dq = L.add('dq', I32);
  const o = L.add('o', I32), arow = L.add('arow', I32), drow = L.add('drow', I32), ptr = L.add('ptr', I32), C3 = L.add('C3', I32);
  const ok = L.add('ok', I32);
  const scale = L.add('scale', F64), sum = L.add('sum', F64), keep = L.add('keep', F64), a = L.add('a', F64), x = L.add('x', F64);
  for (const [k, i] of Object.entries(BWD)) c.local_get(g('pb')).i32_load(4 * i).local_set(w[k as keyof typeof BWD]);
  c.local_get(g('pb')).f64_load(ATT_SCALE_BYTE).local_set(scale);
  c.local_get(w.C).local_get(w.NH).i32_div_u().local_set(hs);
  c.local_get(w.C).i32_const(3).i32_mul().local_set(C3);
  c.local_get(w.C).i32_const(12).i32_mul().local_set(ks);
  c.local_get(g('S')).local_set(dq);
  c.local_get(g('S')).i32_const(ATT_SCORES_BYTE).i32_add().local_set(dp);
  const f32At = (base: number): void => { c.local_get(base).local_get(s).i32_const(2).i32_shl().i32_add().f32_load().f64_promote_f32(); };
  const dpAddr = (): void => { c.local_get(dp).local_get(s).i32_const(3).i32_shl().i32_add(); };
  c.local_get(g('bh0')).local_set(bh);
  loopWhile(c, () => c.local_get(bh).local_get(g('bh1')).i32_ge_s(), () => {
    c.local_get(bh).local_get(w.NH).i32_div_u().local_set(b);
    c.local_get(bh).local_get(w.NH).i32_rem_u().local_set(hh);
    c.local_get(w.mask).local_get(b).local_get(w.maskStride).i32_mul().i32_const(2).i32_shl().i32_add()
      .i32_const(0).local_get(w.mask).select().local_set(mrow);
    // byte offset of (b·T)·3C + C + h·hs: k_0 in qkv (and dk_0 in dqkv); v_0 = k_0 + 4C
    c.local_get(b).local_get(w.T).i32_mul().local_get(C3).i32_mul().local_get(w.C).i32_add().local_get(hh).local_get(hs).i32_mul().i32_add()
      .i32_const(2).i32_shl().local_set(ptr);
    c.local_get(ptr).local_get(w.qkv).i32_add().local_set(kp);
    c.local_get(ptr).local_get(w.dqkv).i32_add().local_set(dkp);
    c.local_get(kp).local_get(w.C).i32_const(2).i32_shl().i32_add().local_set(vp);
    c.local_get(dkp).local_get(w.C).i32_const(2).i32_shl().i32_add().local_set(dvp);
    c.i32_const(0).local_set(t);
    loopWhile(c, () => c.local_get(t).local_get(w.T).i32_ge_s(), () => {
      c.local_get(bh).local_get(w.T).i32_mul().local_get(t).i32_add().local_get(w.T).i32_mul().i32_const(2).i32_shl().local_tee(ptr);
      c.local_get(w.att).i32_add().local_set(arow);
      c.local_get(ptr).local_get(w.drop).i32_add().local_set(drow);
      // o = dout + 4·((b·T + t)·C + h·hs);  q = 4·((b·T + t)·3C + h·hs) (offset in qkv and dqkv)
      c.local_get(w.dout).local_get(b).local_get(w.T).i32_mul().local_get(t).i32_add().local_get(w.C).i32_mul()
        .local_get(hh).local_get(hs).i32_mul().i32_add().i32_const(2).i32_shl().i32_add().local_set(o);
      c.local_get(b).local_get(w.T).i32_mul().local_get(t).i32_add().local_get(C3).i32_mul()
        .local_get(hh).local_get(hs).i32_mul().i32_add().i32_const(2).i32_shl().local_set(q);
      // out_t = Σ_s P'[s]·v_s:  dv_s += P'[s]·dout_t;  dP[s] = (dout_t·v_s)·keep;  sum = Σ att·dP
      c.f64_const(0).local_set(sum);
      c.i32_const(0).local_set(s);
      loopWhile(c, () => c.local_get(s).local_get(t).i32_gt_s(), () => {
        c.f64_const(1).local_set(keep);
        c.local_get(w.drop).if_();
        f32At(drow);
        c.local_set(keep);
        c.end();
        f32At(arow);
        c.local_set(a);
        c.local_get(o).local_get(vp).local_get(s).local_get(ks).i32_mul().i32_add().local_get(hs).call(h.dot).local_set(x);
        c.local_get(dvp).local_get(s).local_get(ks).i32_mul().i32_add().local_get(a).local_get(keep).f64_mul().local_get(o).local_get(hs).call(h.axpy32);
        dpAddr();
        c.local_get(x).local_get(keep).f64_mul().local_tee(x).f64_store();
        c.local_get(sum).local_get(a).local_get(x).f64_mul().f64_add().local_set(sum);
        c.local_get(s).i32_const(1).i32_add().local_set(s);
      });
      // softmax backward, through score = scale·q·k:  dq += ds·k_s (float64);  dk_s += ds·q_t
      c.i32_const(0).local_set(s);
      loopWhile(c, () => c.local_get(s).local_get(hs).i32_ge_s(), () => {
        c.local_get(dq).local_get(s).i32_const(3).i32_shl().i32_add().f64_const(0).f64_store();
        c.local_get(s).i32_const(1).i32_add().local_set(s);
      });
      c.i32_const(0).local_set(s);
      loopWhile(c, () => c.local_get(s).local_get(t).i32_gt_s(), () => {
        // masked keys are constants (−∞ scores): no score gradient
        c.i32_const(1).local_set(ok);
        c.local_get(mrow).if_();
        c.local_get(mrow).local_get(s).i32_const(2).i32_shl().i32_add().i32_load().local_set(ok);
        c.end();
        c.local_get(ok).if_();
        f32At(arow);
        dpAddr();
        c.f64_load().local_get(sum).f64_sub().f64_mul().local_get(scale).f64_mul().local_set(x);
        c.local_get(dq).local_get(x).local_get(kp).local_get(s).local_get(ks).i32_mul().i32_add().local_get(hs).call(h.axpy64);
        c.local_get(dkp).local_get(s).local_get(ks).i32_mul().i32_add().local_get(x).local_get(w.qkv).local_get(q).i32_add().local_get(hs).call(h.axpy32);
        c.end();
        c.local_get(s).i32_const(1).i32_add().local_set(s);
      });
      // dq_t = f32(dq_t + Σ) (the sum added once)
      c.local_get(w.dqkv).local_get(q).i32_add().local_set(q);
      c.i32_const(0).local_set(s);
      loopWhile(c, () => c.local_get(s).local_get(hs).i32_ge_s(), () => {
        c.local_get(q).local_get(s).i32_const(2).i32_shl().i32_add().local_tee(ptr);
        c.local_get(ptr).f32_load().f64_promote_f32().local_get(dq).local_get(s).i32_const(3).i32_shl().i32_add().f64_load().f64_add()
          .f32_demote_f64().f32_store();
        c.local_get(s).i32_const(1).i32_add().local_set(s);
      });
      c.local_get(t).i32_const(1).i32_add().local_set(t);
    });
    c.local_get(bh).i32_const(1).i32_add().local_set(bh);
  });
  return { locals: L, code: c };
}

/** Add the helpers and the two drivers, exported as attn_fwd and attn_bwd. */
export function addAttention(mb: ModuleBuilder): void {
  const def = (name: string, f: { locals: Locals; code: Code }, results: (typeof F64)[], exported = false): number => {
    const idx = mb.declare(name, f.locals.params, results, exported);
    mb.define(idx, f.locals.locals, f.code);
    return idx;
  };
  const h: Helpers = {
    dot: def('attn_dot', dotFn(), [F64]),
    exp: def('attn_exp', expFn(), [F64]),
    axpy64: def('attn_axpy64', axpy64Fn(), []),
    axpy32: def('attn_axpy32', axpy32Fn(), []),
  };
  def('attn_fwd', fwdFn(h), [], true);
  def('attn_bwd', bwdFn(h), [], true);
}
