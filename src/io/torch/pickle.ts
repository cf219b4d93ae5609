// A restricted pickle reader: it builds data, and never imports, calls or instantiates anything the
// caller did not allow by name. Opcode reference: CPython's Lib/pickletools.py (protocols 0–5); the
// names below are its names.
//
// What a pickle can ask for, and what happens here:
//   - data (ints, floats, strings, bytes, tuples, lists, dicts, sets, memo) → plain JS values;
//   - GLOBAL / STACK_GLOBAL "module.name" → allowed only if the caller's `globals` map has that exact
//     name (a Map lookup: no attribute walk, no prototype); otherwise an error naming it, before any
//     call can happen;
//   - REDUCE f(*args) → only f an allowed global with a `call` handler (the handler is our own code that
//     builds a description: a tensor reference, an OrderedDict); anything else is refused;
//   - BUILD (set an object's state) → only on an OrderedDict, whose state is kept as inert attributes;
//   - INST, OBJ, NEWOBJ, NEWOBJ_EX (instantiate a class), EXT1/2/4 (extension registry), NEXT_BUFFER,
//     READONLY_BUFFER (out-of-band data) → refused;
//   - PERSID / BINPERSID → the caller's persistentLoad (torch: storage references), or refused.
// Bounds: the stack, the mark stack and the memo have fixed maximum sizes; every length prefix is checked
// against the bytes that remain before anything is allocated; text lines are short. The reader is a loop
// over opcodes (no recursion), and each opcode consumes at least one byte, so it always terminates.

import { TorchFormatError } from './fileio.ts';
import type { ByteSource } from './bytes.ts';

/** A Python tuple (immutable; distinguished from a list, which is a JS array). */
export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

/** A dict or OrderedDict. Keys are primitives (strings in a state dict). */
export class PyDict {
  readonly map = new Map<PyKey, PyValue>();
  /** state set by BUILD on an OrderedDict (module.state_dict() puts `_metadata` there); inert */
  attrs: PyDict | null = null;
  constructor(readonly ordered = false) {}
}

export class PySet {
  constructor(readonly items: PyValue[], readonly frozen: boolean) {}
}

/** A global the caller allowed, as pushed by GLOBAL / STACK_GLOBAL. */
export class PyGlobal {
  constructor(readonly name: string, readonly def: GlobalDef) {}
}

/** Objects made by the caller's handlers (tensor and storage references). */
export interface PyObject {
  readonly pyType: string;
}

export type PyKey = string | number | bigint | boolean | null;
export type PyValue = PyKey | Uint8Array | PyValue[] | PyTuple | PyDict | PySet | PyGlobal | PyObject;

export interface GlobalDef {
  /** what REDUCE runs with the argument tuple; absent: the global is a marker that may not be called */
  call?(args: readonly PyValue[]): PyValue;
}

export interface UnpickleOptions {
  /** allowed globals by "module.name" */
  globals: ReadonlyMap<string, GlobalDef>;
  /** PERSID / BINPERSID: resolve a persistent id (absent: refused) */
  persistentLoad?(pid: PyValue): PyValue;
  /** names the input in error messages */
  what: string;
}

const MAX_STACK = 1 << 20;
const MAX_MARKS = 1 << 12;
const MAX_MEMO = 1 << 22;
const MAX_LINE = 1 << 10;
/** LONG4 and text integers: a state dict's integers are sizes and offsets, far below this */
const MAX_INT_BYTES = 1 << 10;

