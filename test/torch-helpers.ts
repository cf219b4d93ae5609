// Test helpers for the PyTorch checkpoint reader: a tiny pickle assembler (to craft hostile or broken
// pickles opcode by opcode) and a zip writer (to re-pack a real checkpoint as deflated or zip64).

import { deflateRawSync } from 'node:zlib';
import { crc32 } from '../src/io/torch/crc32.ts';
import { ZipReader } from '../src/io/torch/zip.ts';

const enc = new TextEncoder();

export function concat(...parts: (Uint8Array | number[])[]): Uint8Array {
  const arrays = parts.map((p) => (p instanceof Uint8Array ? p : Uint8Array.from(p)));
  const out = new Uint8Array(arrays.reduce((n, a) => n + a.length, 0));
  let at = 0;
  for (const a of arrays) { out.set(a, at); at += a.length; }
  return out;
}

function u32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

/** Opcodes, by pickletools name, as bytes to concatenate. */
export const P = {
  proto: (v = 2) => [0x80, v],
  stop: [0x2e],
  mark: [0x28],
  none: [0x4e],
  tuple: [0x74],
  tuple1: [0x85],
  tuple2: [0x86],
  tuple3: [0x87],
  emptyTuple: [0x29],
  emptyList: [0x5d],
  emptyDict: [0x7d],
  append: [0x61],
  setitem: [0x73],
  setitems: [0x75],
  reduce: [0x52],
  build: [0x62],
  binpersid: [0x51],
  newobj: [0x81],
  newfalse: [0x89],
  int: (n: number): number[] => {
    if (n >= 0 && n < 256) return [0x4b, n];
    if (n >= -(2 ** 31) && n < 2 ** 31) return [0x4a, ...u32(n)];
    // LONG1: little-endian two's complement, shortest form
    const bytes: number[] = [];
    let x = BigInt(n);
    do { bytes.push(Number(x & 0xffn)); x >>= 8n; } while (x !== 0n && x !== -1n);
    if ((bytes[bytes.length - 1] & 0x80) !== (n < 0 ? 0x80 : 0)) bytes.push(n < 0 ? 0xff : 0);
    return [0x8a, bytes.length, ...bytes];
  },
  str: (s: string) => { const b = enc.encode(s); return concat([0x58, ...u32(b.length)], b); },
  global: (module: string, name: string) => concat([0x63], enc.encode(`${module}\n${name}\n`)),
  stackGlobal: (module: string, name: string) => concat(P.str(module), P.str(name), [0x93]),
  binput: (i: number) => [0x71, i],
  binget: (i: number) => [0x68, i],
};

/** A pickle from opcode parts: PROTO 2 + parts + STOP. */
export function pickle(...parts: (Uint8Array | number[])[]): Uint8Array {
  return concat(P.proto(2), ...parts, P.stop);
}

/** ('storage', torch.<cls>, key, 'cpu', numel) BINPERSID */
export function storagePid(cls: string, key: string, numel: number): Uint8Array {
  return concat(P.mark, P.str('storage'), P.global('torch', cls), P.str(key), P.str('cpu'), P.int(numel), P.tuple, P.binpersid);
}

/** _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()) as a REDUCE */
export function tensor(storage: Uint8Array, offset: number, size: number[], stride: number[]): Uint8Array {
  const tup = (xs: number[]) => concat(P.mark, ...xs.map(P.int), P.tuple);
  return concat(
    P.global('torch._utils', '_rebuild_tensor_v2'),
    P.mark, storage, P.int(offset), tup(size), tup(stride), P.newfalse,
    P.global('collections', 'OrderedDict'), P.emptyTuple, P.reduce, P.tuple, P.reduce,
  );
}

export interface ZipFileEntry { name: string; data: Uint8Array }

