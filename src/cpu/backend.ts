// The CPU backend: the Backend interface over Float32Array / Int32Array, one file per layer.
// Ops run synchronously when called; read* and sync resolve at once.

import type { Backend, KVLayer } from '../backend.ts';
import { attentionCached, attentionForward, kvCacheWrite } from './attention.ts';
import { encoderForward } from './encoder.ts';
import { geluForward } from './gelu.ts';
import { layernormForward } from './layernorm.ts';
import { matmulForwardNaive } from './matmul.ts';
import { residualForward } from './residual.ts';
import { argmax, softmaxForward } from './softmax.ts';

export type CpuBuf = Float32Array;
export type CpuIntBuf = Int32Array;

export class CpuBackend implements Backend<Float32Array, Int32Array> {
  readonly name = 'cpu';
  readonly description = 'CPU (JavaScript, 1 thread)';

  allocF32(n: number): Float32Array {
    return new Float32Array(n);
  }
  allocI32(n: number): Int32Array {
    return new Int32Array(n);
  }
  upload(data: Float32Array): Float32Array {
    return data;
  }
  view(buf: Float32Array, offset: number, n: number): Float32Array {
    if (offset < 0 || offset + n > buf.length) throw new RangeError(`view [${offset}, ${offset + n}) outside a buffer of ${buf.length}`);
    return buf.subarray(offset, offset + n);
  }
  writeF32(dst: Float32Array, src: Float32Array, dstOffset = 0): void {
    dst.set(src, dstOffset);
  }
  writeI32(dst: Int32Array, src: Int32Array): void {
    dst.set(src);
  }
  copyF32(dst: Float32Array, dstOffset: number, src: Float32Array, srcOffset: number, n: number): void {
    dst.set(src.subarray(srcOffset, srcOffset + n), dstOffset);
  }
  zero(buf: Float32Array, n: number): void {
    buf.fill(0, 0, n);
  }
  readF32(src: Float32Array, n = src.length): Promise<Float32Array> {
    return Promise.resolve(src.slice(0, n));
  }
  readI32(src: Int32Array, n = src.length): Promise<Int32Array> {
    return Promise.resolve(src.slice(0, n));
  }
  sync(): Promise<void> {
    return Promise.resolve();
  }
  free(_buf: Float32Array | Int32Array): void {}
  dispose(): void {}

  encoderForward(out: Float32Array, ids: Int32Array, wte: Float32Array, wpe: Float32Array, B: number, T: number, C: number, pos0: number): void {
    encoderForward(out, ids, wte, wpe, B, T, C, pos0);
  }
  layernormForward(out: Float32Array, mean: Float32Array | null, rstd: Float32Array | null, inp: Float32Array, w: Float32Array, b: Float32Array, N: number, C: number, eps: number): void {
    layernormForward(out, mean, rstd, inp, w, b, N, C, eps);
  }
  matmulForward(out: Float32Array, inp: Float32Array, w: Float32Array, bias: Float32Array | null, M: number, K: number, N: number, transW: boolean): void {
    matmulForwardNaive(out, inp, w, bias, M, K, N, transW);
  }
  attentionForward(out: Float32Array, att: Float32Array | null, qkv: Float32Array, mask: Int32Array | null, maskStride: number, B: number, T: number, C: number, NH: number, scale: number): void {
    attentionForward(out, att, qkv, mask, maskStride, B, T, C, NH, scale);
  }
  kvCacheWrite(cache: KVLayer<Float32Array>, qkv: Float32Array, B: number, T: number, C: number, NH: number, pos0: number, cap: number): void {
    kvCacheWrite(cache, qkv, B, T, C, NH, pos0, cap);
  }
  attentionCached(out: Float32Array, qkv: Float32Array, cache: KVLayer<Float32Array>, mask: Int32Array | null, maskStride: number, B: number, T: number, C: number, NH: number, pos0: number, cap: number, scale: number): void {
    attentionCached(out, qkv, cache, mask, maskStride, B, T, C, NH, pos0, cap, scale);
  }
  geluForward(out: Float32Array, inp: Float32Array, n: number): void {
    geluForward(out, inp, n);
  }
  residualForward(out: Float32Array, a: Float32Array, b: Float32Array, n: number): void {
    residualForward(out, a, b, n);
  }
  softmaxForward(probs: Float32Array, logits: Float32Array, rows: number, V: number): void {
    softmaxForward(probs, logits, rows, V);
  }
  argmax(out: Int32Array, logits: Float32Array, rows: number, V: number): void {
    argmax(out, logits, rows, V);
  }
}
