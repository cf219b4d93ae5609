// A PyTorch checkpoint (`pytorch_model.bin`, `.pt`, `.pth`) opened for reading, with the same reading
// methods as SafetensorsFile so the model loader treats both alike. Either format (zip or legacy) is
// detected from the first bytes. Opening reads only the pickled structure; tensor data is read on
// demand: a contiguous F32 tensor straight into the caller's array (no intermediate copy), other dtypes
// through a bounded chunk buffer, and non-contiguous views (any strides) gathered into row-major order.
// Tensors that share a storage (tied `wte` / `lm_head`) stay one storage: `sameData` tells the loader.

import * as fs from 'node:fs';
import { DTYPE_SIZE, HOST_IS_LITTLE_ENDIAN, allocTyped, bytesOf, viewTyped, type DType, type TypedArray } from '../dtype.ts';
import { bf16BitsToF32, f16BitsToF32 } from '../half.ts';
import { TorchFormatError, openRegular, readExactAt } from './fileio.ts';
import { openLegacyCheckpoint } from './legacy-format.ts';
import type { TensorRef } from './state-dict.ts';
import { type OpenedCheckpoint, type StorageStore, openZipCheckpoint } from './zip-format.ts';

export { TorchFormatError } from './fileio.ts';

export interface TorchTensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
  stride: number[];
  /** element offset in its (root) storage */
  offset: number;
  storage: string;
}

/** bytes converted per step when upcasting (bounded extra memory) */
const CHUNK_BYTES = 1 << 20;
const FLOATS = new Set<DType>(['F32', 'F16', 'BF16', 'F64']);

export class TorchCheckpoint {
  readonly path: string;
  readonly format: 'zip' | 'legacy';
  /** the zip format's version record (null for legacy) */
  readonly version: number | null;
  readonly #tensors: Map<string, TensorRef>;
  #store: StorageStore | undefined;

  private constructor(path: string, format: 'zip' | 'legacy', opened: OpenedCheckpoint) {
    this.path = path;
    this.format = format;
    this.version = opened.version;
    this.#tensors = opened.tensors;
    this.#store = opened.store;
  }

  /** Open a checkpoint, reading its structure (not its tensor data); call close() when done. */
  static open(path: string): TorchCheckpoint {
    if (!HOST_IS_LITTLE_ENDIAN) throw new TorchFormatError(`${path}: reading PyTorch checkpoints needs a little-endian host`);
    const { fd, size } = openRegular(path);
    let handedOver = false;
    try {
      const head = new Uint8Array(Math.min(size, 512));
      readExactAt(fd, head, 0, path);
      const kind = sniff(head, path);
      if (kind === 'zip') {
        fs.closeSync(fd); // the zip reader opens its own descriptor
        handedOver = true;
        return new TorchCheckpoint(path, 'zip', openZipCheckpoint(path));
      }
      const opened = openLegacyCheckpoint(path, fd, size, () => fs.closeSync(fd));
      handedOver = true;
      return new TorchCheckpoint(path, 'legacy', opened);
    } finally {
      if (!handedOver) fs.closeSync(fd);
    }
  }

