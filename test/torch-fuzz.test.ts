// Broken and hostile checkpoints fail with a clear TorchFormatError — never another exception, a crash,
// a hang or a huge allocation: truncated zips and legacy files, bad CRCs, pickles cut short, wrong
// opcodes, storage and string sizes beyond the file, deep nesting, and random byte mutations.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModelFiles } from '../src/io/model.ts';
import { BufferSource } from '../src/io/torch/bytes.ts';
import { TorchCheckpoint, TorchFormatError } from '../src/io/torch/checkpoint.ts';
import { unpickle } from '../src/io/torch/pickle.ts';
import { STATE_DICT_GLOBALS, type StorageRef, storageFromPid, tensorsOf } from '../src/io/torch/state-dict.ts';
import { ZipReader } from '../src/io/torch/zip.ts';
import { fixtureDir } from './helpers/fixtures.ts';
import { P, concat, pickle, readZipEntries, storagePid, tensor, writeZip } from './torch-helpers.ts';

const TORCH = fixtureDir('torch');
const tmp = mkdtempSync(join(tmpdir(), 'gpt2ts-torch-fuzz-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const TINY_ZIP = join(TORCH, 'gpt2-tiny-zip', 'pytorch_model.bin');
const TINY_LEGACY = join(TORCH, 'gpt2-tiny-legacy', 'pytorch_model.bin');

let n = 0;
function file(bytes: Uint8Array): string {
  const p = join(tmp, `f${n++}.bin`);
  writeFileSync(p, bytes);
  return p;
}

/** open and read every tensor; returns normally or throws */
function readEverything(path: string): void {
  const c = TorchCheckpoint.open(path);
  try {
    for (const name of c.names()) {
      const dtype = c.info(name).dtype;
      if (['F32', 'F16', 'BF16', 'F64'].includes(dtype)) c.readF32(name);
      else c.read(name);
    }
  } finally {
    c.close();
  }
}

/** the error thrown, which must be a TorchFormatError */
function formatError(f: () => void): string {
  try {
    f();
  } catch (e) {
    if (!(e instanceof TorchFormatError)) throw new Error(`expected a TorchFormatError, got ${String(e)}`, { cause: e });
    return e.message;
  }
  throw new Error('expected an error, none was thrown');
}

function unpickleStateDict(bytes: Uint8Array): unknown {
  const storages = new Map<string, StorageRef>();
  const root = unpickle(new BufferSource(bytes, 'fuzz.pkl'), { what: 'fuzz.pkl', globals: STATE_DICT_GLOBALS, persistentLoad: (pid) => storageFromPid(pid, storages) });
  return tensorsOf(root, 'fuzz.pkl');
}

/** absolute offset of a zip entry's data (from its local header) */
function dataOffset(bytes: Uint8Array, path: string, name: string): { start: number; size: number } {
  const z = ZipReader.open(path);
  const e = z.get(name);
  z.close();
  if (!e) throw new Error(`no ${name}`);
  const v = new DataView(bytes.buffer, bytes.byteOffset);
  return { start: e.localHeaderOffset + 30 + v.getUint16(e.localHeaderOffset + 26, true) + v.getUint16(e.localHeaderOffset + 28, true), size: e.size };
}

const cuts = (size: number) => [...new Set([0, 1, 2, 21, 22, 64, 200, size - 1, size - 21, size - 22, size - 23, size - 100,
  ...Array.from({ length: 40 }, (_, i) => Math.floor((size * i) / 40))])].filter((c) => c >= 0 && c < size);

describe('truncated files', () => {
  it.each([['zip', TINY_ZIP], ['legacy', TINY_LEGACY]])('every cut of the %s checkpoint is a clear error', (_fmt, src) => {
    const bytes = readFileSync(src);
    for (const cut of cuts(bytes.length)) {
      const msg = formatError(() => readEverything(file(bytes.subarray(0, cut))));
      expect(msg, `cut at ${cut}`).toMatch(/truncated|too short|not a PyTorch checkpoint|end of (the )?file|beyond the end/);
    }
  });

  it('the model loader reports a truncated checkpoint with its path', () => {
    const bytes = readFileSync(TINY_LEGACY);
    const p = file(bytes.subarray(0, bytes.length - 1000));
    expect(() => loadModelFiles(p)).toThrow(new RegExp(`${p}: storage .* beyond the end of the file`));
  });

  it('a zip entry whose directory size runs past the end of the file', () => {
    const bytes = new Uint8Array(readFileSync(TINY_ZIP));
    const path = file(bytes);
    const z = ZipReader.open(path);
    const e = z.get('pytorch_model/data/0');
    z.close();
    // patch the central directory record of data/0: sizes → 0x7fffffff
    const name = new TextEncoder().encode('pytorch_model/data/0');
    const v = new DataView(bytes.buffer);
    for (let p = 0; p + 46 < bytes.length; p++) {
      if (v.getUint32(p, true) === 0x02014b50 && v.getUint32(p + 42, true) === e?.localHeaderOffset && bytes.subarray(p + 46, p + 46 + name.length).every((b, i) => b === name[i])) {
        v.setUint32(p + 20, 0x7fffffff, true);
        v.setUint32(p + 24, 0x7fffffff, true);
      }
    }
    expect(formatError(() => readEverything(file(bytes)))).toMatch(/runs past the end of the file .*truncated/);
  });
});

describe('bad CRCs', () => {
  it('a flipped byte in a storage is caught when that tensor is read', () => {
    const bytes = new Uint8Array(readFileSync(TINY_ZIP));
    const { start, size } = dataOffset(bytes, TINY_ZIP, 'pytorch_model/data/0');
    bytes[start + Math.floor(size / 2)] ^= 0x01;
    const p = file(bytes);
    expect(formatError(() => readEverything(p))).toMatch(/zip entry "pytorch_model\/data\/0" is corrupt: CRC-32 0x[0-9a-f]{8}, the directory says 0x[0-9a-f]{8}/);
    expect(() => loadModelFiles(p)).toThrow(/CRC-32/);
  });

  it('a flipped byte in data.pkl is caught on open', () => {
    const bytes = new Uint8Array(readFileSync(TINY_ZIP));
    const { start } = dataOffset(bytes, TINY_ZIP, 'pytorch_model/data.pkl');
    bytes[start + 40] ^= 0x20;
    expect(formatError(() => TorchCheckpoint.open(file(bytes)))).toMatch(/data\.pkl" is corrupt: CRC-32/);
  });

  it('a corrupt deflated entry is caught (inflate error or CRC)', () => {
    const entries = readZipEntries(join(TORCH, 'misc', 'dtypes.zip.bin'));
    const bytes = new Uint8Array(writeZip(entries, { deflate: true }));
    const storage = entries.find((e) => /\/data\/\d+$/.test(e.name) && e.data.length >= 16);
    const { start } = dataOffset(bytes, file(bytes), storage?.name ?? '');
    bytes[start + 2] ^= 0xff;
    expect(formatError(() => readEverything(file(bytes)))).toMatch(/is corrupt: CRC-32|does not inflate|inflates to \d+ bytes/);
  });
});

describe('pickles', () => {
  const pkl = (() => {
    const bytes = readFileSync(TINY_ZIP);
    const { start, size } = dataOffset(bytes, TINY_ZIP, 'pytorch_model/data.pkl');
    return bytes.subarray(start, start + size);
  })();

  it('the real data.pkl unpickles, and every shorter prefix of it is a clear error', () => {
    expect((unpickleStateDict(pkl) as Map<string, unknown>).size).toBe(33);
    for (let cut = 0; cut < pkl.length; cut++) {
      const msg = formatError(() => unpickleStateDict(pkl.subarray(0, cut)));
      expect(msg, `cut at ${cut}`).toMatch(/truncated|needs \d+ more bytes|unterminated/);
    }
  });

  it('wrong opcodes anywhere: a TorchFormatError or a valid result, nothing else', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: pkl.length - 1 }), fc.integer({ min: 0, max: 255 }), (at, byte) => {
      const m = pkl.slice();
      m[at] = byte;
      try {
        unpickleStateDict(m);
      } catch (e) {
        if (!(e instanceof TorchFormatError)) throw e;
      }
    }), { numRuns: 3000 });
  });

  it.each([
    ['an unknown opcode', pickle([0xff]), /is not a pickle opcode/],
    ['a protocol newer than 5', concat([0x80, 6], P.stop), /protocol 6 is newer than 5/],
    ['a 4 GiB string length', pickle([0x58, 0xf0, 0xff, 0xff, 0xff]), /declares 4294967280 bytes, only 1 remain/],
    ['a 2^62-byte BINBYTES8', pickle([0x8e, 0, 0, 0, 0, 0, 0, 0, 0x40]), /declares 4611686018427387904 bytes/],
    ['a huge LONG4', pickle([0x8b, 0, 0, 0x10, 0]), /declares a 1048576-byte integer/],
    ['a memo entry never stored', pickle(P.binget(7)), /memo entry 7 was never stored/],
    ['POP on an empty stack', pickle([0x30]), /pops from an empty stack/],
    ['popping below a MARK', pickle(P.int(1), P.mark, [0x30]), /pops from an empty stack/],
    ['a missing MARK', pickle(P.int(1), P.tuple), /no MARK to pop to/],
    ['5000 nested MARKs', pickle(...Array.from({ length: 5000 }, () => P.mark)), /nests more than 4096 MARKs/],
    ['2 million DUPs', pickle(P.int(1), new Uint8Array(2_000_000).fill(0x32)), /more than 1048576 items on the pickle stack/],
    ['SETITEM on a list', pickle(P.emptyList, P.str('k'), P.int(1), P.setitem), /sets items on a list, not a dict/],
    ['a tuple as a dict key', pickle(P.emptyDict, P.emptyTuple, P.int(1), P.setitem), /uses a tuple as a dict key/],
    ['STOP inside a MARK', pickle(P.mark, P.int(1)), /ends inside a MARK/],
  ])('%s', (_label, bytes, re) => {
    expect(formatError(() => unpickleStateDict(bytes))).toMatch(re);
  });

  it('200 000 nested tuples do not overflow the JS stack (the reader is a loop), and are no state dict', () => {
    const deep = pickle(P.none, new Uint8Array(200_000).fill(0x85));
    expect(formatError(() => unpickleStateDict(deep))).toMatch(/holds a tuple, not a state dict/);
  });
});

