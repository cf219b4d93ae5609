// Corrupted safetensors files: each rule gets its own specific SafetensorsError (checked by message, through
// both fromBytes and open()), and random corruption never produces another error type or a hang.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { DTYPE_SIZE, SafetensorsError, SafetensorsFile, serializeSafetensors } from '../src/io/safetensors.ts';

const tmp = mkdtempSync(join(tmpdir(), 'gpt2ts-st-fuzz-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** a file from an 8-byte length (default: the header's byte length), a header and data bytes */
function build(header: string | object, data: Uint8Array | number = 0, length?: bigint): Uint8Array {
  const h = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const d = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + h.length + d.length);
  new DataView(out.buffer).setBigUint64(0, length ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(d, 8 + h.length);
  return out;
}
const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) { out.set(p, pos); pos += p.length; }
  return out;
};
const f32 = (n: number, begin: number) => ({ dtype: 'F32', shape: [n], data_offsets: [begin, begin + 4 * n] });

/** the same bytes parsed in memory and from a file must fail with the same message */
function expectError(bytes: Uint8Array, re: RegExp): void {
  let msg = '';
  try {
    SafetensorsFile.fromBytes(bytes, 'bad.safetensors');
  } catch (e) {
    expect(e).toBeInstanceOf(SafetensorsError);
    msg = (e as Error).message;
  }
  expect(msg).toMatch(/^bad\.safetensors: /);
  expect(msg).toMatch(re);
  const path = join(tmp, 'bad.safetensors');
  writeFileSync(path, bytes);
  let fileMsg = '';
  try {
    SafetensorsFile.open(path);
  } catch (e) {
    expect(e).toBeInstanceOf(SafetensorsError);
    fileMsg = (e as Error).message;
  }
  expect(fileMsg).toBe(msg.replace(/^bad\.safetensors/, path));
}

// a valid file: a (I64 [2]) at [0,16], b (F32 [2,3]) at [16,40], c (F16 [3]) at [40,46]
const valid = serializeSafetensors({
  a: { dtype: 'I64', shape: [2], data: new BigInt64Array([1n, 2n]) },
  b: { dtype: 'F32', shape: [2, 3], data: new Float32Array(6).fill(0.5) },
  c: { dtype: 'F16', shape: [3], data: new Uint16Array([0x3c00, 1, 0x7c00]) },
}, { format: 'pt' });
const hlen = Number(new DataView(valid.buffer).getBigUint64(0, true));
const dataStart = 8 + hlen;

