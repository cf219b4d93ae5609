// Parsing and validating a safetensors header. Layout:
//   [8 bytes: header length N, u64 little-endian][N bytes: UTF-8 JSON object][data section]
// The JSON maps each tensor name to {dtype, shape, data_offsets: [begin, end]} (offsets relative to
// the data section) plus an optional "__metadata__": {string: string}.
// Every rule below is checked with a SafetensorsError that names the file and the tensor, so a bad
// file is one clear line, never a crash, a hang or a huge allocation.

import { DTYPE_SIZE, isDType, type DType } from './dtype.ts';
import { findDuplicateKey } from './json-keys.ts';

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
}

export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
  /** byte offsets relative to the start of the data section, as in the header */
  dataOffsets: [number, number];
}

/** the reference implementation's limit on the JSON header */
export const MAX_HEADER_BYTES = 100_000_000;

export interface ParsedHeader {
  metadata: Record<string, string>;
  tensors: Map<string, TensorInfo>;
  /** tensor names sorted by data offset */
  order: string[];
}

/** a tensor name for an error message: JSON-quoted, cut short if huge */
export function q(name: string): string {
  const s = JSON.stringify(name);
  return s.length > 120 ? `${s.slice(0, 100)}…" (${name.length} chars)` : s;
}

/** a shape for an error message, cut short if it has many dimensions */
export function fmtShape(shape: readonly number[]): string {
  return shape.length > 8 ? `[${shape.slice(0, 8).join(', ')}, … (${shape.length} dims)]` : `[${shape.join(', ')}]`;
}

/** a short description of an unexpected JSON value for an error message */
function describe(v: unknown): string {
  if (v === undefined) return 'nothing (missing)';
  if (v === null) return 'null';
  // never JSON.stringify containers: a deeply nested one would overflow the stack
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof v === 'object') return 'an object';
  const s = JSON.stringify(v);
  return `${typeof v} ${s.length > 40 ? s.slice(0, 40) + '…' : s}`;
}

/**
 * The header length from the first 8 bytes, checked against the limit and the file size before anything
 * is allocated. Read as a BigInt so a value near 2^64 is an error, not a wrapped or rounded number.
 */
