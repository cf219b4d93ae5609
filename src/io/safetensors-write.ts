// Writing safetensors files, byte-identical to the oracle's write_safetensors
// (shared/oracle/gpt2_reference.py, a Python json.dumps(sort_keys=True, separators=(",", ":"))):
//   - header keys sorted by code point (inner keys too: data_offsets, dtype, shape);
//   - "__metadata__" present when the metadata has at least one entry (the oracle's `if metadata:`);
//   - strings escaped as Python's ensure_ascii does: only printable ASCII stays literal;
//   - JSON padded with spaces to a multiple of 8 bytes;
//   - data ordered by descending item size, then name, so each tensor is aligned to its item size.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { DTYPE_SIZE, HOST_IS_LITTLE_ENDIAN, bytesOf, isDType, typedArrayName, type DType, type TypedArray } from './dtype.ts';
import { MAX_HEADER_BYTES, SafetensorsError, q } from './safetensors-header.ts';

/** A tensor to write: data in its dtype's natural typed array (F16/BF16 as Uint16Array bits, BOOL as Uint8Array). */
export interface TensorToWrite {
  dtype: DType;
  shape: number[];
  data: TypedArray;
}

/** tensors by name; the array form exists for callers whose names may repeat (rejected as duplicates) */
export type TensorsToWrite = Record<string, TensorToWrite> | ReadonlyArray<readonly [string, TensorToWrite]>;

interface Planned { name: string; dtype: DType; shape: number[]; bytes: Uint8Array }

/** the 8-byte length + padded header, and the data views in file order (no tensor data is copied) */
export interface SafetensorsPlan { head: Uint8Array; data: Uint8Array[]; byteLength: number }

/** Compare strings by Unicode code point (Python's str order), not by UTF-16 unit (JS's default). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // surrogates (astral code points) sort after U+E000..U+FFFF in code point order
    if (x >= 0xd800) x += x >= 0xe000 ? -0x800 : 0x2000;
    if (y >= 0xd800) y += y >= 0xe000 ? -0x800 : 0x2000;
    return x - y;
  }
  return a.length - b.length;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** A JSON string literal as Python's json.dumps(ensure_ascii=True) writes it. */
function pyString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c >= 0x20 && c <= 0x7e) out += s[i];
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c === 0x08) out += '\\b';
    else if (c === 0x0c) out += '\\f';
    else out += '\\u' + c.toString(16).padStart(4, '0'); // astral chars: one escape per surrogate, as Python
  }
  return out + '"';
}

function checkName(kind: string, s: unknown): string {
  if (typeof s !== 'string') throw new SafetensorsError(`${kind} must be a string, got ${typeof s}`);
  // a lone surrogate cannot be encoded as UTF-8; the Rust reader would reject the escaped form
  if (LONE_SURROGATE.test(s)) throw new SafetensorsError(`${kind} ${q(s)} is not valid Unicode (lone surrogate)`);
  return s;
}

function planTensor(name: string, t: TensorToWrite): Planned {
  const at = `tensor ${q(name)}`;
  if (typeof t !== 'object' || t === null) throw new SafetensorsError(`${at}: expected {dtype, shape, data}`);
  const { dtype, shape, data } = t;
  if (!isDType(dtype)) throw new SafetensorsError(`${at}: unknown dtype ${typeof dtype === 'string' ? JSON.stringify(dtype) : String(dtype)} (supported: ${Object.keys(DTYPE_SIZE).join(', ')})`);
  if (!Array.isArray(shape)) throw new SafetensorsError(`${at}: shape must be an array of non-negative integers`);
  let numel = 1;
  for (const d of shape as unknown[]) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new SafetensorsError(`${at}: shape [${shape.join(', ')}] must hold non-negative integers`);
    }
    numel *= d;
  }
  if (!Number.isSafeInteger(numel)) throw new SafetensorsError(`${at}: shape [${shape.join(', ')}] has too many elements`);
  const want = typedArrayName(dtype);
  const got = ArrayBuffer.isView(data) ? (data as TypedArray)[Symbol.toStringTag] : typeof data;
  if (got !== want) throw new SafetensorsError(`${at}: ${dtype} data must be a ${want}, got ${got}`);
  if (data.length !== numel) {
    throw new SafetensorsError(`${at}: shape [${shape.join(', ')}] needs ${numel} elements, data has ${data.length}`);
  }
  return { name, dtype, shape: [...shape], bytes: bytesOf(data) };
}

