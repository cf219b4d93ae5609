// CRC-32 as zip uses it (PKWARE APPNOTE 4.4.7: polynomial 0xEDB88320, reflected, init and final xor
// 0xFFFFFFFF). Node ≥ 20.15 ships zlib.crc32 (native, fast); elsewhere (older Node, Deno builds without
// it) a table-driven fallback computes the same value.

import * as zlib from 'node:zlib';

type Crc32Fn = (data: Uint8Array, value?: number) => number;

const native: Crc32Fn | undefined = (zlib as { crc32?: Crc32Fn }).crc32;

let table: Uint32Array | undefined;

function crcTable(): Uint32Array {
  if (table) return table;
  table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/** The table-driven CRC-32 (exported so tests can compare it with the native one). */
export function crc32Js(data: Uint8Array, value = 0): number {
  const t = crcTable();
  let c = (value ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) c = t[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** CRC-32 of `data`, continuing from `value` (the CRC of the bytes before it; 0 to start). */
export function crc32(data: Uint8Array, value = 0): number {
  return native ? native(data, value) >>> 0 : crc32Js(data, value);
}
