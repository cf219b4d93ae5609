// bfloat16 weights for the CPU backend (`new CpuBackend({ weights: 'bf16' })`): decoding is
// memory-bound (every weight is read once per token), so reading 2 bytes per weight instead of 4
// nearly halves a token's time. At upload the flat float32 parameters get a bfloat16 mirror of
// the same layout (element i ↔ element i); a matmul whose weight is a view of the parameters
// reads the mirror instead, widened to float32 in registers (exact), with float32 activations and
// sums. Biases, LayerNorm and the embedding lookup keep float32; the backward keeps float32 weights.
// Memory: the mirror is half the parameters' size, held beside them.
//
// Rounding float32 → bfloat16: to nearest, ties to even (as torch.Tensor.to(torch.bfloat16));
// NaN stays NaN (quiet), ±Inf stays ±Inf.

import type { WasmHeap } from '../wasm/heap.ts';

/** dst[i] = bfloat16 bits of src[i], round to nearest even */
export function toBf16(dst: Uint16Array, src: Float32Array): void {
  const u = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < u.length; i++) {
    const b = u[i];
    if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) dst[i] = (b >>> 16) | 0x40; // NaN → quiet NaN
    else dst[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
}

/** float32 value of bfloat16 bits (for tests and references) */
export function fromBf16(h: number): number {
  const f = new Float32Array(1);
  new Uint32Array(f.buffer)[0] = h << 16;
  return f[0];
}

interface Mirror {
  /** byte range of the float32 parameters in the heap */
  start: number;
  end: number;
  /** the bfloat16 copy (kept alive here) */
  bf16: Uint16Array;
}

export class Bf16Weights {
  private readonly mirrors: Mirror[] = [];

  constructor(private readonly heap: WasmHeap) {}

  /** Make (once) the bfloat16 mirror of `params`, a float32 array in the heap. */
  add(params: Float32Array): void {
    if (this.mirrors.some((m) => m.start === params.byteOffset && m.end === params.byteOffset + params.byteLength)) return;
    const f = this.heap.allocF32(Math.ceil(params.length / 2));
    if (!f) throw new Error('gpt2ts: no room in the wasm heap for bfloat16 weights');
    const bf16 = new Uint16Array(f.buffer, f.byteOffset, params.length);
    toBf16(bf16, params);
    this.mirrors.push({ start: params.byteOffset, end: params.byteOffset + params.byteLength, bf16 });
  }

  /** The byte address of w's bfloat16 copy, or -1 when w is not a view of mirrored parameters. */
  address(w: Float32Array): number {
    if (!this.heap.contains(w)) return -1;
    const p = w.byteOffset;
    for (const m of this.mirrors) {
      if (p >= m.start && p + w.byteLength <= m.end) return m.bf16.byteOffset + (p - m.start) / 2;
    }
    return -1;
  }
}