const OPS: Record<number, string> = {
  0x28: 'MARK', 0x2e: 'STOP', 0x30: 'POP', 0x31: 'POP_MARK', 0x32: 'DUP', 0x46: 'FLOAT', 0x49: 'INT', 0x4a: 'BININT',
  0x4b: 'BININT1', 0x4c: 'LONG', 0x4d: 'BININT2', 0x4e: 'NONE', 0x50: 'PERSID', 0x51: 'BINPERSID', 0x52: 'REDUCE',
  0x53: 'STRING', 0x54: 'BINSTRING', 0x55: 'SHORT_BINSTRING', 0x56: 'UNICODE', 0x58: 'BINUNICODE', 0x61: 'APPEND',
  0x62: 'BUILD', 0x63: 'GLOBAL', 0x64: 'DICT', 0x7d: 'EMPTY_DICT', 0x65: 'APPENDS', 0x67: 'GET', 0x68: 'BINGET',
  0x69: 'INST', 0x6a: 'LONG_BINGET', 0x6c: 'LIST', 0x5d: 'EMPTY_LIST', 0x6f: 'OBJ', 0x70: 'PUT', 0x71: 'BINPUT',
  0x72: 'LONG_BINPUT', 0x73: 'SETITEM', 0x74: 'TUPLE', 0x29: 'EMPTY_TUPLE', 0x75: 'SETITEMS', 0x47: 'BINFLOAT',
  0x80: 'PROTO', 0x81: 'NEWOBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x85: 'TUPLE1', 0x86: 'TUPLE2', 0x87: 'TUPLE3',
  0x88: 'NEWTRUE', 0x89: 'NEWFALSE', 0x8a: 'LONG1', 0x8b: 'LONG4', 0x42: 'BINBYTES', 0x43: 'SHORT_BINBYTES',
  0x8c: 'SHORT_BINUNICODE', 0x8d: 'BINUNICODE8', 0x8e: 'BINBYTES8', 0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS', 0x91: 'FROZENSET',
  0x92: 'NEWOBJ_EX', 0x93: 'STACK_GLOBAL', 0x94: 'MEMOIZE', 0x95: 'FRAME', 0x96: 'BYTEARRAY8', 0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
};

/** Opcodes that would instantiate or look up arbitrary objects: always refused, with the reason. */
const REFUSED: Record<string, string> = {
  INST: 'instantiates a class', OBJ: 'instantiates a class', NEWOBJ: 'instantiates a class (cls.__new__)',
  NEWOBJ_EX: 'instantiates a class (cls.__new__)', EXT1: 'loads from the extension registry', EXT2: 'loads from the extension registry',
  EXT4: 'loads from the extension registry', NEXT_BUFFER: 'needs out-of-band buffers', READONLY_BUFFER: 'needs out-of-band buffers',
};

/**
 * Python 3 writes some globals under their Python 2 module names in protocols < 3, and reads them back
 * through _compat_pickle.IMPORT_MAPPING; we name both in errors (none of these is ever allowed).
 */
const PY2_MODULES: Record<string, string> = { __builtin__: 'builtins', copy_reg: 'copyreg', commands: 'subprocess', exceptions: 'builtins' };

const utf8 = new TextDecoder('utf-8');
const latin1 = new TextDecoder('latin1');

/** A short description of a value's type, for error messages. */
export function typeName(v: PyValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'None';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'string') return 'str';
  if (v instanceof Uint8Array) return 'bytes';
  if (Array.isArray(v)) return 'list';
  if (v instanceof PyTuple) return 'tuple';
  if (v instanceof PyDict) return v.ordered ? 'OrderedDict' : 'dict';
  if (v instanceof PySet) return v.frozen ? 'frozenset' : 'set';
  if (v instanceof PyGlobal) return v.name;
  return v.pyType;
}

function isKey(v: PyValue): v is PyKey {
  return v === null || ['string', 'number', 'bigint', 'boolean'].includes(typeof v);
}

/** Little-endian two's complement (LONG1 / LONG4) to a number when safe, else a bigint. */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let x = 0n;
  for (let i = b.length - 1; i >= 0; i--) x = (x << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) x -= 1n << BigInt(8 * b.length);
  return x >= BigInt(Number.MIN_SAFE_INTEGER) && x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x;
}

