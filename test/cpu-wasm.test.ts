// The WebAssembly side: the bytecode emitter, the generated kernel module (deterministic bytes,
// valid with and without relaxed SIMD), feature detection, and the heap allocator.

import { describe, expect, it } from 'vitest';
import { wasmApi } from '../src/wasm/api.ts';
import { Code, F32, I32, ModuleBuilder, sleb, uleb } from '../src/wasm/emit.ts';
import { wasmFeatures } from '../src/wasm/features.ts';
import { WasmHeap } from '../src/wasm/heap.ts';
import { TN_KC, TN_NC, TN_SCRATCH_BYTES } from '../src/wasm/gemm-tn.ts';
import { buildKernelModule, defaultKernelOptions, type Kernels } from '../src/wasm/kernels.ts';

const wa = wasmApi();

describe('emitter', () => {
  it('LEB128 encodings match the spec examples', () => {
    const u = (v: number): number[] => { const o: number[] = []; uleb(o, v); return o; };
    const s = (v: number): number[] => { const o: number[] = []; sleb(o, v); return o; };
    expect(u(0)).toEqual([0]);
    expect(u(127)).toEqual([0x7f]);
    expect(u(128)).toEqual([0x80, 0x01]);
    expect(u(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(u(2 ** 32 - 1)).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
    expect(s(0)).toEqual([0]);
    expect(s(-1)).toEqual([0x7f]);
    expect(s(63)).toEqual([0x3f]);
    expect(s(64)).toEqual([0xc0, 0x00]);
    expect(s(-123456)).toEqual([0xc0, 0xbb, 0x78]);
    expect(s(2 ** 31 - 1)).toEqual([0xff, 0xff, 0xff, 0xff, 0x07]);
    expect(s(-(2 ** 31))).toEqual([0x80, 0x80, 0x80, 0x80, 0x78]);
  });

  it('builds a module that runs: f(x, y) = x·y + 1.5 in f32, and i32 arithmetic', () => {
    const mb = new ModuleBuilder();
    const f = mb.declare('f', [F32, F32], [F32], true);
    mb.define(f, [], new Code().local_get(0).local_get(1).f32_mul().f32_const(1.5).f32_add());
    const g = mb.declare('g', [I32], [I32], true);
    mb.define(g, [I32], new Code().local_get(0).i32_const(-7).i32_mul().local_tee(1).local_get(1).i32_add());
    const bytes = mb.emit({ min: 1, max: 1, shared: false });
    expect(wa?.validate(bytes)).toBe(true);
    if (!wa) return;
    const inst = new wa.Instance(new wa.Module(bytes), { env: { memory: new wa.Memory({ initial: 1, maximum: 1 }) } });
    const ex = inst.exports as { f(a: number, b: number): number; g(a: number): number };
    expect(ex.f(3, 0.5)).toBe(3);
    expect(ex.g(5)).toBe(-70);
  });
});

describe('kernel module', () => {
  it('is deterministic: the same options give the same bytes', () => {
    const o = defaultKernelOptions(true);
    const a = buildKernelModule(o), b = buildKernelModule(o);
    expect(a.length).toBeGreaterThan(1000);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });

  it('validates in both forms: mul+add everywhere, relaxed FMA where the runtime has it', () => {
    const base = defaultKernelOptions(true);
    expect(wa?.validate(buildKernelModule({ ...base, fma: false }))).toBe(true);
    expect(wa?.validate(buildKernelModule({ ...base, fma: true }))).toBe(wasmFeatures().relaxedSimd);
    expect(wa?.validate(buildKernelModule({ ...base, fma: false, shared: false }))).toBe(true);
  });

  it('feature detection reports booleans, and SIMD on this runtime', () => {
    const f = wasmFeatures();
    expect(typeof f.relaxedSimd).toBe('boolean');
    expect(f.simd).toBe(true);
  });
});

describe('gemm_tn (the weight-gradient GEMM) in every tile form', () => {
  // The backend runs one form (6 × 8 with relaxed FMA, 4 × 8 with mul + add); each is checked
  // here on its own module, against a float64 sum, with matmul backward's float32 bound
  // |got − ref| ≤ 8·eps32·(|ref| + Σ_p |a·b|) (test/cpu-matmul.test.ts), on shapes with edge tiles,
  // several p blocks (P > KC), column blocks (J > NC) and a row range starting inside a tile.
  const forms = [[4, false], [6, false], [4, true], [6, true], [5, true]] as const;
  for (const [MR, fma] of forms) {
    it(`${MR} × 8, ${fma ? 'relaxed FMA' : 'mul + add'}`, () => {
      if (!wa || (fma && !wasmFeatures().relaxedSimd)) return;
      const heap = new WasmHeap(false);
      const o = { ...defaultKernelOptions(false), fma, tn: { MR } };
      const inst = new wa.Instance(new wa.Module(buildKernelModule(o)), { env: { memory: heap.memory } });
      const k = inst.exports as unknown as Kernels;
      const S = heap.allocF32(TN_SCRATCH_BYTES / 4);
      if (!S) throw new Error('no scratch');
      let x = 12345;
      const rnd = (): number => { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; return x / 2 ** 31 - 1; };
      for (const [I, J, P, i0, i1] of [[1, 1, 1, 0, 1], [7, 13, 5, 0, 7], [33, 29, TN_KC + 3, 2, 31], [50, TN_NC + 9, 70, 0, 50], [13, 8, 2 * TN_KC + 1, 5, 13]]) {
        const a = heap.allocF32(P * I), b = heap.allocF32(P * J), c = heap.allocF32(I * J);
        if (!a || !b || !c) throw new Error('no room');
        for (const v of [a, b, c]) for (let i = 0; i < v.length; i++) v[i] = rnd();
        const c0 = c.slice();
        k.gemm_tn(a.byteOffset, I, b.byteOffset, J, c.byteOffset, J, J, P, i0, i1, S.byteOffset);
        for (let i = 0; i < I; i++) {
          for (let j = 0; j < J; j++) {
            let ref = c0[i * J + j], sAbs = 0;
            if (i >= i0 && i < i1) {
              for (let p = 0; p < P; p++) { ref += a[p * I + i] * b[p * J + j]; sAbs += Math.abs(a[p * I + i] * b[p * J + j]); }
            }
            const got = c[i * J + j];
            const tol = 8 * 2 ** -23 * (Math.abs(ref) + sAbs);
            if (!(Math.abs(got - ref) <= tol)) {
              throw new Error(`I=${I} J=${J} P=${P} rows [${i0}, ${i1}): C[${i}, ${j}] = ${got}, want ${ref} (±${tol})`);
            }
          }
        }
        for (const v of [a, b, c]) heap.freeArray(v);
      }
    });
  }
});

describe('heap', () => {
  it('allocates 64-byte aligned, zero-filled arrays, and reuses freed blocks zeroed', () => {
    const h = new WasmHeap(true, 1);
    const a = h.allocF32(10);
    const b = h.allocF32(1000);
    expect(a && b).toBeTruthy();
    if (!a || !b) return;
    expect(a.byteOffset % 64).toBe(0);
    expect(b.byteOffset % 64).toBe(0);
    expect(b.byteOffset).toBeGreaterThanOrEqual(a.byteOffset + 40 + 64); // slack after each block
    a.fill(7);
    h.freeArray(a);
    const c = h.allocF32(10);
    expect(c?.byteOffset).toBe(a.byteOffset);
    expect(Array.from(c ?? [])).toEqual(new Array(10).fill(0));
  });

  it('grows, and arrays from before the growth stay valid and recognised', () => {
    const h = new WasmHeap(true, 1);
    const a = h.allocF32(100);
    a?.fill(3);
    const big = h.allocF32(1 << 20); // 4 MiB: forces growth
    expect(big?.length).toBe(1 << 20);
    expect(a && h.contains(a)).toBe(true);
    expect(a?.[99]).toBe(3);
    expect(big && h.contains(big.subarray(5, 9))).toBe(true);
    expect(h.contains(new Float32Array(4))).toBe(false);
  });

  it('coalesces freed neighbours and returns a freed top to the unallocated region', () => {
    const h = new WasmHeap(true, 1);
    const before = h.used;
    const xs = [h.allocF32(100), h.allocF32(200), h.allocF32(300)];
    for (const x of xs) if (x) h.freeArray(x);
    expect(h.used).toBe(before);
    const again = h.allocF32(600);
    expect(again?.byteOffset).toBe(xs[0]?.byteOffset);
  });

  it('ignores a free of a partial view (only whole arrays are freed)', () => {
    const h = new WasmHeap(true, 1);
    const a = h.allocF32(64);
    if (!a) return;
    const used = h.used;
    h.freeArray(a.subarray(0, 8));
    expect(h.used).toBe(used);
    h.freeArray(a);
    expect(h.used).toBe(used - 64 * 4 - 64);
  });

  it('a plain (unshared) heap never grows: what does not fit is refused', () => {
    const h = new WasmHeap(false);
    const a = h.allocF32(1000);
    expect(a).toBeTruthy();
    expect(h.allocF32(2 ** 29)).toBeNull(); // 2 GiB > the 1 GiB reserve
    expect(a?.length).toBe(1000); // not detached
  });
});