  /** tensor names in the order the state dict holds them */
  names(): string[] {
    return [...this.#tensors.keys()];
  }

  info(name: string): TorchTensorInfo {
    const t = this.#get(name);
    return { name, dtype: t.storage.dtype, shape: [...t.shape], stride: [...t.stride], offset: t.offset + (t.storage.root?.offset ?? 0), storage: t.storage.root?.key ?? t.storage.key };
  }

  /** Whether two tensors are the same view of the same storage (e.g. a tied lm_head), so equal without reading. */
  sameData(a: string, b: string): boolean {
    const x = this.info(a), y = this.info(b);
    return x.storage === y.storage && x.dtype === y.dtype && x.offset === y.offset &&
      x.shape.length === y.shape.length && x.shape.every((d, i) => d === y.shape[i] && (d === 1 || x.stride[i] === y.stride[i]));
  }

  /** The tensor in its own dtype, row-major (F16/BF16 as Uint16Array bits, I64 as BigInt64Array, U8/BOOL as Uint8Array). */
  read(name: string): TypedArray {
    const i = this.info(name);
    const out = allocTyped(i.dtype, numelOf(i.shape));
    if (isContiguous(i)) this.#storeRead(i, i.offset * DTYPE_SIZE[i.dtype], bytesOf(out));
    else gather(this.#region(i), i, out);
    return out;
  }

  /** A float tensor as float32 (F16 subnormals, BF16 exactly, F64 rounded to nearest). */
  readF32(name: string): Float32Array {
    const out = new Float32Array(numelOf(this.info(name).shape));
    this.readF32Into(name, out);
    return out;
  }

  /** Upcast a float tensor into `out` (exactly its element count): F32 contiguous goes straight in. */
  readF32Into(name: string, out: Float32Array): void {
    const i = this.info(name);
    if (!FLOATS.has(i.dtype)) throw new TorchFormatError(`${this.path}: tensor "${name}" is ${i.dtype}, not a float dtype`);
    const numel = numelOf(i.shape);
    if (out.length !== numel) throw new TorchFormatError(`${this.path}: tensor "${name}" has ${numel} elements [${i.shape.join(', ')}], output array has ${out.length}`);
    const size = DTYPE_SIZE[i.dtype];
    if (!isContiguous(i)) {
      const region = this.#region(i);
      const f32 = i.dtype === 'F32' ? (region as Float32Array) : toF32(i.dtype, region, new Float32Array(region.length));
      gather(f32, i, out);
      return;
    }
    if (i.dtype === 'F32') {
      this.#storeRead(i, i.offset * 4, bytesOf(out));
      return;
    }
    const per = CHUNK_BYTES / size;
    const chunk = new Uint8Array(Math.min(CHUNK_BYTES, numel * size));
    for (let k = 0; k < numel; k += per) {
      const n = Math.min(per, numel - k);
      this.#storeRead(i, (i.offset + k) * size, chunk.subarray(0, n * size));
      toF32(i.dtype, viewTyped(i.dtype, chunk.buffer, 0, n), out.subarray(k, k + n));
    }
  }

  close(): void {
    const s = this.#store;
    this.#store = undefined;
    s?.close();
  }

  #get(name: string): TensorRef {
    const t = this.#tensors.get(name);
    if (!t) {
      const some = this.names().slice(0, 5).map((n) => `"${n}"`).join(', ');
      throw new TorchFormatError(`${this.path}: no tensor "${name}" (has ${some || 'no tensors'}${this.#tensors.size > 5 ? `, … (${this.#tensors.size} tensors)` : ''})`);
    }
    return t;
  }

  #storeRead(i: TorchTensorInfo, byteStart: number, dest: Uint8Array): void {
    if (!this.#store) throw new TorchFormatError(`${this.path}: file is closed (reading tensor "${i.name}")`);
    this.#store.read(i.storage, byteStart, dest);
  }

  /** the storage elements a strided view spans, [offset, lastIndex], in the storage dtype */
  #region(i: TorchTensorInfo): TypedArray {
    const last = i.shape.reduce((acc, n, d) => acc + (n - 1) * i.stride[d], i.offset);
    const out = allocTyped(i.dtype, Math.max(0, last - i.offset + 1));
    if (out.length) this.#storeRead(i, i.offset * DTYPE_SIZE[i.dtype], bytesOf(out));
    return out;
  }
}

function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function isContiguous(i: TorchTensorInfo): boolean {
  let expect = 1;
  for (let d = i.shape.length - 1; d >= 0; d--) {
    if (i.shape[d] !== 1 && i.stride[d] !== expect) return false;
    expect *= i.shape[d];
  }
  return true;
}

/** out[row-major index] = region[Σ idx_d · stride_d] (region starts at the view's offset) */
function gather(region: TypedArray, i: TorchTensorInfo, out: TypedArray): void {
  const rank = i.shape.length;
  const src = region as unknown as { [k: number]: number | bigint };
  const dst = out as unknown as { [k: number]: number | bigint };
  const idx = new Array<number>(rank).fill(0);
  let at = 0;
  for (let k = 0; k < out.length; k++) {
    dst[k] = src[at];
    // odometer: bump the last dimension, carry into earlier ones
    for (let d = rank - 1; d >= 0; d--) {
      at += i.stride[d];
      if (++idx[d] < i.shape[d]) break;
      at -= i.stride[d] * i.shape[d];
      idx[d] = 0;
    }
  }
}

function toF32(dtype: DType, src: TypedArray, out: Float32Array): Float32Array {
  if (dtype === 'F16') return f16BitsToF32(src as Uint16Array, out);
  if (dtype === 'BF16') return bf16BitsToF32(src as Uint16Array, out);
  out.set(src as Float64Array | Float32Array);
  return out;
}

/** Whether a file starts like a zip or legacy torch.save checkpoint (a cheap sniff, no parsing). */
export function isTorchCheckpoint(path: string): boolean {
  const fd = fs.openSync(path, 'r');
  try {
    const head = new Uint8Array(2);
    const n = fs.readSync(fd, head, 0, 2, 0);
    return n === 2 && ((head[0] === 0x50 && head[1] === 0x4b) || (head[0] === 0x80 && head[1] >= 2 && head[1] <= 5));
  } finally {
    fs.closeSync(fd);
  }
}

/** zip or legacy, from the first bytes; anything else is a clear error */
function sniff(head: Uint8Array, path: string): 'zip' | 'legacy' {
  if (head[0] === 0x50 && head[1] === 0x4b && (head[2] === 3 || head[2] === 5)) return 'zip';
  if (head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) return 'legacy';
  const ascii = new TextDecoder('latin1').decode(head);
  if (ascii.slice(257, 262) === 'ustar') throw new TorchFormatError(`${path}: the tar-based checkpoint format of PyTorch < 0.4 is not supported; re-save it with a newer torch`);
  if (head.length >= 9 && head[8] === 0x7b) throw new TorchFormatError(`${path}: this looks like a safetensors file, not a PyTorch checkpoint; name it .safetensors`);
  throw new TorchFormatError(`${path}: not a PyTorch checkpoint (neither a zip archive nor a pickle)`);
}
