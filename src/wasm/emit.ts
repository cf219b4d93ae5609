// A small WebAssembly bytecode emitter: enough of the binary format to write the CPU kernels from
// TypeScript (no C toolchain, no opaque binaries). Reference: the WebAssembly core spec §5
// (binary format), the fixed-width SIMD proposal (opcodes 0xFD xx) and relaxed SIMD (0xFD 0x105..).
//
// A module here is: one type section, one imported memory (`env.memory`, optionally shared), a list
// of functions, their exports. A function body is built with `Code`, a flat instruction writer whose
// method names follow the text format (`v128_load` is `v128.load`). Structured control flow is the
// caller's job (`block`/`loop`/`end` and branch depths), exactly as in the text format.

/** Value types (binary encodings). */
export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof F64 | typeof V128;
const BLOCK_VOID = 0x40;

/** unsigned LEB128 */
export function uleb(out: number[], v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new RangeError(`uleb: ${v}`);
  do {
    let b = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) b |= 0x80;
    out.push(b);
  } while (v > 0);
}

/** signed LEB128 of a 32-bit integer */
export function sleb(out: number[], v: number): void {
  if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 32) throw new RangeError(`sleb: ${v}`);
  v |= 0; // wrap to int32
  for (;;) {
    const b = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (b & 0x40) === 0) || (v === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return;
    }
    out.push(b | 0x80);
  }
}

function name(out: number[], s: string): void {
  const b = new TextEncoder().encode(s);
  uleb(out, b.length);
  for (const x of b) out.push(x);
}

/** A function body under construction: instructions appended in order. */
export class Code {
  readonly bytes: number[] = [];

  private mem(opcode: number[], alignLog2: number, offset: number): this {
    if (offset < 0) throw new RangeError(`negative memory offset ${offset}`);
    this.bytes.push(...opcode);
    uleb(this.bytes, alignLog2);
    uleb(this.bytes, offset);
    return this;
  }
  private simd(op: number): number[] {
    const b = [0xfd];
    uleb(b, op);
    return b;
  }
  private s(op: number): this {
    this.bytes.push(...this.simd(op));
    return this;
  }

  // ---- control ----
  block(): this { this.bytes.push(0x02, BLOCK_VOID); return this; }
  loop(): this { this.bytes.push(0x03, BLOCK_VOID); return this; }
  if_(): this { this.bytes.push(0x04, BLOCK_VOID); return this; }
  else_(): this { this.bytes.push(0x05); return this; }
  end(): this { this.bytes.push(0x0b); return this; }
  br(depth: number): this { this.bytes.push(0x0c); uleb(this.bytes, depth); return this; }
  br_if(depth: number): this { this.bytes.push(0x0d); uleb(this.bytes, depth); return this; }
  return_(): this { this.bytes.push(0x0f); return this; }
  call(fn: number): this { this.bytes.push(0x10); uleb(this.bytes, fn); return this; }
  /** call through table 0; the callee index is on top of the stack */
  call_indirect(typeIndex: number): this { this.bytes.push(0x11); uleb(this.bytes, typeIndex); this.bytes.push(0x00); return this; }
  drop(): this { this.bytes.push(0x1a); return this; }
  /** cond ? a : b  with a, b, cond pushed in that order */
  select(): this { this.bytes.push(0x1b); return this; }

  // ---- locals ----
  local_get(i: number): this { this.bytes.push(0x20); uleb(this.bytes, i); return this; }
  local_set(i: number): this { this.bytes.push(0x21); uleb(this.bytes, i); return this; }
  local_tee(i: number): this { this.bytes.push(0x22); uleb(this.bytes, i); return this; }

