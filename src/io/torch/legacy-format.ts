// The legacy (pre-zip) checkpoint format of torch.save (`_use_new_zipfile_serialization=False`, and every
// checkpoint written by torch < 1.6, e.g. the original gpt2 pytorch_model.bin): five pickles in a row,
// then the raw storages. Reference: torch/serialization.py (_legacy_save, _legacy_load).
//
//   pickle 1: the magic number 0x1950a86a20f9469cfc6c
//   pickle 2: the protocol version, 1001
//   pickle 3: sys_info {protocol_version, little_endian, type_sizes}
//   pickle 4: the object (the state dict); storages are persistent ids
//             ('storage', StorageClass, root_key, location, numel, view_metadata)
//   pickle 5: the list of storage keys, in the order their data follows
//   then, per key: an 8-byte little-endian element count, then count × element size bytes

import { DTYPE_SIZE } from '../dtype.ts';
import { FileSource } from './bytes.ts';
import { TorchFormatError, readExactAt } from './fileio.ts';
import { type PyValue, PyDict, unpickle, typeName } from './pickle.ts';
import { STATE_DICT_GLOBALS, type StorageRef, storageFromPid, tensorsOf } from './state-dict.ts';
import type { OpenedCheckpoint } from './zip-format.ts';

const MAGIC = 0x1950a86a20f9469cfc6cn;
const PROTOCOL = 1001;

export function openLegacyCheckpoint(path: string, fd: number, size: number, close: () => void): OpenedCheckpoint {
  const src = new FileSource(fd, 0, size, path);
  const plain = (what: string): PyValue => unpickle(src, { what: `${path}: ${what}`, globals: new Map() });
  const magic = plain('magic number');
  if (magic !== MAGIC) throw new TorchFormatError(`${path}: not a PyTorch checkpoint (wrong magic number)`);
  const proto = plain('protocol version');
  if (proto !== PROTOCOL) throw new TorchFormatError(`${path}: legacy protocol version ${String(proto)} is not supported (${PROTOCOL} is)`);
  const sys = plain('sys_info');
  if (!(sys instanceof PyDict)) throw new TorchFormatError(`${path}: sys_info is a ${typeName(sys)}, not a dict`);
  if (sys.map.get('little_endian') !== true) throw new TorchFormatError(`${path}: written on a big-endian machine; only little-endian checkpoints are supported`);

  const storages = new Map<string, StorageRef>();
  const what = `${path}: state dict pickle`;
  const root = unpickle(src, { what, globals: STATE_DICT_GLOBALS, persistentLoad: (pid) => storageFromPid(pid, storages) });
  const tensors = tensorsOf(root, path);
  const keys = plain('storage key list');
  if (!Array.isArray(keys) || keys.some((k) => typeof k !== 'string')) throw new TorchFormatError(`${path}: the storage key list is a ${typeName(keys)}, not a list of strings`);

  // walk the storage records: [u64 count][count × element size bytes], in key-list order
  const regions = new Map<string, { start: number; bytes: number }>();
  let pos = src.pos;
  const head = new Uint8Array(8);
  for (const key of keys as string[]) {
    const s = storages.get(key);
    if (!s || s.root) throw new TorchFormatError(`${path}: storage key "${key}" is listed but no tensor declares it as a root storage`);
    if (regions.has(key)) throw new TorchFormatError(`${path}: storage key "${key}" is listed twice`);
    if (pos + 8 > size) throw new TorchFormatError(`${path}: storage "${key}" header at byte ${pos} is beyond the end of the file (${size} bytes; truncated?)`);
    readExactAt(fd, head, pos, `${path}: storage "${key}"`);
    const count = new DataView(head.buffer).getBigInt64(0, true);
    const bytes = count * BigInt(DTYPE_SIZE[s.dtype]);
    if (count < 0n || BigInt(pos + 8) + bytes > BigInt(size)) {
      throw new TorchFormatError(`${path}: storage "${key}" declares ${count} elements (${bytes} bytes) at byte ${pos + 8}, beyond the end of the file (${size} bytes; truncated?)`);
    }
    if (count < BigInt(s.numel)) throw new TorchFormatError(`${path}: storage "${key}" holds ${count} elements, its tensors declare ${s.numel}`);
    regions.set(key, { start: pos + 8, bytes: Number(bytes) });
    pos += 8 + Number(bytes);
  }
  for (const s of storages.values()) {
    const rootKey = s.root?.key ?? s.key;
    if (!regions.has(rootKey)) throw new TorchFormatError(`${path}: storage "${rootKey}" is used but not in the storage key list`);
  }
  return {
    tensors,
    version: null,
    store: {
      read(key, byteStart, dest) {
        const r = regions.get(key);
        if (!r || byteStart + dest.length > r.bytes) throw new TorchFormatError(`${path}: storage "${key}": bytes ${byteStart}..${byteStart + dest.length} are outside it`);
        readExactAt(fd, dest, r.start + byteStart, `${path}: storage "${key}"`);
      },
      close,
    },
  };
}
