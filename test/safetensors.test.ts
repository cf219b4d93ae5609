// safetensors reader/writer: fixtures, half-precision converters, round trips, writer errors, atomicity.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  DTYPES, DTYPE_SIZE, SafetensorsError, SafetensorsFile, bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits,
  serializeSafetensors, writeSafetensors, type DType, type TensorToWrite, type TypedArray,
} from '../src/io/safetensors.ts';

// Every fs.writeSync of the writer goes through this hook, so a test can fail or sabotage a write midway.
const hook = vi.hoisted(() => ({ beforeWrite: undefined as undefined | ((call: number) => void), calls: 0 }));
vi.mock('node:fs', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs')>();
  const writeSync = (fd: number, buf: Uint8Array, off: number, len: number): number => {
    hook.beforeWrite?.(hook.calls++);
    return real.writeSync(fd, buf, off, len);
  };
  return { ...real, writeSync, default: { ...real, writeSync } };
});

const FIX = join(import.meta.dirname, 'fixtures/gpt2-tiny');
const MODELS = ['model', 'model.f16', 'model.bf16', 'model.with-attn-bias'];
const cfg = JSON.parse(readFileSync(join(FIX, 'config.json'), 'utf8')) as { vocab_size: number; n_positions: number; n_embd: number; n_layer: number };
const tmp = mkdtempSync(join(tmpdir(), 'gpt2ts-st-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const u32 = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
const bytes = (a: TypedArray) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const f32 = (bits: number) => new Float32Array(new Uint32Array([bits]).buffer)[0];
/** byte equality of two arrays (fast on millions of elements); reports the first differing byte */
function expectSameBytes(a: TypedArray, b: TypedArray): void {
  const x = Buffer.from(bytes(a));
  const y = Buffer.from(bytes(b));
  if (x.equals(y)) return;
  let i = 0;
  while (i < x.length && x[i] === y[i]) i++;
  expect({ lengths: [x.length, y.length], firstDiff: i }).toEqual({ lengths: [y.length, y.length], firstDiff: -1 });
}

describe('fixtures', () => {
  it.each(MODELS)('%s: open() and fromBytes() agree, shapes follow config.json', (m) => {
    const path = join(FIX, `${m}.safetensors`);
    const a = SafetensorsFile.open(path);
    const b = SafetensorsFile.fromBytes(readFileSync(path), path);
    expect(a.metadata).toEqual({ format: 'pt' });
    expect(a.names()).toEqual(b.names());
    // names() is sorted by data offset and the offsets tile the data section
    let pos = 0;
    for (const n of a.names()) {
      expect(a.info(n).dataOffsets[0]).toBe(pos);
      pos = a.info(n).dataOffsets[1];
      expectSameBytes(a.read(n), b.read(n));
    }
    const { vocab_size: V, n_positions: P, n_embd: C, n_layer: L } = cfg;
    expect(a.info('wte.weight').shape).toEqual([V, C]);
    expect(a.info('wpe.weight').shape).toEqual([P, C]);
    expect(a.info(`h.${L - 1}.mlp.c_fc.weight`).shape).toEqual([C, 4 * C]);
    expect(a.names().length).toBe(4 + 12 * L + (m.endsWith('attn-bias') ? L : 0));
    a.close();
    a.close(); // idempotent
  });

  it('with-attn-bias: the extra buffers are lower-triangular ones', () => {
    const st = SafetensorsFile.open(join(FIX, 'model.with-attn-bias.safetensors'));
    const P = cfg.n_positions;
    expect(st.info('h.0.attn.bias').shape).toEqual([1, 1, P, P]);
    const m = st.readF32('h.1.attn.bias');
    for (let i = 0; i < P; i++) for (let j = 0; j < P; j++) expect(m[i * P + j]).toBe(j <= i ? 1 : 0);
    st.close();
  });

  it('expected.safetensors: I64 token tensors, F32 scalars, integer readF32 refused', () => {
    const exp = JSON.parse(readFileSync(join(FIX, 'expected.json'), 'utf8')) as { loss: number; generate: { prompt: number[]; new_tokens: number[] } };
    const st = SafetensorsFile.open(join(FIX, 'expected.safetensors'));
    const tokens = st.read('generate.tokens');
    expect(st.info('generate.tokens')).toMatchObject({ dtype: 'I64', shape: [1, exp.generate.new_tokens.length] });
    expect(tokens).toBeInstanceOf(BigInt64Array);
    expect([...(tokens as BigInt64Array)].map(Number)).toEqual(exp.generate.new_tokens);
    expect([...(st.read('generate.prompt') as BigInt64Array)].map(Number)).toEqual(exp.generate.prompt);
    expect(st.info('loss').shape).toEqual([1]);
    expect(st.readF32('loss')[0]).toBe(Math.fround(exp.loss));
    expect(() => st.readF32('generate.tokens')).toThrow(/"generate\.tokens" is I64, not a float dtype/);
    expect(() => st.info('nope')).toThrow(/expected\.safetensors: no tensor "nope" \(has /);
    st.close();
    expect(() => st.read('loss')).toThrow(/file is closed/);
  });

  it('F16 and BF16 files are the F32 weights rounded to nearest even (bit-exact vs numpy/the oracle)', () => {
    const f = SafetensorsFile.open(join(FIX, 'model.safetensors'));
    const h = SafetensorsFile.open(join(FIX, 'model.f16.safetensors'));
    const b = SafetensorsFile.open(join(FIX, 'model.bf16.safetensors'));
    for (const n of f.names()) {
      const w = f.readF32(n);
      expect(h.info(n).dtype).toBe('F16');
      expect(b.info(n).dtype).toBe('BF16');
      expectSameBytes(f32ToF16Bits(w), h.read(n));
      expectSameBytes(f32ToBf16Bits(w), b.read(n));
    }
    for (const s of [f, h, b]) s.close();
  });

  it('F16 subnormals (~0.3% of weights) are present and decode to their exact value mant * 2^-24', () => {
    const h = SafetensorsFile.open(join(FIX, 'model.f16.safetensors'));
    const inMemory = SafetensorsFile.fromBytes(readFileSync(join(FIX, 'model.f16.safetensors')), 'f16');
    let total = 0;
    let sub = 0;
    for (const n of h.names()) {
      const bits = h.read(n) as Uint16Array;
      const up = h.readF32(n);
      const viaBytes = new Float32Array(bits.length);
      inMemory.readF32Into(n, viaBytes); // the aligned zero-copy conversion path
      expectSameBytes(viaBytes, up);
      total += bits.length;
      for (let i = 0; i < bits.length; i++) {
        if ((bits[i] & 0x7c00) !== 0 || (bits[i] & 0x3ff) === 0) continue;
        sub++;
        const exact = (bits[i] & 0x8000 ? -1 : 1) * (bits[i] & 0x3ff) * 2 ** -24;
        expect(up[i]).toBe(exact);
        expect(up[i]).not.toBe(0);
      }
    }
    expect(sub / total).toBeGreaterThan(0.001);
    expect(sub / total).toBeLessThan(0.01);
    h.close();
  });

  it.each([...MODELS, 'expected'])('%s: rewriting what we read is byte-identical to the oracle file', (m) => {
    const path = join(FIX, `${m}.safetensors`);
    const st = SafetensorsFile.open(path);
    const t: Record<string, TensorToWrite> = {};
    for (const n of st.names()) t[n] = { dtype: st.info(n).dtype, shape: st.info(n).shape, data: st.read(n) };
    const orig = readFileSync(path);
    expect(Buffer.compare(Buffer.from(serializeSafetensors(t, st.metadata)), orig)).toBe(0);
    const out = join(tmp, `${m}.rewritten.safetensors`);
    writeSafetensors(out, t, st.metadata);
    expect(Buffer.compare(readFileSync(out), orig)).toBe(0);
    st.close();
  });
});

describe('zero-copy and readF32Into', () => {
  const file = readFileSync(join(FIX, 'model.safetensors'));
  it('fromBytes: aligned F32 is a view of the input, unaligned is one copy with the same values', () => {
    const aligned = new Uint8Array(file.length + 8).subarray(8);
    aligned.set(file);
    const unaligned = new Uint8Array(file.length + 1).subarray(1);
    unaligned.set(file);
    const a = SafetensorsFile.fromBytes(aligned, 'aligned');
    const b = SafetensorsFile.fromBytes(unaligned, 'unaligned');
    const va = a.read('wte.weight');
    const vb = b.read('wte.weight');
    expect(va.buffer).toBe(aligned.buffer);
    expect(vb.buffer).not.toBe(unaligned.buffer);
    expectSameBytes(vb, va);
    const into = new Float32Array(va.length);
    b.readF32Into('wte.weight', into);
    expectSameBytes(into, va);
  });

  it('readF32Into fills a view of a larger flat buffer and checks the element count', () => {
    const st = SafetensorsFile.open(join(FIX, 'model.safetensors'));
    const n = st.info('wpe.weight').shape.reduce((x, y) => x * y, 1);
    const flat = new Float32Array(n + 10).fill(7);
    st.readF32Into('wpe.weight', flat.subarray(5, 5 + n));
    expect(flat.subarray(5, 5 + n)).toEqual(st.readF32('wpe.weight'));
    expect([...flat.subarray(0, 5), ...flat.subarray(5 + n)]).toEqual(new Array(10).fill(7));
    expect(() => st.readF32Into('wpe.weight', new Float32Array(n - 1))).toThrow(/tensor "wpe\.weight" has \d+ elements .*output array has \d+/);
    st.close();
  });

  it('F16/BF16 larger than the 1 MiB chunk convert correctly through open(), F64 rounds to nearest', () => {
    const n = 1_300_000; // > 2 chunks of 524288 F16 elements
    const h = new Uint16Array(n).map((_, i) => (i * 7919) & 0xffff);
    const d = new Float64Array(1000).map((_, i) => Math.PI * (i - 500) * 1e-3);
    const path = join(tmp, 'big-half.safetensors');
    writeSafetensors(path, { h: { dtype: 'F16', shape: [n], data: h }, b: { dtype: 'BF16', shape: [n], data: h }, d: { dtype: 'F64', shape: [1000], data: d } });
    const st = SafetensorsFile.open(path);
    expectSameBytes(st.readF32('h'), f16BitsToF32(h));
    expectSameBytes(st.readF32('b'), bf16BitsToF32(h));
    expectSameBytes(st.readF32('d'), Float32Array.from(d));
    st.close();
  });
});

describe('half-precision converters', () => {
  const all = new Uint16Array(65536).map((_, i) => i);

  it('F16 -> F32: all 65536 patterns match the float64 formula (subnormals, inf, NaN payloads)', () => {
    const out = f16BitsToF32(all);
    const bits = u32(out);
    for (let h = 0; h < 65536; h++) {
      const s = h & 0x8000 ? -1 : 1;
      const e = (h >> 10) & 31;
      const m = h & 1023;
      if (e === 31 && m !== 0) {
        expect(bits[h]).toBe(((h & 0x8000) << 16 | 0x7f800000 | (m << 13)) >>> 0);
        continue;
      }
      const ref = e === 31 ? s * Infinity : e === 0 ? s * m * 2 ** -24 : s * (1 + m / 1024) * 2 ** (e - 15);
      if (!Object.is(out[h], ref)) expect([h, out[h]]).toEqual([h, ref]);
    }
  });

  it('BF16 -> F32: all 65536 patterns match the float64 formula', () => {
    const out = bf16BitsToF32(all);
    for (let h = 0; h < 65536; h++) {
      const s = h & 0x8000 ? -1 : 1;
      const e = (h >> 7) & 255;
      const m = h & 127;
      if (e === 255 && m !== 0) { expect(u32(out)[h]).toBe((h << 16) >>> 0); continue; }
      const ref = e === 255 ? s * Infinity : e === 0 ? s * m * 2 ** -133 : s * (1 + m / 128) * 2 ** (e - 127);
      if (!Object.is(out[h], ref)) expect([h, out[h]]).toEqual([h, ref]);
    }
  });

  it('converters write into `out` and check its length', () => {
    const out = new Float32Array(2);
    expect(f16BitsToF32(new Uint16Array([0x3c00, 0xc000]), out)).toBe(out);
    expect([...out]).toEqual([1, -2]);
    expect(() => bf16BitsToF32(new Uint16Array(3), out)).toThrow(RangeError);
  });

  /** round |x| to `mant` fraction bits with min exponent `emin`, ties to even, in float64; overflow past `max` -> inf */
  function roundRef(x: number, mant: number, emin: number, inf: number): number {
    if (Number.isNaN(x)) return NaN;
    const s = x < 0 || Object.is(x, -0) ? -1 : 1;
    const a = Math.abs(x);
    let e = emin;
    while (2 ** (e + 1) <= a) e++;
    const ulp = 2 ** (e - mant);
    let r = Math.floor(a / ulp); // a / ulp is exact: a power-of-two scaling
    const frac = a / ulp - r;
    if (frac > 0.5 || (frac === 0.5 && r % 2 === 1)) r++;
    const v = r * ulp;
    return s * (v >= inf ? Infinity : v);
  }
  const f16Ref = (x: number) => roundRef(x, 10, -14, 65536);
  const bf16Ref = (x: number) => roundRef(x, 7, -126, 2 ** 128);

  it('F32 -> F16 and BF16: random float32 bit patterns match the float64 round-to-nearest-even reference', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (bits) => {
      const x = new Float32Array([f32(bits)]);
      const h = f16BitsToF32(f32ToF16Bits(x))[0];
      const b = bf16BitsToF32(f32ToBf16Bits(x))[0];
      return Object.is(h, f16Ref(x[0])) && Object.is(b, bf16Ref(x[0]));
    }), { numRuns: 20000 });
  });

  it('F32 -> F16: every midpoint between adjacent F16 values ties to even; one F32 ulp either side goes to the nearer', () => {
    const vals = f16BitsToF32(all.subarray(0, 0x7c00)); // +0 .. max finite, ascending
    const mids: number[] = [];
    const want: number[] = [];
    for (let h = 0; h + 1 < vals.length; h++) {
      const mid = (vals[h] + vals[h + 1]) / 2; // exact in float32: one more bit than F16 has
      const even = h % 2 === 0 ? h : h + 1;
      mids.push(mid, f32(u32(new Float32Array([mid]))[0] - 1), f32(u32(new Float32Array([mid]))[0] + 1));
      want.push(even, h, h + 1);
    }
    // the midpoint between max finite (0x7bff) and the next binade 65536 overflows to inf (0x7c00)
    mids.push(65520, 65519.996, 1e10);
    want.push(0x7c00, 0x7bff, 0x7c00);
    const got = f32ToF16Bits(new Float32Array(mids));
    expect([...got]).toEqual(want);
  });

  it('F32 -> F16 edge cases: subnormal boundary, signs, inf, NaN', () => {
    const cases: [number, number][] = [
      [0, 0], [-0, 0x8000], [2 ** -24, 0x0001], [-(2 ** -24), 0x8001],
      [2 ** -25, 0x0000], // exactly half the smallest subnormal: tie to even (0)
      [f32(0x33000001), 0x0001], // just above half: rounds up
      [3 * 2 ** -25, 0x0002], // 1.5 * min subnormal: tie to even (2)
      [2 ** -14, 0x0400], [2 ** -14 - 2 ** -25, 0x0400], // largest subnormal + half ulp rounds up into the normals
      [65504, 0x7bff], [Infinity, 0x7c00], [-Infinity, 0xfc00], [1, 0x3c00], [-2, 0xc000],
    ];
    expect([...f32ToF16Bits(new Float32Array(cases.map((c) => c[0])))]).toEqual(cases.map((c) => c[1]));
    const nans = new Float32Array(new Uint32Array([0x7fc00000, 0xffc00000, 0x7f800001, 0x7fa00000]).buffer);
    expect([...f32ToF16Bits(nans)]).toEqual([0x7e00, 0xfe00, 0x7e00, 0x7f00]);
    expect([...f32ToBf16Bits(nans)]).toEqual([0x7fc0, 0xffc0, 0x7fc0, 0x7fe0]);
  });

  it('F32 -> BF16 edge cases: ties to even, overflow to inf, subnormals', () => {
    const cases: [number, number][] = [
      [0x3f808000, 0x3f80], // tie, even below
      [0x3f818000, 0x3f82], // tie, odd below -> up
      [0x3f808001, 0x3f81],
      [0x7f7fffff, 0x7f80], // max float rounds to inf
      [0x7f7f7fff, 0x7f7f],
      [0x00008000, 0x0000], [0x00018000, 0x0002], [0x80000001, 0x8000],
    ];
    const x = new Float32Array(new Uint32Array(cases.map((c) => c[0])).buffer);
    expect([...f32ToBf16Bits(x)]).toEqual(cases.map((c) => c[1]));
  });
});

