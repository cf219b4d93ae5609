// safetensors reader (and the writer's exports): https://github.com/huggingface/safetensors#format
//
//   [u64 LE header length N][N bytes of JSON header][data section: each tensor's raw LE bytes]
//
// open() reads only the header through a file descriptor and validates it against the file size; tensor
// data is read on demand, straight into the caller's array. So a 500 MB F32 model is loaded into one flat
// Float32Array with readF32Into, never held twice. fromBytes() works on a file already in memory and
// returns zero-copy views where alignment allows.
// Little-endian hosts only (see HOST_IS_LITTLE_ENDIAN): data is reinterpreted with typed arrays.

import * as fs from 'node:fs';
import { DTYPE_SIZE, HOST_IS_LITTLE_ENDIAN, allocTyped, bytesOf, viewTyped, type DType, type TypedArray } from './dtype.ts';
import { bf16BitsToF32, f16BitsToF32 } from './half.ts';
import { SafetensorsError, fmtShape, parseHeader, q, readHeaderLength, type TensorInfo } from './safetensors-header.ts';

export { DTYPES, DTYPE_SIZE, isDType, type DType, type TypedArray } from './dtype.ts';
export { MAX_HEADER_BYTES, SafetensorsError, type TensorInfo } from './safetensors-header.ts';
export { bf16BitsToF32, f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from './half.ts';
export {
  compareCodePoints, planSafetensors, serializeSafetensors, writeSafetensors,
  type SafetensorsPlan, type TensorToWrite, type TensorsToWrite,
} from './safetensors-write.ts';

/** bytes converted per step when upcasting from a file or an unaligned buffer (bounded extra memory) */
const CHUNK_BYTES = 1 << 20;
/** largest single fs.readSync (its length argument must fit an int32) */
const MAX_READ = 1 << 30;

function isFloat(d: DType): boolean {
  return d === 'F64' || d === 'F32' || d === 'F16' || d === 'BF16';
}

export class SafetensorsFile {
  /** the file path (open) or the name given to fromBytes, used in every error message */
  readonly path: string;
  readonly metadata: Record<string, string>;
  readonly tensors: Map<string, TensorInfo>;
  /** absolute byte offset of the data section: 8 + header length */
  readonly dataStart: number;
  /** tensor names sorted by data offset */
  readonly #order: string[];
  /** exactly one of these is set while open: the whole file (fromBytes) or a descriptor (open) */
  #bytes: Uint8Array | undefined;
  #fd: number | undefined;

  private constructor(path: string, header: ReturnType<typeof parseHeader>, dataStart: number, bytes: Uint8Array | undefined, fd: number | undefined) {
    this.path = path;
    this.metadata = header.metadata;
    this.tensors = header.tensors;
    this.#order = header.order;
    this.dataStart = dataStart;
    this.#bytes = bytes;
    this.#fd = fd;
  }

  /** Open a file, reading and validating only its header; call close() when done. */
  static open(path: string): SafetensorsFile {
    if (!HOST_IS_LITTLE_ENDIAN) throw new SafetensorsError(`${path}: safetensors reading needs a little-endian host`);
    let fd: number;
    try {
      fd = fs.openSync(path, 'r');
    } catch (e) {
      throw new SafetensorsError(`${path}: cannot open: ${(e as Error).message}`, { cause: e });
    }
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile()) throw new SafetensorsError(`${path}: not a regular file`);
      const size = st.size;
      const prefix = new Uint8Array(8);
      readExact(fd, prefix.subarray(0, Math.min(8, size)), 0, path);
      const hlen = readHeaderLength(prefix, size, path);
      const headerBytes = new Uint8Array(hlen);
      readExact(fd, headerBytes, 8, path);
      const header = parseHeader(headerBytes, size - 8 - hlen, path);
      return new SafetensorsFile(path, header, 8 + hlen, undefined, fd);
    } catch (e) {
      fs.closeSync(fd);
      if (e instanceof SafetensorsError) throw e;
      throw new SafetensorsError(`${path}: cannot read: ${(e as Error).message}`, { cause: e });
    }
  }

  /** Parse a whole file held in memory. Results of read() may be views into `bytes` (not copies). */
  static fromBytes(bytes: Uint8Array, name: string): SafetensorsFile {
    if (!HOST_IS_LITTLE_ENDIAN) throw new SafetensorsError(`${name}: safetensors reading needs a little-endian host`);
    const hlen = readHeaderLength(bytes, bytes.length, name);
    const header = parseHeader(bytes.subarray(8, 8 + hlen), bytes.length - 8 - hlen, name);
    return new SafetensorsFile(name, header, 8 + hlen, bytes, undefined);
  }

  /** tensor names sorted by data offset (header order carries no meaning) */
  names(): string[] {
    return [...this.#order];
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (t === undefined) {
      const some = this.#order.slice(0, 5).map(q).join(', ');
      const more = this.#order.length > 5 ? `, … (${this.#order.length} tensors)` : '';
      throw new SafetensorsError(`${this.path}: no tensor ${q(name)} (has ${some || 'no tensors'}${more})`);
    }
    return t;
  }

  /**
   * The tensor in its own dtype (F16/BF16 as Uint16Array bits, BOOL as Uint8Array, I64 as BigInt64Array).
   * fromBytes: a zero-copy view when the data is aligned to its item size, else one copy.
   * open: one read straight into a new array.
   */
  read(name: string): TypedArray {
    const t = this.info(name);
    const [begin, end] = t.dataOffsets;
    const size = DTYPE_SIZE[t.dtype];
    const numel = (end - begin) / size;
    const bytes = this.#bytes;
    if (bytes !== undefined) {
      const abs = bytes.byteOffset + this.dataStart + begin;
      if (abs % size === 0) return viewTyped(t.dtype, bytes.buffer, abs, numel);
      const copy = bytes.slice(this.dataStart + begin, this.dataStart + end);
      return viewTyped(t.dtype, copy.buffer, 0, numel);
    }
    const out = allocTyped(t.dtype, numel);
    this.#readBytes(bytesOf(out), this.dataStart + begin, t);
    return out;
  }

  /**
   * Any float tensor as float32: F32 as read() gives it (possibly a view, see read), F64 rounded to
   * nearest, F16 (subnormals, inf, NaN included) and BF16 exactly. Integer and BOOL tensors are an
   * error: converting token ids to floats silently is never what a caller of this method wants.
   */
  readF32(name: string): Float32Array {
    const t = this.#floatInfo(name);
    if (t.dtype === 'F32') return this.read(name) as Float32Array;
    const out = new Float32Array((t.dataOffsets[1] - t.dataOffsets[0]) / DTYPE_SIZE[t.dtype]);
    this.readF32Into(name, out);
    return out;
  }

  /**
   * Upcast a float tensor into `out` (exactly its element count), e.g. a view of a model's flat
   * parameter buffer. F32 from open(): fs.readSync straight into out's bytes, no intermediate copy.
   * F16/BF16/F64: converted through a bounded chunk buffer (1 MiB), or directly from an aligned view.
   */
  readF32Into(name: string, out: Float32Array): void {
    const t = this.#floatInfo(name);
    const [begin, end] = t.dataOffsets;
    const size = DTYPE_SIZE[t.dtype];
    const numel = (end - begin) / size;
    if (out.length !== numel) {
      throw new SafetensorsError(`${this.path}: tensor ${q(name)} has ${numel} elements ${fmtShape(t.shape)}, output array has ${out.length}`);
    }
    if (t.dtype === 'F32') {
      this.#readBytes(bytesOf(out), this.dataStart + begin, t); // fd: readSync into out; bytes: one memcpy
      return;
    }
    const bytes = this.#bytes;
    if (bytes !== undefined && (bytes.byteOffset + this.dataStart + begin) % size === 0) {
      convert(t.dtype, viewTyped(t.dtype, bytes.buffer, bytes.byteOffset + this.dataStart + begin, numel), out);
      return;
    }
    const perChunk = CHUNK_BYTES / size;
    const chunk = new Uint8Array(Math.min(CHUNK_BYTES, end - begin));
    for (let i = 0; i < numel; i += perChunk) {
      const n = Math.min(perChunk, numel - i);
      this.#readBytes(chunk.subarray(0, n * size), this.dataStart + begin + i * size, t);
      convert(t.dtype, viewTyped(t.dtype, chunk.buffer, 0, n), out.subarray(i, i + n));
    }
  }

  /** Close the file descriptor (open) or drop the buffer (fromBytes); later reads throw. Idempotent. */
  close(): void {
    const fd = this.#fd;
    this.#fd = undefined;
    this.#bytes = undefined;
    if (fd !== undefined) fs.closeSync(fd);
  }

  #floatInfo(name: string): TensorInfo {
    const t = this.info(name);
    if (!isFloat(t.dtype)) {
      throw new SafetensorsError(`${this.path}: tensor ${q(name)} is ${t.dtype}, not a float dtype; use read() for integer data`);
    }
    return t;
  }

  /** fill `dest` from absolute file offset `pos` */
  #readBytes(dest: Uint8Array, pos: number, t: TensorInfo): void {
    if (this.#bytes !== undefined) {
      dest.set(this.#bytes.subarray(pos, pos + dest.byteLength));
    } else if (this.#fd !== undefined) {
      try {
        readExact(this.#fd, dest, pos, `${this.path}: tensor ${q(t.name)}`);
      } catch (e) {
        if (e instanceof SafetensorsError) throw e;
        throw new SafetensorsError(`${this.path}: tensor ${q(t.name)}: read failed: ${(e as Error).message}`, { cause: e });
      }
    } else {
      throw new SafetensorsError(`${this.path}: file is closed (reading tensor ${q(t.name)})`);
    }
  }
}

/** F64 / F16 / BF16 source elements into float32 `out` (same length) */
function convert(dtype: DType, src: TypedArray, out: Float32Array): void {
  if (dtype === 'F16') f16BitsToF32(src as Uint16Array, out);
  else if (dtype === 'BF16') bf16BitsToF32(src as Uint16Array, out);
  else out.set(src as Float64Array); // F64 -> F32: round to nearest even
}

/** readSync until `dest` is full; a short file (changed since the header was read) is an error */
function readExact(fd: number, dest: Uint8Array, pos: number, what: string): void {
  let done = 0;
  while (done < dest.byteLength) {
    const n = fs.readSync(fd, dest, done, Math.min(dest.byteLength - done, MAX_READ), pos + done);
    if (n === 0) throw new SafetensorsError(`${what}: unexpected end of file at byte ${pos + done} (file changed while reading?)`);
    done += n;
  }
}