  // ---- scalar i32 / f32 ----
  i32_const(v: number): this { this.bytes.push(0x41); sleb(this.bytes, v); return this; }
  f32_const(v: number): this {
    const b = new Uint8Array(new Float32Array([v]).buffer);
    this.bytes.push(0x43, ...b);
    return this;
  }
  i32_load(offset = 0): this { return this.mem([0x28], 2, offset); }
  f32_load(offset = 0): this { return this.mem([0x2a], 2, offset); }
  i32_load16_u(offset = 0): this { return this.mem([0x2f], 1, offset); }
  f32_store(offset = 0): this { return this.mem([0x38], 2, offset); }
  f64_load(offset = 0): this { return this.mem([0x2b], 3, offset); }
  f64_store(offset = 0): this { return this.mem([0x39], 3, offset); }
  i32_store(offset = 0): this { return this.mem([0x36], 2, offset); }
  i32_eqz(): this { this.bytes.push(0x45); return this; }
  i32_eq(): this { this.bytes.push(0x46); return this; }
  i32_ne(): this { this.bytes.push(0x47); return this; }
  i32_lt_s(): this { this.bytes.push(0x48); return this; }
  i32_lt_u(): this { this.bytes.push(0x49); return this; }
  i32_gt_s(): this { this.bytes.push(0x4a); return this; }
  i32_le_s(): this { this.bytes.push(0x4c); return this; }
  i32_ge_s(): this { this.bytes.push(0x4e); return this; }
  i32_add(): this { this.bytes.push(0x6a); return this; }
  i32_sub(): this { this.bytes.push(0x6b); return this; }
  i32_mul(): this { this.bytes.push(0x6c); return this; }
  i32_and(): this { this.bytes.push(0x71); return this; }
  i32_or(): this { this.bytes.push(0x72); return this; }
  i32_shl(): this { this.bytes.push(0x74); return this; }
  i32_shr_u(): this { this.bytes.push(0x76); return this; }
  i32_shr_s(): this { this.bytes.push(0x75); return this; }
  i32_rem_u(): this { this.bytes.push(0x70); return this; }
  i32_div_u(): this { this.bytes.push(0x6e); return this; }
  i32_gt_u(): this { this.bytes.push(0x4b); return this; }
  i32_ge_u(): this { this.bytes.push(0x4f); return this; }
  i32_le_u(): this { this.bytes.push(0x4d); return this; }
  f32_add(): this { this.bytes.push(0x92); return this; }
  f32_sub(): this { this.bytes.push(0x93); return this; }
  f32_div(): this { this.bytes.push(0x95); return this; }
  f32_max(): this { this.bytes.push(0x97); return this; }
  f32_gt(): this { this.bytes.push(0x5e); return this; }
  f32_eq(): this { this.bytes.push(0x5b); return this; }
  f64_const(v: number): this {
    const b = new Uint8Array(new Float64Array([v]).buffer);
    this.bytes.push(0x44, ...b);
    return this;
  }
  /** i64.const of a small integer (|v| < 2³¹) */
  i64_const(v: number): this { this.bytes.push(0x42); sleb(this.bytes, v); return this; }
  i64_add(): this { this.bytes.push(0x7c); return this; }
  i64_shl(): this { this.bytes.push(0x86); return this; }
  /** i64.trunc_sat_f64_s: NaN → 0, out of range → saturated (never traps) */
  i64_trunc_sat_f64_s(): this { this.bytes.push(0xfc, 0x06); return this; }
  f64_reinterpret_i64(): this { this.bytes.push(0xbf); return this; }
  f64_nearest(): this { this.bytes.push(0x9e); return this; }
  f64_min(): this { this.bytes.push(0xa4); return this; }
  f64_max(): this { this.bytes.push(0xa5); return this; }
  f64_eq(): this { this.bytes.push(0x61); return this; }
  f64_lt(): this { this.bytes.push(0x63); return this; }
  f64_ge(): this { this.bytes.push(0x66); return this; }
  f64_sub(): this { this.bytes.push(0xa1); return this; }
  f64_mul(): this { this.bytes.push(0xa2); return this; }
  f64_div(): this { this.bytes.push(0xa3); return this; }
  f64_sqrt(): this { this.bytes.push(0x9f); return this; }
  f64_gt(): this { this.bytes.push(0x64); return this; }
  f64_convert_i32_s(): this { this.bytes.push(0xb7); return this; }
  f32_convert_i32_s(): this { this.bytes.push(0xb2); return this; }
  f32_mul(): this { this.bytes.push(0x94); return this; }
  f32_reinterpret_i32(): this { this.bytes.push(0xbe); return this; }
  f64_add(): this { this.bytes.push(0xa0); return this; }
  f32_demote_f64(): this { this.bytes.push(0xb6); return this; }
  f64_promote_f32(): this { this.bytes.push(0xbb); return this; }

