// Cross-checks with other readers/writers: files we write are read the same by
//   (a) the npm `safetensors` package (0.0.1: raw bytes + dtype/shape only, and it cannot parse files
//       with a "__metadata__" entry: it maps every header entry's data_offsets, so those files are
//       written without metadata for it; its failure on metadata is pinned below);
//   (b) the Python oracle's read_safetensors (test/oracle/gpt2_reference.py, numpy), and the oracle's
//       write_safetensors produces byte-identical files for the same tensors (non-ASCII names included).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DTYPES, DTYPE_SIZE, SafetensorsFile, serializeSafetensors, writeSafetensors, type DType, type TensorToWrite, type TypedArray,
} from '../src/io/safetensors.ts';

const FIX = join(import.meta.dirname, 'fixtures/gpt2-tiny');
const ORACLE_DIR = join(import.meta.dirname, 'oracle');
const tmp = mkdtempSync(join(tmpdir(), 'gpt2ts-st-cross-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const bytes = (a: TypedArray) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const sha = (a: TypedArray) => createHash('sha256').update(bytes(a)).digest('hex');

/** random files over every dtype (random bytes, so NaNs/odd values included), shapes with zeros and scalars */
function typed(dtype: DType, raw: Uint8Array): TypedArray {
  const b = new Uint8Array(dtype === 'BOOL' ? raw.map((v) => v & 1) : raw);
  const n = b.length / DTYPE_SIZE[dtype];
  switch (dtype) {
    case 'F64': return new Float64Array(b.buffer, 0, n);
    case 'F32': return new Float32Array(b.buffer, 0, n);
    case 'F16': case 'BF16': return new Uint16Array(b.buffer, 0, n);
    case 'I64': return new BigInt64Array(b.buffer, 0, n);
    case 'I32': return new Int32Array(b.buffer, 0, n);
    case 'I16': return new Int16Array(b.buffer, 0, n);
    case 'I8': return new Int8Array(b.buffer, 0, n);
    default: return b;
  }
}
const tensorArb = (dtype: DType) => fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }).chain((shape) => {
  const nbytes = shape.reduce((a, b) => a * b, 1) * DTYPE_SIZE[dtype];
  return fc.uint8Array({ minLength: nbytes, maxLength: nbytes }).map((raw): TensorToWrite => ({ dtype, shape, data: typed(dtype, raw) }));
});
const filesArb = fc.uniqueArray(fc.tuple(fc.string({ unit: 'binary', minLength: 1, maxLength: 10 }).filter((s) => s !== '__metadata__'), fc.constantFrom(...DTYPES)), { selector: (t) => t[0], minLength: 1, maxLength: 8 })
  .chain((list) => fc.tuple(...list.map(([n, d]) => tensorArb(d).map((t) => [n, t] as const))))
  .map((entries) => Object.fromEntries(entries));

describe('npm safetensors package', () => {
  interface PeerFile { metadata: Map<string, { dtype: string; shape: number[] }>; getTensor(name: string): Uint8Array }
  const { SafeTensor } = createRequire(import.meta.url)('safetensors') as { SafeTensor: new (b: Uint8Array) => PeerFile };
  // the peer reads the length through `bytes.buffer`, ignoring byteOffset: give it a fresh, offset-0 array
  const load = (path: string) => new SafeTensor(new Uint8Array(readFileSync(path)));

  it('reads the dtype, shape and bytes of every tensor we write (random files, every dtype)', () => {
    const path = join(tmp, 'peer.safetensors');
    fc.assert(fc.property(filesArb, (tensors) => {
      writeSafetensors(path, tensors);
      const peer = load(path);
      const ours = SafetensorsFile.open(path);
      expect(new Set(peer.metadata.keys())).toEqual(new Set(ours.names()));
      for (const n of ours.names()) {
        expect(peer.metadata.get(n)).toMatchObject({ dtype: ours.info(n).dtype, shape: ours.info(n).shape });
        expect(Buffer.from(peer.getTensor(n)).equals(Buffer.from(bytes(ours.read(n))))).toBe(true);
        expect(Buffer.from(peer.getTensor(n)).equals(Buffer.from(bytes(tensors[n].data)))).toBe(true);
      }
      ours.close();
    }), { numRuns: 100 });
  });

  it('reads the fixture weights the same once rewritten without metadata', () => {
    const st = SafetensorsFile.open(join(FIX, 'model.safetensors'));
    const t: Record<string, TensorToWrite> = {};
    for (const n of st.names()) t[n] = { dtype: st.info(n).dtype, shape: st.info(n).shape, data: st.read(n) };
    const path = join(tmp, 'model-nometa.safetensors');
    writeSafetensors(path, t);
    const peer = load(path);
    for (const n of st.names()) {
      const v = peer.getTensor(n);
      expect(Buffer.from(v).equals(Buffer.from(bytes(st.readF32(n))))).toBe(true);
    }
    st.close();
  });

  it('known limitation of the peer (0.0.1): a file with __metadata__ makes it throw a TypeError', () => {
    expect(() => load(join(FIX, 'model.safetensors'))).toThrow(TypeError);
  });
});

// --- Python oracle -------------------------------------------------------------------------------
const PY = '/usr/bin/python3';
const pyCheck = spawnSync(PY, ['-c', 'import numpy, torch'], { encoding: 'utf8' });
const noPython = pyCheck.status !== 0
  ? `skipped: ${PY} cannot import numpy and torch (${(pyCheck.error?.message ?? pyCheck.stderr).trim().split('\n').pop()})`
  : '';