describe('truncation at every region', () => {
  it('the valid base file parses', () => {
    const st = SafetensorsFile.fromBytes(valid, 'ok');
    expect(st.names()).toEqual(['a', 'b', 'c']);
  });
  it.each([0, 1, 5, 7])('inside the length field (%i bytes)', (n) => {
    expectError(valid.slice(0, n), new RegExp(`file is ${n} bytes, too short for a safetensors file`));
  });
  it.each([8, 9, dataStart - 1])('inside the header (%i bytes)', (n) => {
    expectError(valid.slice(0, n), new RegExp(`header length ${hlen} exceeds the ${n - 8} bytes after the length field \\(truncated file\\?\\)`));
  });
  it.each([['a', 0], ['a', 15], ['b', 16], ['b', 30], ['c', 40], ['c', 45]] as const)('inside tensor %s (data cut at %i)', (name, cut) => {
    expectError(valid.slice(0, dataStart + cut), new RegExp(`tensor "${name}": data_offsets \\[\\d+, \\d+\\] run past the end of the data section \\(${cut} bytes; truncated file\\?\\)`));
  });
  it('at the very end (one byte missing)', () => {
    expectError(valid.slice(0, -1), /tensor "c": data_offsets \[40, 46\] run past the end of the data section \(45 bytes/);
  });
});

describe('one error per rule', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['header length past the end', build(f32(1, 0), 4, 100n), /header length 100 exceeds the \d+ bytes after the length field/],
    ['header length near 2^64', build('{}', 0, 0xfffffffffffffff0n), /header length 18446744073709551600 is over the 100000000-byte limit/],
    ['header length > 100 MB', build('{}', 0, 100_000_001n), /header length 100000001 is over the 100000000-byte limit/],
    ['bad JSON', build('{"a": {"dtype": "F32",'), /header is not valid JSON \(/],
    ['bad JSON: a byte-order mark', cat(build('\ufeff{}')), /header is not valid JSON/],
    ['invalid UTF-8', cat(new Uint8Array([4, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0xff, 0x7d, 0x20])), /header is not valid UTF-8/],
    ['header an array', build('[1,2]'), /header must be a JSON object, got an array of length 2/],
    ['header a string', build('"x"'), /header must be a JSON object, got string "x"/],
    ['header null', build('null'), /header must be a JSON object, got null/],
    ['metadata non-string value', build({ __metadata__: { format: 'pt', n: 1 } }), /__metadata__ value for "n" must be a string, got number 1/],
    ['metadata not an object', build({ __metadata__: ['pt'] }), /__metadata__ must be an object of strings, got an array/],
    ['entry not an object', build({ a: 3 }), /tensor "a": entry must be an object, got number 3/],
    ['unknown dtype', build({ a: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, 1), /tensor "a": unknown dtype string "F8_E4M3" \(supported: F64, F32/],
    ['missing dtype', build({ a: { shape: [1], data_offsets: [0, 1] } }, 1), /tensor "a": unknown dtype nothing \(missing\)/],
    ['negative shape', build({ a: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 4] } }, 4), /tensor "a": shape\[1\] must be a non-negative integer, got number -1/],
    ['fractional shape', build({ a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, 4), /tensor "a": shape\[0\] must be a non-negative integer, got number 1\.5/],
    ['string in shape', build({ a: { dtype: 'F32', shape: ['1'], data_offsets: [0, 4] } }, 4), /tensor "a": shape\[0\] must be a non-negative integer, got string "1"/],
    ['shape not an array', build({ a: { dtype: 'F32', shape: 1, data_offsets: [0, 4] } }, 4), /tensor "a": shape must be an array, got number 1/],
    ['shape missing', build({ a: { dtype: 'F32', data_offsets: [0, 4] } }, 4), /tensor "a": shape must be an array, got nothing/],
    ['data_offsets of one number', build({ a: { dtype: 'F32', shape: [1], data_offsets: [4] } }, 4), /tensor "a": data_offsets must be \[begin, end\] of non-negative integers, got an array of length 1/],
    ['data_offsets negative', build({ a: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }, 4), /tensor "a": data_offsets must be \[begin, end\]/],
    ['data_offsets beyond 2^53', build('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,18446744073709551615]}}', 4), /tensor "a": data_offsets must be \[begin, end\]/],
    ['data_offsets begin > end', build({ a: { dtype: 'F32', shape: [1], data_offsets: [8, 4] } }, 8), /tensor "a": data_offsets \[8, 4\] has begin > end/],
    ['wrong byte length for the shape', build({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8), /tensor "a": shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 8\] hold 8/],
    ['numel overflow', build({ a: { dtype: 'F64', shape: [2 ** 52, 2 ** 52, 2 ** 52], data_offsets: [0, 8] } }, 8), /tensor "a": shape \[4503599627370496, 4503599627370496, 4503599627370496\] of F64 needs more than 8 bytes/],
    ['offsets not starting at 0', build({ a: f32(2, 4) }, 12), /tensor "a": data starts at offset 4, not 0/],
    ['overlapping offsets', build({ a: f32(2, 0), b: f32(2, 4) }, 12), /tensor "b" data_offsets \[4, 12\] overlap tensor "a" \[0, 8\]/],
    ['gapped offsets', build({ a: f32(2, 0), b: f32(2, 12) }, 20), /gap of 4 bytes between tensor "a" \[0, 8\] and tensor "b" \[12, 20\]/],
    ['trailing bytes', cat(valid, new Uint8Array(3)), /3 trailing bytes after the last tensor "c" \[40, 46\] \(data section is 49 bytes\)/],
    ['data but no tensors', build({ __metadata__: {} }, 5), /5 trailing bytes with no tensors/],
    ['duplicate tensor', build('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 4), /duplicate key "a" at the top level of the header/],
    ['duplicate via escape', build('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"\\u0061":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 4), /duplicate key "a" at the top level/],
    ['duplicate field in an entry', build('{"a":{"dtype":"F16","dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 4), /duplicate key "dtype" in "a" of the header/],
    ['duplicate metadata key', build('{"__metadata__":{"k":"1","k":"2"}}'), /duplicate key "k" in "__metadata__"/],
  ];
  it.each(cases)('%s', (_, bytes, re) => expectError(bytes, re));

  it('a million-deep nested shape is an error, not a stack overflow', () => {
    const d = 1_000_000;
    const header = `{"a":{"dtype":"F32","shape":[${'['.repeat(d)}${']'.repeat(d)}],"data_offsets":[0,0]}}`;
    expectError(build(header), /tensor "a": shape\[0\] must be a non-negative integer, got an array of length 1/);
  });

  it('valid edge cases: empty tensors (also two at one offset), a scalar, no tensors at all', () => {
    const st = SafetensorsFile.fromBytes(build({ e1: { dtype: 'F32', shape: [0, 5], data_offsets: [0, 0] }, s: f32(1, 0), e2: { dtype: 'I8', shape: [3, 0], data_offsets: [4, 4] }, e3: { dtype: 'U8', shape: [0], data_offsets: [4, 4] } }, 4), 'ok');
    expect(st.names()).toEqual(['e1', 's', 'e2', 'e3']);
    expect(st.read('e2').length).toBe(0);
    expect(SafetensorsFile.fromBytes(build({ s: { dtype: 'F32', shape: [], data_offsets: [0, 4] } }, 4), 'ok').info('s').shape).toEqual([]);
    expect(SafetensorsFile.fromBytes(build('{}'), 'ok').names()).toEqual([]);
    // extra keys in an entry are ignored, as the reference implementation does
    expect(SafetensorsFile.fromBytes(build({ s: { ...f32(1, 0), extra: 1 } }, 4), 'ok').names()).toEqual(['s']);
  });

  it('open() on a missing file or a directory is a SafetensorsError naming the path', () => {
    expect(() => SafetensorsFile.open(join(tmp, 'nope.safetensors'))).toThrow(/nope\.safetensors: cannot open: ENOENT/);
    expect(() => SafetensorsFile.open(tmp)).toThrow(/: not a regular file/);
  });
});

describe('random corruption (fast-check)', () => {
  // a richer base: every dtype, metadata, sizes that straddle alignment
  const base = serializeSafetensors(Object.fromEntries((Object.keys(DTYPE_SIZE) as (keyof typeof DTYPE_SIZE)[]).map((d, i) => {
    const n = i + 1;
    const data = d === 'F64' ? new Float64Array(n) : d === 'F32' ? new Float32Array(n) : d === 'I64' ? new BigInt64Array(n) : d === 'I32' ? new Int32Array(n)
      : d === 'I16' ? new Int16Array(n) : d === 'I8' ? new Int8Array(n) : d === 'F16' || d === 'BF16' ? new Uint16Array(n) : new Uint8Array(n);
    return [`t.${d}`, { dtype: d, shape: [n], data }];
  })), { format: 'pt', note: 'fuzz' });
  const baseHeader = 8 + Number(new DataView(base.buffer).getBigUint64(0, true));

  /** mutations: byte overwrites, mostly inside the length + header where they matter, and an optional cut;
   * one run in ten only overwrites tensor data (a file that must still parse) */
  const headerMutation = fc.record({
    flips: fc.array(fc.tuple(fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: baseHeader - 1 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: base.length - 1 }) }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
    cut: fc.option(fc.integer({ min: 0, max: base.length }), { freq: 3 }),
  });
  const dataMutation = fc.record({
    flips: fc.array(fc.tuple(fc.integer({ min: baseHeader, max: base.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
    cut: fc.constant(null),
  });
  const mutation = fc.oneof({ weight: 9, arbitrary: headerMutation }, { weight: 1, arbitrary: dataMutation });

  /** parsed: every tensor readable, sizes consistent, offsets tiling the data section */
  function selfConsistent(st: SafetensorsFile, size: number): void {
    let pos = 0;
    for (const n of st.names()) {
      const t = st.info(n);
      expect(t.dataOffsets[0]).toBe(pos);
      pos = t.dataOffsets[1];
      const a = st.read(n);
      expect(a.byteLength).toBe(t.dataOffsets[1] - t.dataOffsets[0]);
      expect(a.length).toBe(t.shape.reduce((x, y) => x * y, 1));
      if (['F64', 'F32', 'F16', 'BF16'].includes(t.dtype)) expect(st.readF32(n).length).toBe(a.length);
    }
    expect(st.dataStart + pos).toBe(size);
  }

  it('random byte flips and truncations parse consistently or throw SafetensorsError', () => {
    const path = join(tmp, 'fuzz.safetensors');
    let parsed = 0;
    let rejected = 0;
    fc.assert(fc.property(mutation, ({ flips, cut }) => {
      const bytes = base.slice(0, cut ?? base.length);
      for (const [at, v] of flips) if (at < bytes.length) bytes[at] = v;
      writeFileSync(path, bytes);
      for (const open of [() => SafetensorsFile.fromBytes(bytes, 'fuzz'), () => SafetensorsFile.open(path)]) {
        let st: SafetensorsFile | undefined;
        try {
          st = open();
        } catch (e) {
          if (!(e instanceof SafetensorsError)) throw e;
          rejected++;
          continue;
        }
        parsed++;
        try { selfConsistent(st, bytes.length); } finally { st.close(); }
      }
    }), { numRuns: 1500, seed: 20261125 }); // fixed seed: the coverage counts below are reproducible
    // both outcomes must actually be exercised
    expect(parsed).toBeGreaterThan(20);
    expect(rejected).toBeGreaterThan(500);
  });
});