  // ---- SIMD (0xFD prefix) ----
  /** v128.load with natural alignment hint 2^alignLog2 (x86 does not care; the hint is 4 bytes) */
  v128_load(offset = 0): this { return this.mem(this.simd(0x00), 2, offset); }
  /** 4 × u16 widened to 4 × u32 (i32x4) */
  v128_load16x4_u(offset = 0): this { return this.mem(this.simd(0x04), 1, offset); }
  v128_load32_splat(offset = 0): this { return this.mem(this.simd(0x09), 2, offset); }
  v128_store(offset = 0): this { return this.mem(this.simd(0x0b), 2, offset); }
  v128_load32_zero(offset = 0): this { return this.mem(this.simd(0x5c), 2, offset); }
  v128_load64_zero(offset = 0): this { return this.mem(this.simd(0x5d), 3, offset); }
  v128_const_zero(): this { this.bytes.push(...this.simd(0x0c), ...new Array<number>(16).fill(0)); return this; }
  /** i8x16.shuffle of two vectors; lanes given as f32 lane indices 0..7 (4..7 = second operand) */
  f32x4_shuffle(l0: number, l1: number, l2: number, l3: number): this {
    this.bytes.push(...this.simd(0x0d));
    for (const l of [l0, l1, l2, l3]) for (let i = 0; i < 4; i++) this.bytes.push(l * 4 + i);
    return this;
  }
  /** i8x16.shuffle on f64 lanes 0..3 (2, 3 = second operand) */
  f64x2_shuffle(l0: number, l1: number): this {
    this.bytes.push(...this.simd(0x0d));
    for (const l of [l0, l1]) for (let i = 0; i < 8; i++) this.bytes.push(l * 8 + i);
    return this;
  }
  f32x4_splat(): this { return this.s(0x13); }
  f64x2_splat(): this { return this.s(0x14); }
  i32x4_splat(): this { return this.s(0x11); }
  v128_load64_splat(offset = 0): this { return this.mem(this.simd(0x0a), 3, offset); }
  /** a v128 constant from four f32 lanes */
  v128_const_f32x4(l: readonly [number, number, number, number]): this {
    this.bytes.push(...this.simd(0x0c), ...new Uint8Array(new Float32Array(l).buffer));
    return this;
  }
  /** a v128 constant from two f64 lanes */
  v128_const_f64x2(l: readonly [number, number]): this {
    this.bytes.push(...this.simd(0x0c), ...new Uint8Array(new Float64Array(l).buffer));
    return this;
  }
  v128_and(): this { return this.s(0x4e); }
  v128_andnot(): this { return this.s(0x4f); }
  v128_or(): this { return this.s(0x50); }
  v128_bitselect(): this { return this.s(0x52); }
  f32x4_replace_lane(lane: number): this { this.s(0x20); this.bytes.push(lane); return this; }
  f32x4_lt(): this { return this.s(0x43); }
  f32x4_gt(): this { return this.s(0x44); }
  f32x4_eq(): this { return this.s(0x41); }
  f32x4_demote_f64x2_zero(): this { return this.s(0x5e); }
  f64x2_promote_low_f32x4(): this { return this.s(0x5f); }
  f32x4_nearest(): this { return this.s(0x6a); }
  i32x4_add(): this { return this.s(0xae); }
  i32x4_trunc_sat_f32x4_s(): this { return this.s(0xf8); }
  f32x4_div(): this { return this.s(0xe7); }
  f32x4_min(): this { return this.s(0xe8); }
  f32x4_neg(): this { return this.s(0xe1); }
  f64x2_sub(): this { return this.s(0xf1); }
  f64x2_div(): this { return this.s(0xf3); }
  f64x2_sqrt(): this { return this.s(0xef); }
  f64x2_max(): this { return this.s(0xf5); }
  f64x2_extract_lane(lane: number): this { this.s(0x21); this.bytes.push(lane); return this; }
  f64x2_add(): this { return this.s(0xf0); }
  f64x2_mul(): this { return this.s(0xf2); }
  /** relaxed SIMD: a·b + c on f64x2 */
  f64x2_relaxed_madd(): this { return this.s(0x107); }
  f32x4_extract_lane(lane: number): this { this.s(0x1f); this.bytes.push(lane); return this; }
  i32x4_shl(): this { return this.s(0xab); }
  i32x4_replace_lane(lane: number): this { this.s(0x1c); this.bytes.push(lane); return this; }
  i32x4_extend_low_i16x8_u(): this { return this.s(0xa9); }
  i32x4_extend_high_i16x8_u(): this { return this.s(0xaa); }
  f32x4_add(): this { return this.s(0xe4); }
  f32x4_sub(): this { return this.s(0xe5); }
  f32x4_mul(): this { return this.s(0xe6); }
  f32x4_max(): this { return this.s(0xe9); }
  /** relaxed SIMD: a·b + c, fused or not at the engine's choice */
  f32x4_relaxed_madd(): this { return this.s(0x105); }
}

export interface MemoryImport {
  /** pages of 64 KiB */
  min: number;
  max: number;
  shared: boolean;
}

interface FuncEntry {
  name: string;
  type: number;
  exported: boolean;
  /** extra locals after the params, in order; null until defined */
  locals: ValType[] | null;
  code: Code | null;
}

/**
 * Collects types, functions (declared first, so bodies can call each other by index), an optional
 * function table for `call_indirect`, and writes the binary. The one memory is imported as `env.memory`.
 */
export class ModuleBuilder {
  private readonly sigs: string[] = [];
  private readonly funcs: FuncEntry[] = [];
  private tableFuncs: number[] = [];

  /** the index of the function type (params) -> (results), added once */
  typeIndex(params: readonly ValType[], results: readonly ValType[]): number {
    const key = `${params.join(',')}:${results.join(',')}`;
    const i = this.sigs.indexOf(key);
    return i >= 0 ? i : this.sigs.push(key) - 1;
  }

