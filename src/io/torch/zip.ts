// A read-only zip reader for PyTorch checkpoints, after PKWARE's APPNOTE.TXT (6.3.x):
//
//   [local header 4.3.7][data] ... [central directory 4.3.12] [zip64 EOCD 4.3.14][zip64 locator 4.3.15][EOCD 4.3.16]
//
// Only the central directory is read up front (sizes, CRCs and offsets are authoritative there: torch
// writes its local headers with zero sizes and a data descriptor, APPNOTE 4.3.9). Entry data is read
// lazily through the file descriptor, straight into the caller's buffer for stored entries, so a
// 500 MB checkpoint is never extracted to disk nor held twice. Deflated entries (method 8) are inflated
// whole with an output cap equal to their declared size. Every entry's CRC-32 is checked the first time
// its bytes are read. Zip64 (4.3.14, 4.5.3) is read whenever its locator is present: torch always
// writes the zip64 end records, and checkpoints over 4 GiB need the 64-bit sizes and offsets.

import * as fs from 'node:fs';
import { inflateRawSync } from 'node:zlib';
import { crc32 } from './crc32.ts';
import { TorchFormatError, openRegular, readExactAt, u64 } from './fileio.ts';

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated */
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  /** uncompressed size */
  size: number;
  localHeaderOffset: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const EOCD_SIZE = 22;
const MAX_COMMENT = 0xffff;
/** the central directory is read whole: torch's has ~100 bytes per tensor, so this is generous */
const MAX_CENTRAL_DIR = 256 << 20;
/** streaming buffer for CRC checks of bytes a caller does not want */
const CHUNK = 1 << 20;

export class ZipReader {
  readonly path: string;
  readonly size: number;
  readonly entries: Map<string, ZipEntry>;
  #fd: number | undefined;
  /** entry name → absolute offset of its data (from its local header, read on first use) */
  readonly #dataStart = new Map<string, number>();
  /** entries whose CRC-32 has been checked */
  readonly #verified = new Set<string>();

  private constructor(path: string, fd: number, size: number, entries: Map<string, ZipEntry>) {
    this.path = path;
    this.#fd = fd;
    this.size = size;
    this.entries = entries;
  }

