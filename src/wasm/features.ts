// What this runtime's WebAssembly can do, detected by validating tiny modules (never assumed from
// the runtime's name or version: Node 20, Node 22 and Deno differ, and flags can change them).

import { setFlagsFromString } from 'node:v8';
import { envVar, wasmApi } from './api.ts';
import { Code, ModuleBuilder, V128 } from './emit.ts';

export interface WasmFeatures {
  /** fixed-width SIMD (v128): required for the wasm kernels */
  simd: boolean;
  /** relaxed SIMD: f32x4.relaxed_madd (FMA where the hardware has it) */
  relaxedSimd: boolean;
  /** shared WebAssembly.Memory (SharedArrayBuffer behind it): required for worker threads */
  sharedMemory: boolean;
}

function validates(body: (c: Code) => void, shared = false): boolean {
  const wa = wasmApi();
  if (!wa) return false;
  const c = new Code();
  body(c);
  try {
    const m = new ModuleBuilder();
    m.define(m.declare('f', [V128, V128, V128], [V128], true), [], c);
    return wa.validate(m.emit({ min: 1, max: 1, shared }));
  } catch {
    return false;
  }
}

let cached: WasmFeatures | null = null;

/**
 * The runtime's features, detected once. GPT2TS_SHARED_MEMORY=0 in the environment pretends shared
 * memory is missing (to see, and test, the one-thread fallback); GPT2TS_RELAXED_SIMD=0 keeps the
 * kernels on mul + add even where relaxed SIMD exists.
 *
 * Relaxed SIMD is on by default in Node ≥ 22 and Deno 2. Node 20 (V8 11.3) has the complete
 * implementation behind --experimental-wasm-relaxed-simd; where it does not validate, the flag is
 * turned on here (node:v8 setFlagsFromString, before any kernel is compiled) and detection retried.
 * It only adds opcodes to validation. Measured on the reference machine (Node 20, 1 thread):
 * f32 GEMM 36.7 → 46.5 GFLOP/s; the backward's weight-gradient GEMM (gemm-tn.ts) 36 → 55 (mul + add
 * is instruction-bound there: the FMA halves the multiply-add instructions and frees the registers
 * for a 6×8 tile instead of 4×8).
 */
export function wasmFeatures(): WasmFeatures {
  if (cached) return cached;
  const simd = validates((c) => c.local_get(0).local_get(1).f32x4_mul().local_get(2).f32x4_add());
  const fma = (): boolean => validates((c) => c.local_get(0).local_get(1).local_get(2).f32x4_relaxed_madd());
  let relaxedSimd = false;
  if (simd && envVar('GPT2TS_RELAXED_SIMD') !== '0') {
    relaxedSimd = fma();
    if (!relaxedSimd) {
      try {
        setFlagsFromString('--experimental-wasm-relaxed-simd');
        relaxedSimd = fma();
      } catch {
        relaxedSimd = false; // not Node, or flags cannot be set: mul + add
      }
    }
  }
  let sharedMemory = false;
  try {
    const wa = wasmApi();
    if (!wa) throw new Error('no WebAssembly');
    const m = new wa.Memory({ initial: 1, maximum: 1, shared: true });
    sharedMemory = typeof SharedArrayBuffer !== 'undefined' && m.buffer instanceof SharedArrayBuffer &&
      validates((c) => c.local_get(0), true);
  } catch {
    sharedMemory = false;
  }
  if (envVar('GPT2TS_SHARED_MEMORY') === '0') sharedMemory = false;
  cached = { simd, relaxedSimd, sharedMemory };
  return cached;
}
