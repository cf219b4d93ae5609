// Peers for bench/cpu.ts, each timed on the same matmul shapes in the same run:
//   onnxruntime-node (MLAS, native, multi-threaded): a one-node Gemm model written here as ONNX
//     protobuf bytes (no onnx package), the weight an initializer (as in a real exported model, so
//     ORT may pre-pack it once at session creation);
//   tfjs-backend-wasm (XNNPACK SIMD), 1 thread: tf.fused.matMul with bias.
// Both are bench-only dependencies (bench/package.json).

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

// ---- a minimal protobuf writer (wire types 0: varint, 2: length-delimited) ----
// Byte chunks, not a number[]: the lm-head initializer alone is 154 MB.
class Pb {
  private readonly parts: Uint8Array[] = [];
  length = 0;
  private push(p: Uint8Array): void {
    this.parts.push(p);
    this.length += p.length;
  }
  varint(v: number): this {
    const out: number[] = [];
    let x = BigInt(v);
    if (x < 0n) x += 1n << 64n;
    do {
      let byte = Number(x & 0x7fn);
      x >>= 7n;
      if (x > 0n) byte |= 0x80;
      out.push(byte);
    } while (x > 0n);
    this.push(Uint8Array.from(out));
    return this;
  }
  tag(field: number, wire: number): this { return this.varint(field * 8 + wire); }
  int(field: number, v: number): this { return this.tag(field, 0).varint(v); }
  bytes(field: number, data: Uint8Array): this {
    this.tag(field, 2).varint(data.length);
    this.push(data);
    return this;
  }
  str(field: number, s: string): this { return this.bytes(field, new TextEncoder().encode(s)); }
  msg(field: number, m: Pb): this {
    this.tag(field, 2).varint(m.length);
    for (const p of m.parts) this.push(p);
    return this;
  }
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

const FLOAT = 1; // TensorProto.DataType.FLOAT

function valueInfo(name: string, dims: number[]): Pb {
  const shape = new Pb();
  for (const d of dims) shape.msg(1, new Pb().int(1, d)); // TensorShapeProto.dim { dim_value }
  const tensorType = new Pb().int(1, FLOAT).msg(2, shape); // TypeProto.Tensor { elem_type, shape }
  return new Pb().str(1, name).msg(2, new Pb().msg(1, tensorType)); // ValueInfoProto { name, type }
}

function initializer(name: string, dims: number[], data: Float32Array): Pb {
  const t = new Pb();
  for (const d of dims) t.int(1, d);
  // raw_data (9): the floats' little-endian bytes
  return t.int(2, FLOAT).str(8, name).bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
}

/** ONNX model bytes: Y (M,N) = Gemm(A (M,K), W, bias), W (K,N) or (N,K) with transB = 1; bias null: none. */
export function gemmModel(M: number, K: number, N: number, transW: boolean, w: Float32Array, bias: Float32Array | null): Uint8Array {
  const attr = new Pb().str(1, 'transB').int(3, transW ? 1 : 0).int(20, 2); // AttributeProto INT
  const node = new Pb().str(1, 'A').str(1, 'W');
  if (bias) node.str(1, 'bias');
  node.str(2, 'Y').str(3, 'gemm').str(4, 'Gemm').msg(5, attr);
  const graph = new Pb().msg(1, node).str(2, 'g').msg(5, initializer('W', transW ? [N, K] : [K, N], w));
  if (bias) graph.msg(5, initializer('bias', [N], bias));
  graph.msg(11, valueInfo('A', [M, K])).msg(12, valueInfo('Y', [M, N]));
  const model = new Pb().int(1, 8).str(2, 'gpt2ts-bench').msg(7, graph).msg(8, new Pb().str(1, '').int(2, 13));
  return model.toBytes();
}

interface OrtTensor { readonly data: unknown }
interface OrtSession {
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release?(): Promise<void>;
}
interface Ort {
  InferenceSession: { create(bytes: Uint8Array, opts: object): Promise<OrtSession> };
  Tensor: new (type: string, data: Float32Array, dims: number[]) => OrtTensor;
  env: { versions?: { common?: string } };
}

/** onnxruntime-node, or a reason it is missing */
export function loadOrt(): Ort | string {
  try {
    return require('onnxruntime-node') as Ort;
  } catch (e) {
    return `onnxruntime-node unavailable: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`;
  }
}

/** a prepared ORT matmul: run() does one inference */
export async function ortMatmul(ort: Ort, threads: number, M: number, K: number, N: number, transW: boolean,
  a: Float32Array, w: Float32Array, bias: Float32Array | null): Promise<{ run: () => Promise<Float32Array>; close: () => Promise<void> }> {
  const session = await ort.InferenceSession.create(gemmModel(M, K, N, transW, w, bias), {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  const feeds = { A: new ort.Tensor('float32', a, [M, K]) };
  return {
    run: async () => (await session.run(feeds)).Y.data as Float32Array,
    close: async () => { await session.release?.(); },
  };
}

interface TfTensor { dataSync(): Float32Array; dispose(): void }
interface Tf {
  setBackend(name: string): Promise<boolean>;
  ready(): Promise<void>;
  tensor2d(data: Float32Array, shape: [number, number]): TfTensor;
  tensor1d(data: Float32Array): TfTensor;
  fused: { matMul(o: { a: TfTensor; b: TfTensor; transposeB: boolean; bias?: TfTensor }): TfTensor };
  version_core?: string;
}

/** tfjs-core with the wasm backend on one thread, or a reason it is missing */
export async function loadTfWasm(): Promise<Tf | string> {
  try {
    const tf = require('@tensorflow/tfjs-core') as Tf;
    const wasm = require('@tensorflow/tfjs-backend-wasm') as { setThreadsCount?(n: number): void };
    wasm.setThreadsCount?.(1);
    if (!(await tf.setBackend('wasm'))) return 'tfjs wasm backend did not initialise';
    await tf.ready();
    return tf;
  } catch (e) {
    return `tfjs-backend-wasm unavailable: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`;
  }
}

/**
 * A prepared tfjs matmul: run() does one product and waits for it (dataSync). bias null: none
 * (tfjs-backend-wasm 4.22's fused matMul adds the bias wrongly together with transposeB, so the
 * transposed product, the lm-head, is timed without one — as the model uses it).
 */
export function tfMatmul(tf: Tf, M: number, K: number, N: number, transW: boolean, a: Float32Array, w: Float32Array, bias: Float32Array | null): { run: () => Float32Array; close: () => void } {
  if (bias && transW) throw new Error('tfMatmul: no bias with transW (tfjs-backend-wasm bug)');
  const ta = tf.tensor2d(a, [M, K]);
  const tw = tf.tensor2d(w, transW ? [N, K] : [K, N]);
  const tb = bias ? tf.tensor1d(bias) : null;
  return {
    run: () => {
      const y = tf.fused.matMul({ a: ta, b: tw, transposeB: transW, ...(tb ? { bias: tb } : {}) });
      const d = y.dataSync();
      y.dispose();
      return d;
    },
    close: () => { ta.dispose(); tw.dispose(); tb?.dispose(); },
  };
}