describe('round trips (fast-check)', () => {
  /** a random tensor of `dtype`: random shape (zeros and scalars included), random bytes (NaNs included) */
  const tensorArb = (dtype: DType) =>
    fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 }).chain((shape) => {
      const numel = shape.reduce((a, b) => a * b, 1);
      return fc.uint8Array({ minLength: numel * DTYPE_SIZE[dtype], maxLength: numel * DTYPE_SIZE[dtype] }).map((raw): TensorToWrite => {
        return { dtype, shape, data: typed(dtype, raw) };
      });
    });
  /** the random bytes as `dtype`'s typed array (BOOL values kept to 0/1) */
  function typed(dtype: DType, raw: Uint8Array): TypedArray {
    const src = dtype === 'BOOL' ? raw.map((v) => v & 1) : raw;
    const copy = new Uint8Array(src); // fresh, aligned buffer
    const n = copy.length / DTYPE_SIZE[dtype];
    switch (dtype) {
      case 'F64': return new Float64Array(copy.buffer, 0, n);
      case 'F32': return new Float32Array(copy.buffer, 0, n);
      case 'F16': case 'BF16': case 'I16': return dtype === 'I16' ? new Int16Array(copy.buffer, 0, n) : new Uint16Array(copy.buffer, 0, n);
      case 'I64': return new BigInt64Array(copy.buffer, 0, n);
      case 'I32': return new Int32Array(copy.buffer, 0, n);
      case 'I8': return new Int8Array(copy.buffer, 0, n);
      default: return copy;
    }
  }
  const name = fc.string({ unit: 'binary', maxLength: 12 }).filter((s) => s !== '__metadata__');
  const filesArb = fc.tuple(
    fc.uniqueArray(fc.tuple(name, fc.constantFrom(...DTYPES)), { selector: (t) => t[0], maxLength: 8 })
      .chain((list) => fc.tuple(...list.map(([n, d]) => tensorArb(d).map((t) => [n, t] as const)))),
    fc.dictionary(fc.string({ unit: 'binary', maxLength: 8 }), fc.string({ unit: 'binary', maxLength: 16 }), { maxKeys: 4 }),
  );

  function check(st: SafetensorsFile, tensors: (readonly [string, TensorToWrite])[], meta: Record<string, string>): void {
    expect(st.metadata).toEqual(meta);
    expect(new Set(st.names())).toEqual(new Set(tensors.map((t) => t[0])));
    for (const [n, t] of tensors) {
      expect(st.info(n)).toMatchObject({ name: n, dtype: t.dtype, shape: t.shape });
      const got = st.read(n);
      expect(got.constructor).toBe(t.data.constructor);
      expect(bytes(got)).toEqual(bytes(t.data));
      if (t.dtype === 'F16') expect(u32(st.readF32(n))).toEqual(u32(f16BitsToF32(t.data as Uint16Array)));
      if (t.dtype === 'BF16') expect(u32(st.readF32(n))).toEqual(u32(bf16BitsToF32(t.data as Uint16Array)));
      if (t.dtype === 'F64') expect(st.readF32(n)).toEqual(Float32Array.from(t.data as Float64Array));
      // each tensor starts aligned to its item size (header padded to 8, data by descending item size)
      expect((st.dataStart + st.info(n).dataOffsets[0]) % DTYPE_SIZE[t.dtype]).toBe(0);
    }
  }

  it('serializeSafetensors -> fromBytes over every dtype', () => {
    fc.assert(fc.property(filesArb, ([tensors, meta]) => {
      const file = serializeSafetensors(tensors, meta);
      expect(Number(new DataView(file.buffer).getBigUint64(0, true)) % 8).toBe(0); // header padded to 8
      check(SafetensorsFile.fromBytes(file, 'mem'), tensors, meta);
    }), { numRuns: 300 });
  });

  it('writeSafetensors -> open() over every dtype', () => {
    const path = join(tmp, 'roundtrip.safetensors');
    fc.assert(fc.property(filesArb, ([tensors, meta]) => {
      writeSafetensors(path, tensors, meta);
      const st = SafetensorsFile.open(path);
      try { check(st, tensors, meta); } finally { st.close(); }
    }), { numRuns: 60 });
  });

  it('empty tensors and scalars, and empty metadata is omitted like the oracle does', () => {
    const file = serializeSafetensors({ s: { dtype: 'F32', shape: [], data: new Float32Array([2.5]) }, e: { dtype: 'I64', shape: [3, 0], data: new BigInt64Array(0) } }, {});
    const st = SafetensorsFile.fromBytes(file, 'mem');
    expect(st.readF32('s')).toEqual(new Float32Array([2.5]));
    expect(st.read('e')).toEqual(new BigInt64Array(0));
    // I64 (item size 8) is laid out before F32; no "__metadata__" for empty metadata; padded to 8
    const json = '{"e":{"data_offsets":[0,0],"dtype":"I64","shape":[3,0]},"s":{"data_offsets":[0,4],"dtype":"F32","shape":[]}}';
    expect(new TextDecoder().decode(file.subarray(8, file.length - 4))).toBe(json.padEnd(Math.ceil(json.length / 8) * 8));
  });
});

