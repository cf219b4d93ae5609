// The zip checkpoint format of torch.save (torch ≥ 1.6, `_use_new_zipfile_serialization=True`):
//
//   <archive>/data.pkl        the pickled object; tensors refer to storages by persistent id
//   <archive>/data/<key>      each storage's raw little-endian bytes (stored, 64-byte aligned)
//   <archive>/version         format version as text ("3\n"); torch ≥ 2.1: also .data/version
//   <archive>/byteorder       "little" or "big" (torch ≥ 2.1; absent means little)
//
// <archive> is one top-level folder whose name varies (the file's stem, or "archive").
// Reference: torch/serialization.py (_save, _load) and caffe2/serialize/inline_container.cc.

import { BufferSource } from './bytes.ts';
import { TorchFormatError } from './fileio.ts';
import { unpickle } from './pickle.ts';
import { STATE_DICT_GLOBALS, type StorageRef, type TensorRef, storageFromPid, tensorsOf } from './state-dict.ts';
import { DTYPE_SIZE } from '../dtype.ts';
import { type ZipEntry, ZipReader } from './zip.ts';

/** Where storage bytes come from: a zip entry per key, or a region of a legacy file. */
export interface StorageStore {
  read(key: string, byteStart: number, dest: Uint8Array): void;
  close(): void;
}

export interface OpenedCheckpoint {
  tensors: Map<string, TensorRef>;
  store: StorageStore;
  /** the zip `version` record (null for the legacy format) */
  version: number | null;
}

/** data.pkl of a state dict is small (the structure, not the data); this bounds a hostile one */
const MAX_PICKLE = 1 << 30;
/** newest serialization format version this reader knows (torch writes 3) */
const MAX_VERSION = 9;

export function openZipCheckpoint(path: string): OpenedCheckpoint {
  const zip = ZipReader.open(path);
  try {
    const pkls = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
    if (pkls.length !== 1) {
      const ts = [...zip.entries.keys()].some((n) => /^[^/]+\/(constants\.pkl|code\/)/.test(n));
      throw new TorchFormatError(`${path}: ${ts ? 'a TorchScript archive, not a state dict (save model.state_dict() with torch.save)' : pkls.length ? 'several data.pkl records' : 'a zip file without <archive>/data.pkl, so not a torch.save checkpoint'}`);
    }
    const prefix = pkls[0].slice(0, -'data.pkl'.length);
    const text = (name: string): string | null => {
      const e = zip.get(prefix + name);
      return e ? new TextDecoder().decode(zip.readAll(e, 4096)).trim() : null;
    };
    const order = text('byteorder');
    if (order !== null && order !== 'little') throw new TorchFormatError(`${path}: byteorder is "${order}"; only little-endian checkpoints are supported`);
    const vtext = text('version') ?? text('.data/version');
    let version: number | null = null;
    if (vtext !== null) {
      if (!/^\d+$/.test(vtext)) throw new TorchFormatError(`${path}: version record "${vtext.slice(0, 20)}" is not a number`);
      version = Number(vtext);
      if (version < 1 || version > MAX_VERSION) throw new TorchFormatError(`${path}: serialization format version ${version} is not supported (1..${MAX_VERSION})`);
    }
    const pkl = zip.readAll(zip.get(pkls[0]) as ZipEntry, MAX_PICKLE);
    const storages = new Map<string, StorageRef>();
    const what = `${path}: ${pkls[0]}`;
    const root = unpickle(new BufferSource(pkl, what), {
      what, globals: STATE_DICT_GLOBALS, persistentLoad: (pid) => storageFromPid(pid, storages),
    });
    const tensors = tensorsOf(root, path);
    // every storage must be a record big enough for what its persistent id declares
    const entries = new Map<string, ZipEntry>();
    for (const s of storages.values()) {
      if (s.root) throw new TorchFormatError(`${path}: storage "${s.key}" is a legacy storage view, which the zip format never has`);
      const e = zip.get(`${prefix}data/${s.key}`);
      if (!e) throw new TorchFormatError(`${path}: storage "${s.key}" has no record ${prefix}data/${s.key}`);
      const need = s.numel * DTYPE_SIZE[s.dtype];
      if (e.size < need) throw new TorchFormatError(`${path}: storage "${s.key}" needs ${need} bytes (${s.numel} × ${s.dtype}), its record has ${e.size}`);
      entries.set(s.key, e);
    }
    const store: StorageStore = {
      read(key, byteStart, dest) {
        const e = entries.get(key);
        if (!e) throw new TorchFormatError(`${path}: unknown storage "${key}"`);
        zip.readRange(e, byteStart, dest);
      },
      close: () => zip.close(),
    };
    return { tensors, store, version };
  } catch (e) {
    zip.close();
    throw e;
  }
}