/** All entries of a zip file, in directory order (read with our reader). */
export function readZipEntries(path: string): ZipFileEntry[] {
  const z = ZipReader.open(path);
  try {
    return [...z.entries.values()].map((e) => ({ name: e.name, data: z.readAll(e, 1 << 30) }));
  } finally {
    z.close();
  }
}

/**
 * A zip file (PKWARE APPNOTE) of `entries`: stored or deflated, optionally with zip64 records and zip64 extra
 * fields in the central directory (32-bit fields set to 0xFFFFFFFF), as writers do for files over 4 GiB.
 */
export function writeZip(entries: ZipFileEntry[], opts: { deflate?: boolean; zip64?: boolean } = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = enc.encode(e.name);
    const body = opts.deflate ? deflateRawSync(e.data) : e.data;
    const method = opts.deflate ? 8 : 0;
    const crc = crc32(e.data);
    const local = new DataView(new ArrayBuffer(30));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, 20, true);
    local.setUint16(8, method, true);
    local.setUint32(14, crc, true);
    local.setUint32(18, body.length, true);
    local.setUint32(22, e.data.length, true);
    local.setUint16(26, name.length, true);
    parts.push(new Uint8Array(local.buffer), name, body);
    const extra = opts.zip64 ? new DataView(new ArrayBuffer(28)) : null;
    if (extra) {
      extra.setUint16(0, 0x0001, true);
      extra.setUint16(2, 24, true);
      extra.setBigUint64(4, BigInt(e.data.length), true);
      extra.setBigUint64(12, BigInt(body.length), true);
      extra.setBigUint64(20, BigInt(offset), true);
    }
    const c = new DataView(new ArrayBuffer(46));
    c.setUint32(0, 0x02014b50, true);
    c.setUint16(4, 45, true);
    c.setUint16(6, opts.zip64 ? 45 : 20, true);
    c.setUint16(10, method, true);
    c.setUint32(16, crc, true);
    c.setUint32(20, opts.zip64 ? 0xffffffff : body.length, true);
    c.setUint32(24, opts.zip64 ? 0xffffffff : e.data.length, true);
    c.setUint16(28, name.length, true);
    c.setUint16(30, extra ? extra.byteLength : 0, true);
    c.setUint32(42, opts.zip64 ? 0xffffffff : offset, true);
    central.push(new Uint8Array(c.buffer), name, extra ? new Uint8Array(extra.buffer) : new Uint8Array(0));
    offset += 30 + name.length + body.length;
  }
  const cd = concat(...central);
  const cdOffset = offset;
  const tail: Uint8Array[] = [cd];
  if (opts.zip64) {
    const rec = new DataView(new ArrayBuffer(56));
    rec.setUint32(0, 0x06064b50, true);
    rec.setBigUint64(4, 44n, true);
    rec.setUint16(12, 45, true);
    rec.setUint16(14, 45, true);
    rec.setBigUint64(24, BigInt(entries.length), true);
    rec.setBigUint64(32, BigInt(entries.length), true);
    rec.setBigUint64(40, BigInt(cd.length), true);
    rec.setBigUint64(48, BigInt(cdOffset), true);
    const loc = new DataView(new ArrayBuffer(20));
    loc.setUint32(0, 0x07064b50, true);
    loc.setBigUint64(8, BigInt(cdOffset + cd.length), true);
    loc.setUint32(16, 1, true);
    tail.push(new Uint8Array(rec.buffer), new Uint8Array(loc.buffer));
  }
  const eocd = new DataView(new ArrayBuffer(22));
  eocd.setUint32(0, 0x06054b50, true);
  eocd.setUint16(8, opts.zip64 ? 0xffff : entries.length, true);
  eocd.setUint16(10, opts.zip64 ? 0xffff : entries.length, true);
  eocd.setUint32(12, opts.zip64 ? 0xffffffff : cd.length, true);
  eocd.setUint32(16, opts.zip64 ? 0xffffffff : cdOffset, true);
  tail.push(new Uint8Array(eocd.buffer));
  return concat(...parts, ...tail);
}