describe('writer errors', () => {
  const ok: TensorToWrite = { dtype: 'F32', shape: [2], data: new Float32Array(2) };
  const cases: [string, () => unknown, RegExp][] = [
    ['data length vs shape', () => serializeSafetensors({ w: { dtype: 'F32', shape: [2, 3], data: new Float32Array(5) } }), /tensor "w": shape \[2, 3\] needs 6 elements, data has 5/],
    ['unknown dtype', () => serializeSafetensors({ w: { dtype: 'F8' as DType, shape: [1], data: new Uint8Array(1) } }), /tensor "w": unknown dtype "F8"/],
    ['duplicate names', () => serializeSafetensors([['w', ok], ['w', ok]]), /duplicate tensor name "w"/],
    ['wrong array type', () => serializeSafetensors({ w: { dtype: 'F16', shape: [2], data: new Float32Array(2) } }), /tensor "w": F16 data must be a Uint16Array, got Float32Array/],
    ['negative shape', () => serializeSafetensors({ w: { dtype: 'F32', shape: [-2], data: new Float32Array(2) } }), /must hold non-negative integers/],
    ['reserved name', () => serializeSafetensors({ __metadata__: ok }), /"__metadata__" is reserved/],
    ['non-string metadata', () => serializeSafetensors({ w: ok }, { n: 3 as unknown as string }), /metadata value for "n" must be a string, got number/],
    ['lone surrogate', () => serializeSafetensors({ 'a\ud800': ok }), /not valid Unicode/],
  ];
  it.each(cases)('%s', (_, f, re) => {
    expect(f).toThrow(SafetensorsError);
    expect(f).toThrow(re);
  });
});