function decimal(s: string, what: string): number | bigint {
  const t = s.endsWith('L') ? s.slice(0, -1) : s;
  if (!/^[+-]?\d+$/.test(t)) throw new TorchFormatError(`${what}: "${s}" is not an integer`);
  const x = BigInt(t);
  return x >= BigInt(Number.MIN_SAFE_INTEGER) && x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x;
}

/** protocol 0 UNICODE: raw-unicode-escape (latin-1 with \uXXXX and \UXXXXXXXX) */
function rawUnicodeEscape(b: Uint8Array): string {
  return latin1.decode(b).replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, u4: string | undefined, u8: string | undefined) =>
    String.fromCodePoint(parseInt(u4 ?? u8 ?? '0', 16)));
}

/** protocol 0 STRING: a quoted Python 2 str repr; the common escapes are decoded */
function pyRepr(s: string, what: string): string {
  const q = s[0];
  if (s.length < 2 || (q !== '"' && q !== "'") || s[s.length - 1] !== q) throw new TorchFormatError(`${what}: STRING argument is not quoted`);
  const map: Record<string, string> = { n: '\n', t: '\t', r: '\r', '\\': '\\', "'": "'", '"': '"', '0': '\0' };
  return s.slice(1, -1).replace(/\\(x[0-9a-fA-F]{2}|.)/g, (_, e: string) => (e[0] === 'x' ? String.fromCharCode(parseInt(e.slice(1), 16)) : map[e] ?? '\\' + e));
}

/**
 * Run one pickle from `src` (which is left just after its STOP) and return its value.
 * Throws TorchFormatError for malformed input and for anything outside what `opts` allows.
 */
