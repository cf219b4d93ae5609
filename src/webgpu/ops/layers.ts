// Binders for the row-wise and elementwise layers: encoder_forward.wgsl, layernorm_forward.wgsl,
// gelu_forward.wgsl, residual_forward.wgsl, softmax_forward.wgsl, argmax.wgsl. Each stages operands
// that cannot be bound directly, splits tensors larger than one binding into row chunks (split.ts),
// and dispatches one kernel per chunk.

import type { GpuBuf, GpuIntBuf } from '../buffers.ts';
import { f32, type Runtime } from '../runtime.ts';
import { planRows } from '../split.ts';

const WG = 256;

/** out (B·T, C) = wte[ids] + wpe[pos0 + t]; wte (V, C) split into row chunks when large. */
export function encoderForward(rt: Runtime, out: GpuBuf, ids: GpuIntBuf, wte: GpuBuf, wpe: GpuBuf,
  B: number, T: number, C: number, pos0: number): void {
  const BT = B * T;
  if (BT === 0) return;
  const V = Math.floor(wte.length / C);
  const { bufs, unstage } = rt.stageOperands<GpuBuf | GpuIntBuf>([
    { buf: out, mode: 'out' }, { buf: ids, mode: 'in' }, { buf: wte, mode: 'in' }, { buf: wpe, mode: 'in' },
  ]);
  const [o, id, e, p] = bufs as [GpuBuf, GpuIntBuf, GpuBuf, GpuBuf];
  const pe = rt.bind(p); // all of wpe, so the binding (and its cached bind group) is the same at every pos0
  for (const [r0, rc] of planRows(BT, [C, 1], rt.maxBinding)) {
    for (const [v0, vc] of planRows(V, [C], rt.maxBinding)) {
      // Params: BT, first_row, T, C, pos0, row0, nrows
      rt.dispatch('encoder', { WG }, [rc, r0, T, C, pos0, v0, vc],
        [rt.bind(o, r0 * C, rc * C), rt.bind(id, r0, rc), rt.bind(e, v0 * C, vc * C), pe],
        rt.grid(Math.ceil((rc * C) / WG)));
    }
  }
  unstage();
}

/** out (N, C) = LayerNorm(inp); mean, rstd (N) written when given. */
export function layernormForward(rt: Runtime, out: GpuBuf, mean: GpuBuf | null, rstd: GpuBuf | null, inp: GpuBuf,
  w: GpuBuf, b: GpuBuf, N: number, C: number, eps: number): void {
  if (N === 0) return;
  const { bufs, unstage } = rt.stageOperands([
    { buf: out, mode: 'out' }, { buf: inp, mode: 'in' }, { buf: w, mode: 'in' }, { buf: b, mode: 'in' },
    { buf: mean, mode: 'out' }, { buf: rstd, mode: 'out' },
  ]);
  const [o, x, wv, bv, mv, rv] = bufs;
  const stats = mv !== null && rv !== null;
  for (const [r0, rc] of planRows(N, [C, 1], rt.maxBinding)) {
    // Params: N, C, has_stats, eps
    rt.dispatch('layernorm', { WG }, [rc, C, stats ? 1 : 0, f32(eps)], [
      rt.bind(o!, r0 * C, rc * C), rt.bind(x!, r0 * C, rc * C), rt.bind(wv!, 0, C), rt.bind(bv!, 0, C),
      stats ? rt.bind(mv, r0, rc) : rt.none(4), stats ? rt.bind(rv, r0, rc) : rt.none(5),
    ], rt.grid(rc));
  }
  unstage();
}

/** out = gelu_new(inp), or out = a + b: n elements, chunked when larger than one binding. */
export function elementwise(rt: Runtime, kernel: 'gelu' | 'residual', out: GpuBuf, ins: readonly GpuBuf[], n: number): void {
  if (n === 0) return;
  const { bufs, unstage } = rt.stageOperands([{ buf: out, mode: 'out' }, ...ins.map((buf) => ({ buf, mode: 'in' as const }))]);
  for (const [e0, ec] of planRows(n, [1], rt.maxBinding)) {
    rt.dispatch(kernel, { WG }, [ec], bufs.map((buf) => rt.bind(buf!, e0, ec)), rt.grid(Math.ceil(ec / WG)));
  }
  unstage();
}

/** probs (rows, V) = softmax(logits) per row. */
export function softmaxForward(rt: Runtime, probs: GpuBuf, logits: GpuBuf, rows: number, V: number): void {
  if (rows === 0) return;
  const { bufs, unstage } = rt.stageOperands([{ buf: probs, mode: 'out' }, { buf: logits, mode: 'in' }]);
  const [pr, lg] = bufs as [GpuBuf, GpuBuf];
  for (const [r0, rc] of planRows(rows, [V], rt.maxBinding)) {
    rt.dispatch('softmax', { WG }, [rc, V], [rt.bind(pr, r0 * V, rc * V), rt.bind(lg, r0 * V, rc * V)], rt.grid(rc));
  }
  unstage();
}

/** out (rows) = index of the first maximum of each row of logits (rows, V). */
export function argmax(rt: Runtime, out: GpuIntBuf, logits: GpuBuf, rows: number, V: number, wg = WG): void {
  if (rows === 0) return;
  const { bufs, unstage } = rt.stageOperands<GpuBuf | GpuIntBuf>([{ buf: out, mode: 'out' }, { buf: logits, mode: 'in' }]);
  const [o, lg] = bufs as [GpuIntBuf, GpuBuf];
  for (const [r0, rc] of planRows(rows, [V, 1], rt.maxBinding)) {
    rt.dispatch('argmax', { WG: wg }, [rc, V], [rt.bind(o, r0, rc), rt.bind(lg, r0 * V, rc * V)], rt.grid(rc));
  }
  unstage();
}
