// safetensors dtypes: names, item sizes and the typed array each one is read into.
// Spec: https://github.com/huggingface/safetensors#format (we support the subset a GPT-2 engine meets).

/** safetensors dtypes the engine reads and writes */
export type DType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export type TypedArray =
  | Float64Array | Float32Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

/** bytes per element of each dtype */
export const DTYPE_SIZE: Readonly<Record<DType, number>> = Object.freeze({
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
});

export const DTYPES: readonly DType[] = Object.freeze(Object.keys(DTYPE_SIZE) as DType[]);

export function isDType(x: unknown): x is DType {
  return typeof x === 'string' && Object.hasOwn(DTYPE_SIZE, x);
}

/** F16 and BF16 hold raw bits in a Uint16Array; BOOL is one byte per value (0 or 1) in a Uint8Array. */
type TypedArrayCtor = {
  new (length: number): TypedArray;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray;
  readonly name: string;
};

const CTOR: Readonly<Record<DType, TypedArrayCtor>> = {
  F64: Float64Array, F32: Float32Array, F16: Uint16Array, BF16: Uint16Array,
  I64: BigInt64Array, I32: Int32Array, I16: Int16Array, I8: Int8Array, U8: Uint8Array, BOOL: Uint8Array,
};

/** a new zero-filled typed array of `numel` elements for `dtype` */
export function allocTyped(dtype: DType, numel: number): TypedArray {
  return new CTOR[dtype](numel);
}

/** a view of `numel` elements at `byteOffset` (must be aligned to the item size) */
export function viewTyped(dtype: DType, buffer: ArrayBufferLike, byteOffset: number, numel: number): TypedArray {
  return new CTOR[dtype](buffer, byteOffset, numel);
}

/** the constructor name a TensorToWrite's data must have for `dtype`, e.g. 'Uint16Array' for F16 */
export function typedArrayName(dtype: DType): string {
  return CTOR[dtype].name;
}

/** the bytes of any typed array, as a view (no copy) */
export function bytesOf(a: TypedArray): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * safetensors data is little-endian and we reinterpret it in place with typed arrays, which use the
 * host's byte order: only little-endian hosts are supported (every platform Node and Deno ship for).
 */
export const HOST_IS_LITTLE_ENDIAN: boolean = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
