// STUB — the safetensors helper replaces this file. The exported API below is the contract.

/** safetensors dtypes the engine reads */
export type DType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export type TypedArray = Float64Array | Float32Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

export interface TensorInfo {
  name: string;
  dtype: DType;
  shape: number[];
  /** byte offsets relative to the start of the data section, as in the header */
  dataOffsets: [number, number];
}

/** A tensor to write: data in its dtype's natural typed array (F16/BF16 as Uint16Array bits, BOOL as Uint8Array). */
export interface TensorToWrite {
  dtype: DType;
  shape: number[];
  data: TypedArray;
}

export class SafetensorsError extends Error {}

export class SafetensorsFile {
  readonly path: string = '';
  readonly metadata: Record<string, string> = {};
  readonly tensors: Map<string, TensorInfo> = new Map();
  static open(_path: string): SafetensorsFile { throw new Error('todo'); }
  static fromBytes(_bytes: Uint8Array, _name: string): SafetensorsFile { throw new Error('todo'); }
  names(): string[] { throw new Error('todo'); }
  info(_name: string): TensorInfo { throw new Error('todo'); }
  read(_name: string): TypedArray { throw new Error('todo'); }
  readF32(_name: string): Float32Array { throw new Error('todo'); }
  readF32Into(_name: string, _out: Float32Array): void { throw new Error('todo'); }
  close(): void {}
}

export function serializeSafetensors(_tensors: Record<string, TensorToWrite>, _metadata?: Record<string, string>): Uint8Array { throw new Error('todo'); }
export function writeSafetensors(_path: string, _tensors: Record<string, TensorToWrite>, _metadata?: Record<string, string>): void { throw new Error('todo'); }
export function f16BitsToF32(_bits: Uint16Array, _out?: Float32Array): Float32Array { throw new Error('todo'); }
export function bf16BitsToF32(_bits: Uint16Array, _out?: Float32Array): Float32Array { throw new Error('todo'); }
export function f32ToF16Bits(_x: Float32Array): Uint16Array { throw new Error('todo'); }
export function f32ToBf16Bits(_x: Float32Array): Uint16Array { throw new Error('todo'); }