  static open(path: string): ZipReader {
    const { fd, size } = openRegular(path);
    try {
      return new ZipReader(path, fd, size, readCentralDirectory(fd, size, path));
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
  }

  close(): void {
    const fd = this.#fd;
    this.#fd = undefined;
    if (fd !== undefined) fs.closeSync(fd);
  }

  get(name: string): ZipEntry | undefined {
    return this.entries.get(name);
  }

  /** The whole (inflated, CRC-checked) content of an entry; `maxBytes` bounds what a caller will hold. */
  readAll(e: ZipEntry, maxBytes: number): Uint8Array {
    if (e.size > maxBytes) throw new TorchFormatError(`${this.path}: zip entry "${e.name}" is ${e.size} bytes, more than the ${maxBytes} allowed for it`);
    const out = new Uint8Array(e.size);
    this.readRange(e, 0, out);
    return out;
  }

  /**
   * Fill `dest` with the entry's bytes [start, start + dest.length). Stored entries are read straight into
   * `dest`; the rest of the entry is streamed through a small buffer the first time, for its CRC-32.
   */
  readRange(e: ZipEntry, start: number, dest: Uint8Array): void {
    const end = start + dest.length;
    if (start < 0 || end > e.size) {
      throw new TorchFormatError(`${this.path}: zip entry "${e.name}" has ${e.size} bytes; bytes ${start}..${end} were asked for`);
    }
    const data = this.#dataOffset(e);
    if (e.method === 8) {
      dest.set(this.#inflate(e, data).subarray(start, end));
      return;
    }
    const fd = this.#open();
    const what = `${this.path}: zip entry "${e.name}"`;
    if (this.#verified.has(e.name)) {
      readExactAt(fd, dest, data + start, what);
      return;
    }
    // one pass over the whole entry in file order: [0, start) and [end, size) through a chunk buffer,
    // [start, end) straight into dest; the CRC runs over all of it
    let crc = 0;
    const skip = (from: number, to: number): void => {
      const chunk = new Uint8Array(Math.min(CHUNK, to - from));
      for (let p = from; p < to; p += chunk.length) {
        const part = chunk.subarray(0, Math.min(chunk.length, to - p));
        readExactAt(fd, part, data + p, what);
        crc = crc32(part, crc);
      }
    };
    skip(0, start);
    readExactAt(fd, dest, data + start, what);
    crc = crc32(dest, crc);
    skip(end, e.size);
    this.#checkCrc(e, crc);
  }

  #checkCrc(e: ZipEntry, crc: number): void {
    if (crc !== e.crc32) {
      throw new TorchFormatError(`${this.path}: zip entry "${e.name}" is corrupt: CRC-32 ${hex(crc)}, the directory says ${hex(e.crc32)}`);
    }
    this.#verified.add(e.name);
  }

  #inflate(e: ZipEntry, data: number): Uint8Array {
    const packed = new Uint8Array(e.compressedSize);
    readExactAt(this.#open(), packed, data, `${this.path}: zip entry "${e.name}"`);
    let out: Uint8Array;
    try {
      // the cap makes a zip bomb fail instead of filling memory
      out = inflateRawSync(packed, { maxOutputLength: Math.max(1, e.size) });
    } catch (err) {
      throw new TorchFormatError(`${this.path}: zip entry "${e.name}" does not inflate to its declared ${e.size} bytes: ${(err as Error).message}`, { cause: err });
    }
    if (out.length !== e.size) throw new TorchFormatError(`${this.path}: zip entry "${e.name}" inflates to ${out.length} bytes, the directory says ${e.size}`);
    this.#checkCrc(e, crc32(out));
    return out;
  }

  /** Absolute offset of an entry's data: after its local header (whose extra field may differ from the central one). */
  #dataOffset(e: ZipEntry): number {
    const known = this.#dataStart.get(e.name);
    if (known !== undefined) return known;
    const h = new Uint8Array(30);
    const what = `${this.path}: local header of zip entry "${e.name}"`;
    if (e.localHeaderOffset + 30 > this.size) throw new TorchFormatError(`${what} at byte ${e.localHeaderOffset} is beyond the end of the file (${this.size} bytes)`);
    readExactAt(this.#open(), h, e.localHeaderOffset, what);
    const v = new DataView(h.buffer);
    if (v.getUint32(0, true) !== SIG_LOCAL) throw new TorchFormatError(`${what}: bad signature at byte ${e.localHeaderOffset}`);
    const start = e.localHeaderOffset + 30 + v.getUint16(26, true) + v.getUint16(28, true);
    if (start + e.compressedSize > this.size) {
      throw new TorchFormatError(`${this.path}: zip entry "${e.name}" (${e.compressedSize} bytes at ${start}) runs past the end of the file (${this.size} bytes): truncated?`);
    }
    this.#dataStart.set(e.name, start);
    return start;
  }

  #open(): number {
    if (this.#fd === undefined) throw new TorchFormatError(`${this.path}: file is closed`);
    return this.#fd;
  }
}

function hex(n: number): string {
  return '0x' + (n >>> 0).toString(16).padStart(8, '0');
}

/** Find the end records and parse the central directory (APPNOTE 4.3.12–4.3.16). */
function readCentralDirectory(fd: number, size: number, path: string): Map<string, ZipEntry> {
  if (size < EOCD_SIZE) throw new TorchFormatError(`${path}: ${size} bytes is too short for a zip file (truncated?)`);
  // the EOCD is the last record, followed only by its comment: search backwards from the end
  const tailLen = Math.min(size, EOCD_SIZE + MAX_COMMENT + 20);
  const tail = new Uint8Array(tailLen);
  readExactAt(fd, tail, size - tailLen, path);
  const tv = new DataView(tail.buffer);
  let at = -1;
  for (let i = tailLen - EOCD_SIZE; i >= 0; i--) {
    if (tv.getUint32(i, true) === SIG_EOCD && tv.getUint16(i + 20, true) === tailLen - i - EOCD_SIZE) {
      at = i;
      break;
    }
  }
  if (at < 0) throw new TorchFormatError(`${path}: no zip end-of-central-directory record (truncated or not a zip file)`);
  const eocdPos = size - tailLen + at;
  if (tv.getUint16(at + 4, true) !== 0 || tv.getUint16(at + 6, true) !== 0) throw new TorchFormatError(`${path}: multi-disk zip archives are not supported`);
  let count = tv.getUint16(at + 10, true);
  let cdSize = tv.getUint32(at + 12, true);
  let cdOffset = tv.getUint32(at + 16, true);

  // zip64: a locator right before the EOCD points at the zip64 EOCD record
  if (at >= 20 && tv.getUint32(at - 20, true) === SIG_ZIP64_LOCATOR) {
    const recPos = u64(tv, at - 20 + 8, `${path}: zip64 locator offset`);
    if (recPos + 56 > eocdPos - 20) throw new TorchFormatError(`${path}: zip64 end record offset ${recPos} is out of range`);
    const rec = new Uint8Array(56);
    readExactAt(fd, rec, recPos, `${path}: zip64 end record`);
    const rv = new DataView(rec.buffer);
    if (rv.getUint32(0, true) !== SIG_ZIP64_EOCD) throw new TorchFormatError(`${path}: bad zip64 end record signature at byte ${recPos}`);
    if (rv.getUint32(16, true) !== 0 || rv.getUint32(20, true) !== 0) throw new TorchFormatError(`${path}: multi-disk zip archives are not supported`);
    count = u64(rv, 32, `${path}: zip64 entry count`);
    cdSize = u64(rv, 40, `${path}: zip64 central directory size`);
    cdOffset = u64(rv, 48, `${path}: zip64 central directory offset`);
  } else if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    throw new TorchFormatError(`${path}: zip64 sizes without a zip64 locator (truncated?)`);
  }
  if (cdOffset + cdSize > eocdPos || cdSize > MAX_CENTRAL_DIR) {
    throw new TorchFormatError(`${path}: central directory (${cdSize} bytes at ${cdOffset}) does not fit before the end records at ${eocdPos} (truncated?)`);
  }
  if (count * 46 > cdSize) throw new TorchFormatError(`${path}: ${count} entries cannot fit a ${cdSize}-byte central directory`);
  const cd = new Uint8Array(cdSize);
  readExactAt(fd, cd, cdOffset, `${path}: central directory`);
  return parseEntries(cd, count, cdOffset, path);
}

