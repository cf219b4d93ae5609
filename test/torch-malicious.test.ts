// Hostile pickles are refused, with an error naming what they asked for, and nothing runs.
// Two sources: pickles made by Python's own pickle from objects whose __reduce__ calls os.system,
// eval, exec, subprocess.Popen or __import__ (test/fixtures/torch/malicious/, written by
// test/oracle/write_bin_fixtures.py; each would run `touch /tmp/gpt2ts-pwned` under torch.load), and
// pickles assembled here opcode by opcode for the tricks a state-dict reader must not fall for.

import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModelFiles } from '../src/io/model.ts';
import { BufferSource } from '../src/io/torch/bytes.ts';
import { TorchCheckpoint, TorchFormatError } from '../src/io/torch/checkpoint.ts';
import { unpickle } from '../src/io/torch/pickle.ts';
import { STATE_DICT_GLOBALS, type StorageRef, storageFromPid, tensorsOf } from '../src/io/torch/state-dict.ts';
import { fixtureDir } from './helpers/fixtures.ts';
import { P, concat, pickle, storagePid, tensor } from './torch-helpers.ts';

const MAL = join(fixtureDir('torch'), 'malicious');
const MARKER = '/tmp/gpt2ts-pwned';

/** unpickle a state dict the way the checkpoint reader does */
function load(bytes: Uint8Array): unknown {
  const storages = new Map<string, StorageRef>();
  const root = unpickle(new BufferSource(bytes, 'test.pkl'), {
    what: 'test.pkl', globals: STATE_DICT_GLOBALS, persistentLoad: (pid) => storageFromPid(pid, storages),
  });
  return tensorsOf(root, 'test.pkl');
}

beforeAll(() => rmSync(MARKER, { force: true }));

describe('pickles written by Python that would execute code', () => {
  // protocol 2 pickles name Python 3 modules by their Python 2 names (pickle's _compat_pickle)
  const cases: [string, string][] = [
    ['os-system', 'posix.system"'],
    ['builtins-eval', '__builtin__.eval" (builtins.eval)'],
    ['builtins-exec', '__builtin__.exec" (builtins.exec)'],
    ['subprocess-popen', 'commands.Popen" (subprocess.Popen)'],
    ['builtins-import', '__builtin__.__import__" (builtins.__import__)'],
  ];
  for (const [file, global] of cases) {
    it(`${file}: refused naming "${global.replace('"', '')}, as a raw pickle, a zip .bin and a legacy .bin`, () => {
      const refused = new RegExp(`refuses global "${global.replace(/[.()]/g, (c) => '\\' + c)}.*nothing was executed`);
      expect(() => load(readFileSync(join(MAL, `${file}.pkl`)))).toThrow(refused);
      expect(() => TorchCheckpoint.open(join(MAL, `${file}.zip.bin`))).toThrow(refused);
      expect(() => TorchCheckpoint.open(join(MAL, `${file}.legacy.bin`))).toThrow(refused);
      expect(() => loadModelFiles(join(MAL, `${file}.zip.bin`))).toThrow(refused);
      expect(existsSync(MARKER)).toBe(false);
    });
  }

  it('protocol 4 and 5 pickles (STACK_GLOBAL, FRAME, MEMOIZE) are refused the same way', () => {
    for (const f of ['os-system-proto4.pkl', 'os-system-proto5.pkl']) {
      expect(() => load(readFileSync(join(MAL, f)))).toThrow(/refuses global "posix\.system"/);
    }
    expect(existsSync(MARKER)).toBe(false);
  });
});