describe('writeSafetensors atomicity', () => {
  const t = (n: number): Record<string, TensorToWrite> => ({
    a: { dtype: 'F32', shape: [n], data: new Float32Array(n).fill(1) },
    b: { dtype: 'F32', shape: [n], data: new Float32Array(n).fill(2) },
    c: { dtype: 'F32', shape: [n], data: new Float32Array(n).fill(3) },
  });
  const fresh = (name: string) => { const d = join(tmp, name); mkdirSync(d); return d; };
  const withHook = (f: (call: number) => void, body: () => void) => {
    hook.calls = 0;
    hook.beforeWrite = f;
    try { body(); } finally { hook.beforeWrite = undefined; }
  };

  it('while writing, only a temp file exists; the target appears complete at the end', () => {
    const dir = fresh('during');
    const target = join(dir, 'm.safetensors');
    const seen: string[][] = [];
    withHook(() => seen.push(readdirSync(dir)), () => writeSafetensors(target, t(100)));
    expect(seen.length).toBe(4); // header + 3 tensors
    for (const s of seen) expect(s).toEqual([expect.stringMatching(/^\.m\.safetensors\.\d+\.\w+\.tmp$/)]);
    expect(readdirSync(dir)).toEqual(['m.safetensors']);
  });

  it('invalid data fails before anything is created; an existing file is untouched', () => {
    const dir = fresh('invalid');
    const target = join(dir, 'm.safetensors');
    writeFileSync(target, 'old');
    const bad = { ...t(4), d: { dtype: 'F32' as const, shape: [5], data: new Float32Array(4) } };
    expect(() => writeSafetensors(target, bad)).toThrow(/tensor "d": shape \[5\] needs 5 elements, data has 4/);
    expect(readdirSync(dir)).toEqual(['m.safetensors']);
    expect(readFileSync(target, 'utf8')).toBe('old');
  });

  it('an I/O failure mid-write removes the temp file and keeps the old target', () => {
    const dir = fresh('midwrite');
    const target = join(dir, 'm.safetensors');
    writeFileSync(target, 'old');
    withHook((call) => { if (call === 2) throw new Error('EIO: simulated disk failure'); }, () => {
      expect(() => writeSafetensors(target, t(1000))).toThrow(/m\.safetensors: cannot write safetensors file: EIO: simulated disk failure/);
    });
    expect(readdirSync(dir)).toEqual(['m.safetensors']);
    expect(readFileSync(target, 'utf8')).toBe('old');
  });

  it('the target directory disappearing mid-write is a clean error and leaves nothing behind', () => {
    const dir = fresh('vanish');
    const target = join(dir, 'm.safetensors');
    withHook((call) => { if (call === 1) rmSync(dir, { recursive: true }); }, () => {
      expect(() => writeSafetensors(target, t(1000))).toThrow(SafetensorsError);
    });
    expect(existsSync(dir)).toBe(false);
  });

  it('a missing directory, or a target that is a directory, fail without leaving a temp file', () => {
    expect(() => writeSafetensors(join(tmp, 'no-such-dir', 'm.safetensors'), t(2))).toThrow(/cannot write safetensors file: ENOENT/);
    const dir = fresh('isdir');
    mkdirSync(join(dir, 'm.safetensors'));
    writeFileSync(join(dir, 'm.safetensors', 'keep'), 'x');
    expect(() => writeSafetensors(join(dir, 'm.safetensors'), t(2))).toThrow(/cannot write safetensors file/);
    expect(readdirSync(dir)).toEqual(['m.safetensors']);
    expect(readdirSync(join(dir, 'm.safetensors'))).toEqual(['keep']);
  });
});
