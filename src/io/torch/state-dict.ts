// What a PyTorch state-dict pickle may contain, and the inert descriptions the pickle reader builds
// from it. The allowlist is the whole of what `torch.save(model.state_dict())` emits (torch 1.x–2.x):
//
//   collections.OrderedDict                   the dict itself (and module.state_dict()'s `_metadata`)
//   torch._utils._rebuild_tensor_v2           a tensor: (storage, offset, size, stride, requires_grad, hooks[, metadata])
//   torch._utils._rebuild_tensor              the same, from torch < 1.0: (storage, offset, size, stride)
//   torch._utils._rebuild_parameter           nn.Parameter: (tensor, requires_grad, hooks)
//   torch._utils._rebuild_parameter_with_state  the same with a state dict (torch ≥ 2.0)
//   torch.<Type>Storage                       storage classes inside persistent ids (markers, never called)
//
// "Rebuilding" here records where a tensor's elements are (storage key, offset, shape, strides) and checks
// that they fit in the storage; no data is read and nothing from the file is executed. The storage
// classes cover every plain dtype: float weights (F32/F16/BF16/F64) and the integer and bool buffers
// real GPT-2 checkpoints carry (`attn.bias` masks are ByteStorage or BoolStorage).

import type { DType } from '../dtype.ts';
import { TorchFormatError } from './fileio.ts';
import { type GlobalDef, PyDict, PyGlobal, type PyObject, PyTuple, type PyValue, typeName } from './pickle.ts';

/** torch storage class → safetensors dtype name (the engine's dtype vocabulary) */
export const STORAGE_DTYPES: ReadonlyMap<string, DType> = new Map([
  ['torch.FloatStorage', 'F32'], ['torch.HalfStorage', 'F16'], ['torch.BFloat16Storage', 'BF16'], ['torch.DoubleStorage', 'F64'],
  ['torch.LongStorage', 'I64'], ['torch.IntStorage', 'I32'], ['torch.ShortStorage', 'I16'], ['torch.CharStorage', 'I8'],
  ['torch.ByteStorage', 'U8'], ['torch.BoolStorage', 'BOOL'],
]);

/** A storage (a flat typed buffer) named by its key in the file; a legacy view lives inside a root storage. */
export class StorageRef implements PyObject {
  readonly pyType = 'torch storage';
  constructor(
    readonly key: string,
    readonly dtype: DType,
    /** elements, as the persistent id declares */
    readonly numel: number,
    /** legacy storage views: the root storage's key and this view's element offset in it */
    readonly root: { key: string; offset: number } | null = null,
  ) {}
}

/** A tensor: a strided view of a storage. */
export class TensorRef implements PyObject {
  readonly pyType = 'torch.Tensor';
  constructor(readonly storage: StorageRef, readonly offset: number, readonly shape: number[], readonly stride: number[]) {}

  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** row-major with no gaps (the case read straight into place) */
  get contiguous(): boolean {
    let expect = 1;
    for (let d = this.shape.length - 1; d >= 0; d--) {
      if (this.shape[d] !== 1 && this.stride[d] !== expect) return false;
      expect *= this.shape[d];
    }
    return true;
  }

  /** index (in the storage) of the last element; -1 for an empty tensor */
  get lastIndex(): number {
    if (this.numel === 0) return -1;
    return this.shape.reduce((acc, n, d) => acc + (n - 1) * this.stride[d], this.offset);
  }
}

const bad = (msg: string): TorchFormatError => new TorchFormatError(msg);

function nonNegInt(v: PyValue | undefined, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(`${what} must be a non-negative integer, got ${typeName(v)} ${String(v)}`);
  return v;
}

function intTuple(v: PyValue | undefined, what: string): number[] {
  if (!(v instanceof PyTuple)) throw bad(`${what} must be a tuple, got ${typeName(v)}`);
  if (v.items.length > 64) throw bad(`${what} has ${v.items.length} dimensions`);
  return v.items.map((x, i) => nonNegInt(x, `${what}[${i}]`));
}

/** _rebuild_tensor_v2 / _rebuild_tensor: check and describe the view, read nothing */
function rebuildTensor(args: readonly PyValue[]): TensorRef {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageRef)) throw bad(`the storage argument is a ${typeName(storage)}`);
  const shape = intTuple(size, 'size');
  const strides = intTuple(stride, 'stride');
  if (strides.length !== shape.length) throw bad(`size has ${shape.length} dimensions, stride ${strides.length}`);
  const t = new TensorRef(storage, nonNegInt(offset, 'storage offset'), shape, strides);
  if (!Number.isSafeInteger(t.numel)) throw bad(`size [${shape.join(', ')}] is too large`);
  if (t.lastIndex >= storage.numel) {
    throw bad(`a tensor of size [${shape.join(', ')}], stride [${strides.join(', ')}] at offset ${t.offset} reaches element ${t.lastIndex} of storage "${storage.key}", which has ${storage.numel}`);
  }
  return t;
}