describe('storage sizes beyond the file', () => {
  const od = () => concat(P.global('collections', 'OrderedDict'), P.emptyTuple, P.reduce);
  const zipWith = (pkl: Uint8Array, storages: [string, number][]) => file(writeZip([
    { name: 'archive/data.pkl', data: pkl },
    ...storages.map(([key, bytes]) => ({ name: `archive/data/${key}`, data: new Uint8Array(bytes) })),
    { name: 'archive/version', data: new TextEncoder().encode('3\n') },
  ]));

  it('a storage declaring 2^40 elements over a 16-byte record', () => {
    const pkl = pickle(od(), P.str('w'), tensor(storagePid('FloatStorage', '0', 2 ** 40), 0, [4], [1]), P.setitem);
    const p = zipWith(pkl, [['0', 16]]);
    expect(formatError(() => readEverything(p))).toMatch(/storage "0" needs 4398046511104 bytes \(1099511627776 × F32\), its record has 16/);
  });

  it('a tensor reaching past its storage', () => {
    const pkl = pickle(od(), P.str('w'), tensor(storagePid('FloatStorage', '0', 4), 2, [2, 2], [2, 1]), P.setitem);
    expect(formatError(() => readEverything(zipWith(pkl, [['0', 16]])))).toMatch(/reaches element 5 of storage "0", which has 4/);
  });

  it('a storage referenced by the pickle but missing from the zip', () => {
    const pkl = pickle(od(), P.str('w'), tensor(storagePid('FloatStorage', '9', 4), 0, [4], [1]), P.setitem);
    expect(formatError(() => readEverything(zipWith(pkl, [['0', 16]])))).toMatch(/storage "9" has no record archive\/data\/9/);
  });

  it('a legacy storage count of 2^40 elements', () => {
    const bytes = new Uint8Array(readFileSync(join(TORCH, 'misc', 'dtypes.legacy.bin')));
    // the first storage header follows the five pickles (magic, protocol, sys_info, state dict, keys)
    const src = new BufferSource(bytes, 'legacy');
    const storages = new Map<string, StorageRef>();
    for (let i = 0; i < 5; i++) unpickle(src, { what: 'legacy', globals: STATE_DICT_GLOBALS, persistentLoad: (pid) => storageFromPid(pid, storages) });
    new DataView(bytes.buffer).setBigInt64(src.pos, 1n << 40n, true);
    expect(formatError(() => readEverything(file(bytes)))).toMatch(/declares 1099511627776 elements .* beyond the end of the file/);
  });
});

describe('random mutations of whole files', () => {
  it.each(['zip', 'legacy'])('%s: 1–3 flipped bytes give a TorchFormatError or a readable file', (fmt) => {
    const src = readFileSync(join(TORCH, 'misc', `dtypes.${fmt}.bin`));
    const p = join(tmp, `mut-${fmt}.bin`);
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(src.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 3 }), (flips) => {
      const m = new Uint8Array(src);
      for (const [at, x] of flips) m[at] ^= x;
      writeFileSync(p, m);
      try {
        readEverything(p);
      } catch (e) {
        if (!(e instanceof TorchFormatError)) throw e;
      }
    }), { numRuns: 400 });
  });
});