export function readHeaderLength(prefix: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8) {
    throw new SafetensorsError(`${file}: file is ${fileSize} bytes, too short for a safetensors file (needs an 8-byte header length)`);
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(`${file}: header length ${n} is over the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
  }
  const len = Number(n);
  if (len > fileSize - 8) {
    throw new SafetensorsError(`${file}: header length ${len} exceeds the ${fileSize - 8} bytes after the length field (truncated file?)`);
  }
  return len;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }); // keep a BOM so JSON.parse rejects it

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Decode, parse and validate the JSON header; `dataSize` is the file size minus 8 minus the header. */
export function parseHeader(bytes: Uint8Array, dataSize: number, file: string): ParsedHeader {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new SafetensorsError(`${file}: header is not valid UTF-8`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(`${file}: header is not valid JSON (${(e as Error).message.slice(0, 200)})`);
  }
  if (!isObject(json)) throw new SafetensorsError(`${file}: header must be a JSON object, got ${describe(json)}`);
  const dup = findDuplicateKey(text);
  if (dup !== undefined) {
    const where = dup.path.length === 0 ? 'at the top level' : `in ${dup.path.map(q).join(' > ')}`;
    throw new SafetensorsError(`${file}: duplicate key ${q(dup.key)} ${where} of the header`);
  }

  const metadata = parseMetadata(json['__metadata__'], file);
  const tensors = new Map<string, TensorInfo>();
  for (const [name, entry] of Object.entries(json)) {
    if (name === '__metadata__') continue;
    tensors.set(name, parseEntry(name, entry, file));
  }
  const order = checkLayout(tensors, dataSize, file);
  return { metadata, tensors, order };
}

function parseMetadata(meta: unknown, file: string): Record<string, string> {
  if (meta === undefined) return {};
  if (!isObject(meta)) throw new SafetensorsError(`${file}: __metadata__ must be an object of strings, got ${describe(meta)}`);
  const entries = Object.entries(meta);
  for (const [k, v] of entries) {
    if (typeof v !== 'string') throw new SafetensorsError(`${file}: __metadata__ value for ${q(k)} must be a string, got ${describe(v)}`);
  }
  // fromEntries defines own properties, so a "__proto__" key stays data rather than a prototype
  return Object.fromEntries(entries) as Record<string, string>;
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function parseEntry(name: string, entry: unknown, file: string): TensorInfo {
  const at = `${file}: tensor ${q(name)}`;
  if (!isObject(entry)) throw new SafetensorsError(`${at}: entry must be an object, got ${describe(entry)}`);
  // extra keys are ignored, as the reference (Rust) implementation does
  const { dtype, shape, data_offsets: offs } = entry;
  if (!isDType(dtype)) throw new SafetensorsError(`${at}: unknown dtype ${describe(dtype)} (supported: ${Object.keys(DTYPE_SIZE).join(', ')})`);
  if (!Array.isArray(shape)) throw new SafetensorsError(`${at}: shape must be an array, got ${describe(shape)}`);
  shape.forEach((d: unknown, i) => {
    if (!isNonNegInt(d)) throw new SafetensorsError(`${at}: shape[${i}] must be a non-negative integer, got ${describe(d)}`);
  });
  if (!Array.isArray(offs) || offs.length !== 2 || !isNonNegInt(offs[0]) || !isNonNegInt(offs[1])) {
    throw new SafetensorsError(`${at}: data_offsets must be [begin, end] of non-negative integers, got ${describe(offs)}`);
  }
  const [begin, end] = offs as [number, number];
  if (begin > end) throw new SafetensorsError(`${at}: data_offsets [${begin}, ${end}] has begin > end`);
  // numel without overflow: any 0 makes it 0; otherwise stop as soon as the bytes exceed the span
  const size = DTYPE_SIZE[dtype];
  const dims = shape as number[];
  const span = end - begin;
  let bytes = dims.includes(0) ? 0 : size;
  let complete = true;
  for (const d of dims) {
    if (bytes > span) { complete = false; break; } // already too big: stop before the product overflows
    bytes *= d;
  }
  if (bytes !== span) {
    const need = complete ? `${bytes}` : `more than ${span}`;
    throw new SafetensorsError(`${at}: shape ${fmtShape(dims)} of ${dtype} needs ${need} bytes but data_offsets [${begin}, ${end}] hold ${span}`);
  }
  return Object.freeze({ name, dtype, shape: Object.freeze([...dims]) as number[], dataOffsets: Object.freeze([begin, end]) as [number, number] });
}

/** Offsets, sorted, must tile [0, dataSize) exactly: start at 0, no gap, no overlap, no trailing bytes. */
function checkLayout(tensors: Map<string, TensorInfo>, dataSize: number, file: string): string[] {
  const list = [...tensors.values()].sort(
    (a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1] || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  const span = (t: TensorInfo) => `[${t.dataOffsets[0]}, ${t.dataOffsets[1]}]`;
  let pos = 0;
  let prev: TensorInfo | undefined;
  for (const t of list) {
    const begin = t.dataOffsets[0];
    if (prev === undefined && begin !== 0) {
      throw new SafetensorsError(`${file}: tensor ${q(t.name)}: data starts at offset ${begin}, not 0 (gap at the start of the data section)`);
    }
    if (prev !== undefined && begin < pos) {
      throw new SafetensorsError(`${file}: tensor ${q(t.name)} data_offsets ${span(t)} overlap tensor ${q(prev.name)} ${span(prev)}`);
    }
    if (prev !== undefined && begin > pos) {
      throw new SafetensorsError(`${file}: gap of ${begin - pos} bytes between tensor ${q(prev.name)} ${span(prev)} and tensor ${q(t.name)} ${span(t)}`);
    }
    // checked here, in offset order, so a truncated file names the first tensor it cuts into
    if (t.dataOffsets[1] > dataSize) {
      throw new SafetensorsError(`${file}: tensor ${q(t.name)}: data_offsets ${span(t)} run past the end of the data section (${dataSize} bytes; truncated file?)`);
    }
    pos = t.dataOffsets[1];
    prev = t;
  }
  if (pos !== dataSize) {
    const after = prev === undefined ? 'with no tensors' : `after the last tensor ${q(prev.name)} ${span(prev)}`;
    throw new SafetensorsError(`${file}: ${dataSize - pos} trailing bytes ${after} (data section is ${dataSize} bytes)`);
  }
  return list.map((t) => t.name);
}