// Reads each file with the oracle and prints, per tensor, dtype/shape and the sha256 of the array it
// returns (F16/BF16 upcast to float32, everything else native), plus metadata. With "--write DIR" it also
// writes oracle-made files for the writer comparison.
const PY_SCRIPT = String.raw`
import hashlib, json, sys
sys.path.insert(0, sys.argv[1])
import numpy as np
from gpt2_reference import read_safetensors, write_safetensors, encode_tensor
out = {}
for path in sys.argv[3:]:
    tensors, meta, header = read_safetensors(path)
    out[path] = {"metadata": meta, "tensors": {
        k: {"dtype": header[k]["dtype"], "shape": list(v.shape), "sha": hashlib.sha256(np.ascontiguousarray(v).tobytes()).hexdigest()}
        for k, v in tensors.items()}}
# oracle-written file: non-ASCII and escaped names/metadata, every dtype
names = ["plain", "caf\u00e9", "emoji \U0001F600", "quote\"back\\slash", "tab\tnl\n", "del\x7f", "\ue000 private", "z"]
dts = ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "U8"]
entries = []
for i, (n, d) in enumerate(zip(names, dts)):
    arr = np.arange(i + 2, dtype=np.float64) * 0.37 - 0.5
    entries.append((n, d, (i + 2,), encode_tensor(arr if d.startswith(("F", "B")) else np.arange(i + 2), d)))
entries.append(("flags", "BOOL", (3,), encode_tensor(np.array([True, False, True]), "BOOL")))
write_safetensors(sys.argv[2], entries, {"format": "pt", "n\u00f6te": "\u00fcber \U0001F600 \"q\"", "\u00e9": "x"})
print(json.dumps(out))
`;

interface PyTensor { dtype: DType; shape: number[]; sha: string }

describe('Python oracle (gpt2_reference.py)', () => {
  it.skipIf(noPython !== '')(`reads our files the same, and writes byte-identical files ${noPython}`, () => {
    // fixtures, a fixed file with awkward names/metadata, and random files over every dtype
    const files = ['model', 'model.f16', 'model.bf16', 'model.with-attn-bias', 'expected'].map((m) => join(FIX, `${m}.safetensors`));
    const odd = join(tmp, 'odd.safetensors');
    writeSafetensors(odd, {
      'é': { dtype: 'F32', shape: [], data: new Float32Array([1.5]) },
      '😀 "x"\n': { dtype: 'BF16', shape: [2], data: new Uint16Array([0x3f80, 0x0001]) },
      'h': { dtype: 'F16', shape: [4], data: new Uint16Array([0x0001, 0x03ff, 0x8400, 0x7bff]) },
      'empty': { dtype: 'I64', shape: [0, 3], data: new BigInt64Array(0) },
      'b': { dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 0]) },
    }, { format: 'pt', 'ünï': '😀 \u007f', '\ue000': '\ud83d\ude00' });
    files.push(odd);
    fc.sample(filesArb, { numRuns: 25, seed: 20240611 }).forEach((t, i) => {
      const p = join(tmp, `rand${i}.safetensors`);
      writeSafetensors(p, t, i % 2 === 0 ? { seed: String(i) } : undefined);
      files.push(p);
    });
    const oracleFile = join(tmp, 'oracle-written.safetensors');
    const r = spawnSync(PY, ['-c', PY_SCRIPT, ORACLE_DIR, oracleFile, ...files], { encoding: 'utf8', maxBuffer: 64 << 20 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const py = JSON.parse(r.stdout) as Record<string, { metadata: Record<string, string> | null; tensors: Record<string, PyTensor> }>;

    for (const f of files) {
      const st = SafetensorsFile.open(f);
      expect(py[f].metadata ?? {}).toEqual(st.metadata);
      expect(new Set(Object.keys(py[f].tensors))).toEqual(new Set(st.names()));
      for (const n of st.names()) {
        const t = st.info(n);
        const half = t.dtype === 'F16' || t.dtype === 'BF16';
        // the oracle upcasts F16/BF16 to float32 (numpy astype / bit shift): our readF32 must match bit for bit
        expect({ name: n, dtype: t.dtype, shape: t.shape, sha: sha(half ? st.readF32(n) : st.read(n)) })
          .toEqual({ name: n, dtype: py[f].tensors[n].dtype, shape: py[f].tensors[n].shape, sha: py[f].tensors[n].sha });
      }
      st.close();
    }

    // the oracle's writer and ours agree byte for byte, Python's ensure_ascii escapes and key order included
    const theirs = SafetensorsFile.open(oracleFile);
    const again: Record<string, TensorToWrite> = {};
    for (const n of theirs.names()) again[n] = { dtype: theirs.info(n).dtype, shape: theirs.info(n).shape, data: theirs.read(n) };
    expect(Object.keys(again)).toContain('emoji 😀');
    expect(theirs.metadata['nöte']).toBe('über 😀 "q"');
    expect(Buffer.from(serializeSafetensors(again, theirs.metadata)).equals(readFileSync(oracleFile))).toBe(true);
    theirs.close();
    writeFileSync(join(tmp, 'done'), '');
  });
});