function parseEntries(cd: Uint8Array, count: number, cdOffset: number, path: string): Map<string, ZipEntry> {
  const v = new DataView(cd.buffer, cd.byteOffset, cd.byteLength);
  const names = new TextDecoder('utf-8', { fatal: true });
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    const where = `${path}: central directory entry ${i} (byte ${cdOffset + p})`;
    if (p + 46 > cd.length || v.getUint32(p, true) !== SIG_CENTRAL) throw new TorchFormatError(`${where}: bad or missing header`);
    const nameLen = v.getUint16(p + 28, true), extraLen = v.getUint16(p + 30, true), commentLen = v.getUint16(p + 32, true);
    const next = p + 46 + nameLen + extraLen + commentLen;
    if (next > cd.length) throw new TorchFormatError(`${where}: runs past the central directory`);
    let name: string;
    try {
      name = names.decode(cd.subarray(p + 46, p + 46 + nameLen));
    } catch {
      throw new TorchFormatError(`${where}: the name is not UTF-8`);
    }
    const e: ZipEntry = {
      name,
      flags: v.getUint16(p + 8, true),
      method: v.getUint16(p + 10, true),
      crc32: v.getUint32(p + 16, true),
      compressedSize: v.getUint32(p + 20, true),
      size: v.getUint32(p + 24, true),
      localHeaderOffset: v.getUint32(p + 42, true),
    };
    applyZip64Extra(e, v, p + 46 + nameLen, extraLen, `${path}: zip entry "${name}"`);
    if (e.flags & 0x41) throw new TorchFormatError(`${path}: zip entry "${name}" is encrypted`);
    if (e.method !== 0 && e.method !== 8) throw new TorchFormatError(`${path}: zip entry "${name}" uses compression method ${e.method} (only stored and deflated are supported)`);
    if (e.method === 0 && e.size !== e.compressedSize) throw new TorchFormatError(`${path}: stored zip entry "${name}" has sizes ${e.compressedSize} and ${e.size}`);
    if (e.localHeaderOffset >= cdOffset) throw new TorchFormatError(`${path}: zip entry "${name}" starts at ${e.localHeaderOffset}, inside the central directory`);
    if (entries.has(name)) throw new TorchFormatError(`${path}: zip entry "${name}" appears twice`);
    entries.set(name, e);
    p = next;
  }
  return entries;
}

/** Replace 0xFFFFFFFF fields by their 64-bit values from the zip64 extra field (APPNOTE 4.5.3). */
function applyZip64Extra(e: ZipEntry, v: DataView, start: number, len: number, what: string): void {
  const needs = [e.size === 0xffffffff, e.compressedSize === 0xffffffff, e.localHeaderOffset === 0xffffffff];
  if (!needs.some(Boolean)) return;
  for (let p = start; p + 4 <= start + len;) {
    const id = v.getUint16(p, true), sz = v.getUint16(p + 2, true);
    if (p + 4 + sz > start + len) break;
    if (id === 0x0001) {
      let q = p + 4;
      const take = (field: string): number => {
        if (q + 8 > p + 4 + sz) throw new TorchFormatError(`${what}: zip64 extra field too short for the ${field}`);
        const x = u64(v, q, `${what}: zip64 ${field}`);
        q += 8;
        return x;
      };
      if (needs[0]) e.size = take('size');
      if (needs[1]) e.compressedSize = take('compressed size');
      if (needs[2]) e.localHeaderOffset = take('local header offset');
      return;
    }
    p += 4 + sz;
  }
  throw new TorchFormatError(`${what}: 32-bit fields are saturated but there is no zip64 extra field`);
}