  /** reserve a function index; give its body with `define` */
  declare(name: string, params: readonly ValType[], results: readonly ValType[], exported: boolean): number {
    if (this.funcs.some((f) => f.name === name)) throw new Error(`internal: function ${name} declared twice`);
    return this.funcs.push({ name, type: this.typeIndex(params, results), exported, locals: null, code: null }) - 1;
  }

  define(index: number, locals: readonly ValType[], code: Code): void {
    const f = this.funcs[index];
    if (!f || f.code) throw new Error(`internal: bad function index ${index}`);
    f.locals = [...locals];
    f.code = code;
  }

  /** index of a declared function by name */
  func(name: string): number {
    const i = this.funcs.findIndex((f) => f.name === name);
    if (i < 0) throw new Error(`internal: no function ${name}`);
    return i;
  }

  /** the function table (slot i calls funcs[indices[i]]) */
  setTable(indices: readonly number[]): void {
    this.tableFuncs = [...indices];
  }

  emit(memory: MemoryImport): Uint8Array {
    const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    const section = (id: number, body: number[]): void => {
      out.push(id);
      uleb(out, body.length);
      for (const b of body) out.push(b);
    };
    for (const f of this.funcs) if (!f.code) throw new Error(`internal: function ${f.name} has no body`);
    const types: number[] = [];
    uleb(types, this.sigs.length);
    for (const key of this.sigs) {
      const [p, r] = key.split(':').map((s) => (s ? s.split(',').map(Number) : []));
      types.push(0x60);
      uleb(types, p.length);
      types.push(...p);
      uleb(types, r.length);
      types.push(...r);
    }
    section(1, types);
    // import env.memory: limits flag 0x01 (min, max) or 0x03 (min, max, shared)
    const imports: number[] = [];
    uleb(imports, 1);
    name(imports, 'env');
    name(imports, 'memory');
    imports.push(0x02, memory.shared ? 0x03 : 0x01);
    uleb(imports, memory.min);
    uleb(imports, memory.max);
    section(2, imports);
    const fsec: number[] = [];
    uleb(fsec, this.funcs.length);
    for (const f of this.funcs) uleb(fsec, f.type);
    section(3, fsec);
    if (this.tableFuncs.length) {
      // one funcref table, exactly as large as its element segment
      const t: number[] = [1, 0x70, 0x01];
      uleb(t, this.tableFuncs.length);
      uleb(t, this.tableFuncs.length);
      section(4, t);
    }
    const exp: number[] = [];
    const exported = this.funcs.map((f, i) => [f, i] as const).filter(([f]) => f.exported);
    uleb(exp, exported.length);
    for (const [f, i] of exported) {
      name(exp, f.name);
      exp.push(0x00);
      uleb(exp, i);
    }
    section(7, exp);
    if (this.tableFuncs.length) {
      // active segment for table 0 at offset (i32.const 0)
      const e: number[] = [1, 0x00, 0x41, 0x00, 0x0b];
      uleb(e, this.tableFuncs.length);
      for (const i of this.tableFuncs) uleb(e, i);
      section(9, e);
    }
    const code: number[] = [];
    uleb(code, this.funcs.length);
    for (const f of this.funcs) {
      const body: number[] = [];
      // locals as runs of equal type
      const runs: [number, ValType][] = [];
      for (const t of f.locals ?? []) {
        const last = runs[runs.length - 1];
        if (last && last[1] === t) last[0]++;
        else runs.push([1, t]);
      }
      uleb(body, runs.length);
      for (const [n, t] of runs) {
        uleb(body, n);
        body.push(t);
      }
      for (const b of f.code?.bytes ?? []) body.push(b);
      body.push(0x0b);
      uleb(code, body.length);
      for (const b of body) code.push(b);
    }
    section(10, code);
    return new Uint8Array(out);
  }
}

/**
 * Locals by name for one function: params first (in order), then locals added on demand.
 * Keeps kernel generators readable (`L.get('k')` instead of magic indices).
 */
export class Locals {
  private readonly map = new Map<string, number>();
  readonly params: ValType[] = [];
  readonly locals: ValType[] = [];
  constructor(params: [string, ValType][]) {
    for (const [n, t] of params) {
      this.map.set(n, this.params.length);
      this.params.push(t);
    }
  }
  add(n: string, t: ValType): number {
    if (this.map.has(n)) throw new Error(`internal: local ${n} declared twice`);
    const i = this.params.length + this.locals.length;
    this.locals.push(t);
    this.map.set(n, i);
    return i;
  }
  get(n: string): number {
    const i = this.map.get(n);
    if (i === undefined) throw new Error(`internal: no local ${n}`);
    return i;
  }
}
