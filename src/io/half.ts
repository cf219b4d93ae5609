// Half-precision conversions: IEEE 754 binary16 (F16) and bfloat16 (BF16) <-> float32.
// All work is on bit patterns (Uint32Array views of Float32Arrays), so NaN payloads survive:
// storing a float NaN through a JS number could quiet a signalling NaN.
//
// F16:  sign(1) exponent(5, bias 15) mantissa(10); exponent 0 = zero/subnormal (mant * 2^-24),
//       exponent 31 = inf (mant 0) / NaN.
// BF16: the top 16 bits of a float32 (sign, 8-bit exponent, 7-bit mantissa).

/** f16 bits -> f32 bits for all 65536 patterns, built once on first use (256 KiB) */
let f16Table: Uint32Array | undefined;

function f16ToF32BitsScalar(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0; // inf, NaN (payload kept)
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0; // normal: rebias 15 -> 127
  if (mant === 0) return sign >>> 0; // +-0
  // subnormal: mant * 2^-24 = (1.m') * 2^(e); shift the leading 1 up to bit 10 and count the shifts
  let e = 113; // exponent field for 2^-14, decremented per shift
  let m = mant;
  while ((m & 0x400) === 0) { m <<= 1; e--; }
  return (sign | (e << 23) | ((m & 0x3ff) << 13)) >>> 0;
}

function table(): Uint32Array {
  if (f16Table === undefined) {
    f16Table = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16ToF32BitsScalar(h);
  }
  return f16Table;
}

function outFor(n: number, out: Float32Array | undefined): Float32Array {
  if (out === undefined) return new Float32Array(n);
  if (out.length !== n) throw new RangeError(`output has ${out.length} elements, input has ${n}`);
  return out;
}

/** Decode F16 bits (subnormals, ±inf and NaN payloads included) into float32; `out` must match in length. */
export function f16BitsToF32(bits: Uint16Array, out?: Float32Array): Float32Array {
  const o = outFor(bits.length, out);
  const o32 = new Uint32Array(o.buffer, o.byteOffset, o.length);
  const t = table();
  for (let i = 0; i < bits.length; i++) o32[i] = t[bits[i]];
  return o;
}

/** Decode BF16 bits into float32 (exact: a BF16 is a float32 with the low 16 bits zero). */
export function bf16BitsToF32(bits: Uint16Array, out?: Float32Array): Float32Array {
  const o = outFor(bits.length, out);
  const o32 = new Uint32Array(o.buffer, o.byteOffset, o.length);
  for (let i = 0; i < bits.length; i++) o32[i] = bits[i] << 16;
  return o;
}

/** One float32 (as bits) to F16 bits, round to nearest, ties to even. */
export function f32BitsToF16Bits(u: number): number {
  const sign = (u >>> 16) & 0x8000;
  const abs = u & 0x7fffffff;
  if (abs > 0x7f800000) {
    // NaN: keep sign and the top 10 payload bits and set the quiet bit so it cannot become inf
    // (what x86 F16C's vcvtps2ph does).
    return sign | 0x7e00 | ((abs >>> 13) & 0x3ff);
  }
  // 65520 = 0x477ff000 is halfway between 65504 (max f16, odd mantissa) and 2^16: ties go up -> inf
  if (abs >= 0x477ff000) return sign | 0x7c00;
  if (abs >= 0x38800000) {
    // normal f16 (|x| >= 2^-14): rebias the exponent (127 -> 15 is -112 << 23) and round away
    // the low 13 mantissa bits; a carry out of the mantissa correctly bumps the exponent.
    return sign | (((abs - 0x38000000) + 0xfff + ((abs >>> 13) & 1)) >>> 13);
  }
  // 2^-25 (0x33000000) is half the smallest subnormal 2^-24: at or below it, rounds to 0 (even)
  if (abs <= 0x33000000) return sign;
  // subnormal f16: result = round(|x| / 2^-24) with |x| = m * 2^(e - 150), m = 1.mant as a 24-bit int
  const e = abs >>> 23; // 102..112 here
  const m = (abs & 0x7fffff) | 0x800000;
  const shift = 126 - e; // 14..24
  const half = 1 << (shift - 1);
  const rem = m & ((1 << shift) - 1);
  let h = m >>> shift;
  if (rem > half || (rem === half && (h & 1) === 1)) h++; // may reach 0x400 = smallest normal: correct
  return sign | h;
}

/** One float32 (as bits) to BF16 bits, round to nearest, ties to even (the oracle's f32_to_bf16_bits). */
export function f32BitsToBf16Bits(u: number): number {
  // NaN: the oracle rejects NaN; we keep sign and top payload bits and set the quiet bit, so a NaN
  // whose payload lives only in the low 16 bits does not turn into inf.
  if ((u & 0x7fffffff) > 0x7f800000) return (u >>> 16) | 0x0040;
  // for non-NaN u <= 0xff800000 the sum stays below 2^32, so >>> 16 does not wrap
  return (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
}

/** float32 -> F16 bits: round to nearest even, subnormals, overflow -> ±inf, NaN stays NaN (quieted). */
export function f32ToF16Bits(x: Float32Array): Uint16Array {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < u.length; i++) out[i] = f32BitsToF16Bits(u[i]);
  return out;
}

/** float32 -> BF16 bits: round to nearest even (overflow -> ±inf), NaN stays NaN (quieted). */
export function f32ToBf16Bits(x: Float32Array): Uint16Array {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const out = new Uint16Array(x.length);
  for (let i = 0; i < u.length; i++) out[i] = f32BitsToBf16Bits(u[i]);
  return out;
}