function rebuildParameter(args: readonly PyValue[]): TensorRef {
  if (!(args[0] instanceof TensorRef)) throw bad(`the data argument is a ${typeName(args[0])}, not a tensor`);
  return args[0];
}

function orderedDict(args: readonly PyValue[]): PyDict {
  const d = new PyDict(true);
  if (args.length === 0) return d;
  const items = args[0];
  if (args.length > 1 || !Array.isArray(items)) throw bad(`expects no arguments or a list of pairs, got ${args.map(typeName).join(', ')}`);
  for (const pair of items) {
    if (!(pair instanceof PyTuple) || pair.items.length !== 2) throw bad(`items must be (key, value) pairs, got a ${typeName(pair)}`);
    const [k, v] = pair.items;
    if (typeof k !== 'string') throw bad(`keys must be strings, got ${typeName(k)}`);
    d.map.set(k, v);
  }
  return d;
}

/** The allowlist, as the pickle reader takes it. */
export const STATE_DICT_GLOBALS: ReadonlyMap<string, GlobalDef> = new Map<string, GlobalDef>([
  ['collections.OrderedDict', { call: orderedDict }],
  ['torch._utils._rebuild_tensor_v2', { call: rebuildTensor }],
  ['torch._utils._rebuild_tensor', { call: rebuildTensor }],
  ['torch._utils._rebuild_parameter', { call: rebuildParameter }],
  ['torch._utils._rebuild_parameter_with_state', { call: rebuildParameter }],
  ...[...STORAGE_DTYPES.keys()].map((k): [string, GlobalDef] => [k, {}]),
]);

/**
 * The storage named by a persistent id, one StorageRef per key (so tensors sharing a storage share it):
 *   zip:    ('storage', StorageClass, key, location, numel)
 *   legacy: ('storage', StorageClass, root_key, location, numel, view_metadata | None),
 *           view_metadata = (view_key, offset, view_numel)
 */
export function storageFromPid(pid: PyValue, storages: Map<string, StorageRef>): StorageRef {
  if (!(pid instanceof PyTuple)) throw bad(`persistent id is a ${typeName(pid)}, not a tuple`);
  const [tag, cls, key, , numel, view] = pid.items;
  if (tag !== 'storage') throw bad(`persistent id of kind ${JSON.stringify(typeName(tag) === 'str' ? tag : typeName(tag))} (only 'storage' is allowed)`);
  if (!(cls instanceof PyGlobal) || !STORAGE_DTYPES.has(cls.name)) throw bad(`storage type ${typeName(cls)} is not a torch storage class`);
  if (typeof key !== 'string' || key.length === 0 || key.length > 256) throw bad('storage key must be a short string');
  const dtype = STORAGE_DTYPES.get(cls.name) as DType;
  const n = nonNegInt(numel, `storage "${key}" size`);
  const root = get(storages, key, dtype, n, null);
  if (view === undefined || view === null) return root;
  if (!(view instanceof PyTuple) || view.items.length !== 3) throw bad(`storage "${key}": view metadata must be (key, offset, size)`);
  const [viewKey, off, size] = view.items;
  if (typeof viewKey !== 'string') throw bad(`storage "${key}": view key must be a string`);
  const o = nonNegInt(off, 'view offset'), s = nonNegInt(size, 'view size');
  if (o + s > n) throw bad(`storage view "${viewKey}" (${s} elements at ${o}) exceeds its root "${key}" (${n})`);
  return get(storages, viewKey, dtype, s, { key, offset: o });
}

function get(storages: Map<string, StorageRef>, key: string, dtype: DType, numel: number, root: StorageRef['root']): StorageRef {
  const prev = storages.get(key);
  if (prev) {
    if (prev.dtype !== dtype || prev.numel !== numel || prev.root?.key !== root?.key || prev.root?.offset !== root?.offset) {
      throw bad(`storage "${key}" is declared twice with different types or sizes`);
    }
    return prev;
  }
  const s = new StorageRef(key, dtype, numel, root);
  storages.set(key, s);
  return s;
}

/** The name → tensor map of an unpickled state dict (a dict or OrderedDict of tensors). */
export function tensorsOf(root: PyValue, what: string): Map<string, TensorRef> {
  if (!(root instanceof PyDict)) throw new TorchFormatError(`${what}: holds a ${typeName(root)}, not a state dict`);
  const out = new Map<string, TensorRef>();
  for (const [k, v] of root.map) {
    if (typeof k !== 'string') throw new TorchFormatError(`${what}: state dict key ${String(k)} is not a string`);
    if (!(v instanceof TensorRef)) {
      const hint = v instanceof PyDict ? ` (a training checkpoint? the weights may be under "${k}"; save model.state_dict() instead)` : '';
      throw new TorchFormatError(`${what}: "${k}" is a ${typeName(v)}, not a tensor${hint}`);
    }
    out.set(k, v);
  }
  return out;
}