export function unpickle(src: ByteSource, opts: UnpickleOptions): PyValue {
  const stack: PyValue[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();
  let op = 'start';
  let opPos = src.pos;
  const fail = (msg: string): never => {
    throw new TorchFormatError(`${opts.what}: ${msg} (pickle opcode ${op} at byte ${opPos})`);
  };
  const push = (v: PyValue): void => {
    if (stack.length >= MAX_STACK) fail(`more than ${MAX_STACK} items on the pickle stack`);
    stack.push(v);
  };
  const pop = (): PyValue => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) fail('pops from an empty stack');
    return stack.pop() as PyValue;
  };
  const top = (): PyValue => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) fail('reads an empty stack');
    return stack[stack.length - 1];
  };
  const popMark = (): PyValue[] => {
    const m = marks.pop();
    if (m === undefined) fail('has no MARK to pop to');
    return stack.splice(m as number);
  };
  const u32 = (): number => {
    const b = src.bytes(4);
    return (b[0] | (b[1] << 8) | (b[2] << 16)) + b[3] * 0x1000000;
  };
  const len64 = (): number => {
    const b = src.bytes(8);
    const v = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
    if (v > BigInt(src.remaining())) fail(`declares ${v} bytes, only ${src.remaining()} remain`);
    return Number(v);
  };
  const sized = (n: number): Uint8Array => {
    if (n > src.remaining()) fail(`declares ${n} bytes, only ${src.remaining()} remain (truncated?)`);
    return src.bytes(n);
  };
  const text = (): string => latin1.decode(src.line(MAX_LINE));
  const memoPut = (i: number, v: PyValue): void => {
    if (!memo.has(i) && memo.size >= MAX_MEMO) fail(`more than ${MAX_MEMO} memo entries`);
    memo.set(i, v);
  };
  const memoGet = (i: number): PyValue => {
    if (!memo.has(i)) fail(`memo entry ${i} was never stored`);
    return memo.get(i) as PyValue;
  };
  const global = (module: string, name: string): PyGlobal => {
    const full = `${module}.${name}`;
    const def = opts.globals.get(full);
    if (!def) {
      const allowed = [...opts.globals.keys()].join(', ');
      const py3 = Object.hasOwn(PY2_MODULES, module) ? ` (${PY2_MODULES[module]}.${name})` : '';
      fail(`refuses global "${full}"${py3}: only ${allowed} are allowed in a checkpoint; nothing was executed`);
    }
    return new PyGlobal(full, def as GlobalDef);
  };
  const setItems = (d: PyValue, kv: PyValue[]): void => {
    if (!(d instanceof PyDict)) fail(`sets items on a ${typeName(d)}, not a dict`);
    if (kv.length % 2) fail('has an odd number of key/value items');
    for (let i = 0; i < kv.length; i += 2) {
      const k = kv[i];
      if (!isKey(k)) fail(`uses a ${typeName(k)} as a dict key`);
      (d as PyDict).map.set(k as PyKey, kv[i + 1]);
    }
  };
  const append = (l: PyValue, items: PyValue[]): void => {
    if (!Array.isArray(l)) fail(`appends to a ${typeName(l)}, not a list`);
    for (const x of items) (l as PyValue[]).push(x);
  };

  for (;;) {
    opPos = src.pos;
    const code = src.byte();
    op = OPS[code] ?? `0x${code.toString(16).padStart(2, '0')}`;
    if (REFUSED[op]) fail(`is refused: it ${REFUSED[op]}, which a state dict never needs; nothing was executed`);
    switch (op) {
      case 'PROTO': {
        const v = src.byte();
        if (v > 5) fail(`protocol ${v} is newer than 5`);
        break;
      }
      case 'FRAME': len64(); break; // framing only groups opcodes: read through it
      case 'STOP': {
        if (marks.length) fail('ends inside a MARK');
        return pop();
      }
      case 'MARK':
        if (marks.length >= MAX_MARKS) fail(`nests more than ${MAX_MARKS} MARKs`);
        marks.push(stack.length);
        break;
      case 'POP': pop(); break;
      case 'POP_MARK': popMark(); break;
      case 'DUP': push(top()); break;
      case 'NONE': push(null); break;
      case 'NEWTRUE': push(true); break;
      case 'NEWFALSE': push(false); break;
      case 'BININT': { const b = src.bytes(4); push(new DataView(b.buffer, b.byteOffset, 4).getInt32(0, true)); break; }
      case 'BININT1': push(src.byte()); break;
      case 'BININT2': { const b = src.bytes(2); push(b[0] | (b[1] << 8)); break; }
      case 'LONG1': push(decodeLong(sized(src.byte()))); break;
      case 'LONG4': {
        const n = u32();
        if (n > MAX_INT_BYTES) fail(`declares a ${n}-byte integer`);
        push(decodeLong(sized(n)));
        break;
      }
      case 'INT': {
        const s = text();
        push(s === '01' ? true : s === '00' ? false : decimal(s, opts.what));
        break;
      }
      case 'LONG': push(decimal(text(), opts.what)); break;
      case 'FLOAT': {
        const x = Number(text());
        if (Number.isNaN(x)) fail('has a malformed float');
        push(x);
        break;
      }
      case 'BINFLOAT': { const b = src.bytes(8); push(new DataView(b.buffer, b.byteOffset, 8).getFloat64(0, false)); break; }
      case 'BINUNICODE': push(utf8.decode(sized(u32()))); break;
      case 'SHORT_BINUNICODE': push(utf8.decode(sized(src.byte()))); break;
      case 'BINUNICODE8': push(utf8.decode(src.bytes(len64()))); break;
      case 'UNICODE': push(rawUnicodeEscape(src.line(MAX_LINE))); break;
      case 'STRING': push(pyRepr(text(), opts.what)); break;
      // Python 2 str: torch.load decodes these as UTF-8 (its default encoding); latin-1 never fails
      case 'BINSTRING': push(utf8.decode(sized(u32()))); break;
      case 'SHORT_BINSTRING': push(utf8.decode(sized(src.byte()))); break;
      case 'BINBYTES': push(sized(u32()).slice()); break;
      case 'SHORT_BINBYTES': push(sized(src.byte()).slice()); break;
      case 'BINBYTES8': case 'BYTEARRAY8': push(src.bytes(len64()).slice()); break;
      case 'EMPTY_TUPLE': push(new PyTuple([])); break;
      case 'TUPLE1': push(new PyTuple([pop()])); break;
      case 'TUPLE2': { const b = pop(), a = pop(); push(new PyTuple([a, b])); break; }
      case 'TUPLE3': { const c = pop(), b = pop(), a = pop(); push(new PyTuple([a, b, c])); break; }
      case 'TUPLE': push(new PyTuple(popMark())); break;
      case 'EMPTY_LIST': push([]); break;
      case 'LIST': push(popMark()); break;
      case 'APPEND': { const x = pop(); append(top(), [x]); break; }
      case 'APPENDS': { const items = popMark(); append(top(), items); break; }
      case 'EMPTY_DICT': push(new PyDict()); break;
      case 'DICT': { const kv = popMark(); const d = new PyDict(); setItems(d, kv); push(d); break; }
      case 'SETITEM': { const v = pop(), k = pop(); setItems(top(), [k, v]); break; }
      case 'SETITEMS': { const kv = popMark(); setItems(top(), kv); break; }
      case 'EMPTY_SET': push(new PySet([], false)); break;
      case 'ADDITEMS': {
        const items = popMark();
        const s = top();
        if (!(s instanceof PySet) || s.frozen) fail(`adds items to a ${typeName(s)}, not a set`);
        (s as PySet).items.push(...items);
        break;
      }
      case 'FROZENSET': push(new PySet(popMark(), true)); break;
      case 'PUT': memoPut(Number(decimal(text(), opts.what)), top()); break;
      case 'BINPUT': memoPut(src.byte(), top()); break;
      case 'LONG_BINPUT': memoPut(u32(), top()); break;
      case 'MEMOIZE': memoPut(memo.size, top()); break;
      case 'GET': push(memoGet(Number(decimal(text(), opts.what)))); break;
      case 'BINGET': push(memoGet(src.byte())); break;
      case 'LONG_BINGET': push(memoGet(u32())); break;
      case 'GLOBAL': {
        const module = text(), name = text();
        push(global(module, name));
        break;
      }
      case 'STACK_GLOBAL': {
        const name = pop(), module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('needs two strings (module, name)');
        push(global(module as string, name as string));
        break;
      }
      case 'REDUCE': {
        const args = pop(), f = pop();
        if (!(f instanceof PyGlobal)) fail(`calls a ${typeName(f)}, which is not an allowed callable; nothing was executed`);
        const g = f as PyGlobal;
        if (!g.def.call) fail(`calls ${g.name}, which is allowed only as a type marker, not as a callable`);
        if (!(args instanceof PyTuple)) fail(`calls ${g.name} with a ${typeName(args)} instead of an argument tuple`);
        try {
          push((g.def.call as (a: readonly PyValue[]) => PyValue)((args as PyTuple).items));
        } catch (e) {
          if (e instanceof TorchFormatError) fail(`${g.name}: ${e.message}`);
          throw e;
        }
        break;
      }
      case 'BUILD': {
        const state = pop();
        const obj = top();
        if (!(obj instanceof PyDict) || !obj.ordered) fail(`sets the state of a ${typeName(obj)}, which is refused (only an OrderedDict's attributes may be set)`);
        if (!(state instanceof PyDict)) fail(`sets an OrderedDict's state from a ${typeName(state)}`);
        (obj as PyDict).attrs = state as PyDict;
        break;
      }
      case 'PERSID': case 'BINPERSID': {
        const pid = op === 'PERSID' ? latin1.decode(src.line(MAX_LINE)) : pop();
        if (!opts.persistentLoad) fail('refers to external data, which this file type cannot have');
        try {
          push((opts.persistentLoad as (p: PyValue) => PyValue)(pid));
        } catch (e) {
          if (e instanceof TorchFormatError) fail(e.message);
          throw e;
        }
        break;
      }
      default:
        fail('is not a pickle opcode (corrupt data?)');
    }
  }
}