/** Validate everything and lay the file out; throws before any byte is written. */
export function planSafetensors(tensors: TensorsToWrite, metadata?: Record<string, string>): SafetensorsPlan {
  if (!HOST_IS_LITTLE_ENDIAN) throw new SafetensorsError('safetensors writing needs a little-endian host');
  const entries: ReadonlyArray<readonly [string, TensorToWrite]> = Array.isArray(tensors) ? tensors : Object.entries(tensors);
  const seen = new Set<string>();
  const planned: Planned[] = [];
  for (const [name, t] of entries) {
    checkName('tensor name', name);
    if (name === '__metadata__') throw new SafetensorsError('"__metadata__" is reserved and cannot name a tensor');
    if (seen.has(name)) throw new SafetensorsError(`duplicate tensor name ${q(name)}`);
    seen.add(name);
    planned.push(planTensor(name, t));
  }
  planned.sort((a, b) => DTYPE_SIZE[b.dtype] - DTYPE_SIZE[a.dtype] || compareCodePoints(a.name, b.name));

  // header members as [key, json] pairs, then sorted by key like sort_keys=True
  const members: [string, string][] = [];
  const meta = Object.entries(metadata ?? {});
  if (meta.length > 0) {
    for (const [k, v] of meta) {
      checkName('metadata key', k);
      if (typeof v !== 'string') throw new SafetensorsError(`metadata value for ${q(k)} must be a string, got ${typeof v}`);
      checkName(`metadata value for ${q(k)}`, v);
    }
    meta.sort((a, b) => compareCodePoints(a[0], b[0]));
    members.push(['__metadata__', '{' + meta.map(([k, v]) => `${pyString(k)}:${pyString(v)}`).join(',') + '}']);
  }
  let offset = 0;
  for (const p of planned) {
    const end = offset + p.bytes.byteLength;
    members.push([p.name, `{"data_offsets":[${offset},${end}],"dtype":"${p.dtype}","shape":[${p.shape.join(',')}]}`]);
    offset = end;
  }
  members.sort((a, b) => compareCodePoints(a[0], b[0]));
  let json = '{' + members.map(([k, v]) => `${pyString(k)}:${v}`).join(',') + '}';
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  if (json.length > MAX_HEADER_BYTES) throw new SafetensorsError(`header would be ${json.length} bytes, over the ${MAX_HEADER_BYTES}-byte limit`);

  // the JSON is pure ASCII (pyString escapes the rest), so one byte per char
  const head = new Uint8Array(8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(json.length), true);
  for (let i = 0; i < json.length; i++) head[8 + i] = json.charCodeAt(i);
  return { head, data: planned.map((p) => p.bytes), byteLength: head.length + offset };
}

/** The whole file in memory. */
export function serializeSafetensors(tensors: TensorsToWrite, metadata?: Record<string, string>): Uint8Array {
  const plan = planSafetensors(tensors, metadata);
  const out = new Uint8Array(plan.byteLength);
  out.set(plan.head, 0);
  let pos = plan.head.length;
  for (const d of plan.data) { out.set(d, pos); pos += d.byteLength; }
  return out;
}

/** writeSync until every byte is out (a single call may write less; keep each call under 1 GiB) */
function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) {
    done += fs.writeSync(fd, bytes, done, Math.min(bytes.byteLength - done, 1 << 30));
  }
}

/**
 * Write atomically: validate, write a temp file in the target's directory, fsync, rename over the
 * target, fsync the directory. The target name never holds a partial file; on any failure the temp file
 * is removed and an existing target is left as it was. Tensor data is written from the caller's arrays
 * (no second copy of a large model in memory).
 */
export function writeSafetensors(file: string, tensors: TensorsToWrite, metadata?: Record<string, string>): void {
  const plan = planSafetensors(tensors, metadata);
  const dir = path.dirname(path.resolve(file));
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Math.random().toString(36).slice(2, 10)}.tmp`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx'); // wx: never reuse someone else's file
    writeAll(fd, plan.head);
    for (const d of plan.data) writeAll(fd, d);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, file);
  } catch (e) {
    if (fd !== undefined) try { fs.closeSync(fd); } catch { /* already failing */ }
    try { fs.unlinkSync(tmp); } catch { /* never created, or already gone with its directory */ }
    throw new SafetensorsError(`${file}: cannot write safetensors file: ${(e as Error).message}`, { cause: e });
  }
  // make the rename durable; not possible everywhere (e.g. Windows), and the file is complete either way
  try {
    const dfd = fs.openSync(dir, 'r');
    try { fs.fsyncSync(dfd); } finally { fs.closeSync(dfd); }
  } catch { /* best effort */ }
}