describe('crafted pickles', () => {
  const od = () => concat(P.global('collections', 'OrderedDict'), P.emptyTuple, P.reduce);
  const floatStorage = () => storagePid('FloatStorage', '0', 4);

  it.each([
    ['a global that is not exactly allowed', pickle(P.global('collections', 'OrderedDict.__init__')), /refuses global "collections\.OrderedDict\.__init__"/],
    ['a prototype-ish name', pickle(P.global('collections', '__proto__')), /refuses global "collections\.__proto__"/],
    ['torch.storage._load_from_bytes (a nested torch.load)', pickle(P.global('torch.storage', '_load_from_bytes')), /refuses global "torch\.storage\._load_from_bytes"/],
    ['numpy reconstruction', pickle(P.stackGlobal('numpy.core.multiarray', '_reconstruct')), /refuses global "numpy\.core\.multiarray\._reconstruct"/],
    ['torch.load itself', pickle(P.stackGlobal('torch', 'load')), /refuses global "torch\.load"/],
    ['STACK_GLOBAL with a non-string', pickle(P.int(1), P.str('system'), [0x93]), /needs two strings.*STACK_GLOBAL/],
    ['REDUCE of a string', pickle(P.str('os.system'), P.emptyTuple, P.reduce), /calls a str, which is not an allowed callable/],
    ['REDUCE of a dict', pickle(P.emptyDict, P.emptyTuple, P.reduce), /calls a dict, which is not an allowed callable/],
    ['REDUCE of a storage class (a type marker)', pickle(P.global('torch', 'FloatStorage'), P.int(10), P.tuple1, P.reduce), /calls torch\.FloatStorage, which is allowed only as a type marker/],
    ['REDUCE with a non-tuple argument', pickle(P.global('collections', 'OrderedDict'), P.emptyList, P.reduce), /instead of an argument tuple/],
    ['REDUCE of a REDUCE result (calling what a call returned)', pickle(od(), P.emptyTuple, P.reduce), /calls a OrderedDict, which is not an allowed callable/],
    ['BUILD on a plain dict (__setstate__ / __dict__ update)', pickle(P.emptyDict, P.emptyDict, P.build), /sets the state of a dict, which is refused/],
    ['BUILD on a global', pickle(P.global('collections', 'OrderedDict'), P.emptyDict, P.build), /sets the state of a collections\.OrderedDict, which is refused/],
    ['BUILD on a tensor', pickle(tensor(floatStorage(), 0, [4], [1]), P.emptyDict, P.build), /sets the state of a torch\.Tensor, which is refused/],
    ['BUILD on an OrderedDict with a non-dict state', pickle(od(), P.str('x'), P.build), /sets an OrderedDict's state from a str/],
    ['NEWOBJ (cls.__new__)', pickle(P.global('collections', 'OrderedDict'), P.emptyTuple, P.newobj), /instantiates a class.*opcode NEWOBJ/],
    ['INST (import + instantiate)', pickle(P.mark, concat([0x69], new TextEncoder().encode('os\nsystem\n'))), /instantiates a class.*opcode INST/],
    ['OBJ', pickle(P.mark, P.global('collections', 'OrderedDict'), [0x6f]), /instantiates a class.*opcode OBJ/],
    ['EXT1 (extension registry)', pickle([0x82, 1]), /extension registry.*opcode EXT1/],
    ['NEXT_BUFFER (out-of-band data)', concat(P.proto(5), [0x97], P.stop), /out-of-band.*opcode NEXT_BUFFER/],
    ['a persistent id that is not a storage', pickle(P.mark, P.str('module'), P.str('os'), P.tuple, P.binpersid), /persistent id of kind "module"/],
    ['a persistent id naming a non-storage class', pickle(P.mark, P.str('storage'), P.global('collections', 'OrderedDict'), P.str('0'), P.str('cpu'), P.int(1), P.tuple, P.binpersid), /not a torch storage class/],
    ['_rebuild_tensor_v2 of a string instead of a storage', pickle(P.global('torch._utils', '_rebuild_tensor_v2'), P.mark, P.str('x'), P.int(0), P.mark, P.int(1), P.tuple, P.mark, P.int(1), P.tuple, P.tuple, P.reduce), /storage argument is a str/],
    ['_rebuild_parameter of a non-tensor', pickle(P.global('torch._utils', '_rebuild_parameter'), P.str('x'), P.newfalse, P.emptyDict, P.tuple3, P.reduce), /data argument is a str/],
    ['a state dict value that is not a tensor', pickle(od(), P.str('w'), P.str('payload'), P.setitem), /"w" is a str, not a tensor/],
  ])('%s is refused', (_label, bytes, re) => {
    expect(() => load(bytes)).toThrow(TorchFormatError);
    expect(() => load(bytes)).toThrow(re);
  });

  it('a well-formed crafted state dict is accepted (the builder is right)', () => {
    const t = load(pickle(od(), P.str('w'), tensor(floatStorage(), 1, [3], [1]), P.setitem)) as Map<string, { shape: number[]; offset: number }>;
    expect(t.get('w')).toMatchObject({ shape: [3], offset: 1 });
  });
});
