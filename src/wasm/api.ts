// The few WebAssembly JS API members the engine uses, typed here: the project's TypeScript libs
// (ES2023 + @types/node 20) do not declare the `WebAssembly` global, and declaring it globally
// would clash with a DOM lib. Read the global through `wasmApi()`.

export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  grow(pages: number): number;
}

/** a compiled module (opaque; cloneable to workers) */
export interface WasmModule {
  readonly __wasmModule?: never;
}

export interface WasmInstance {
  readonly exports: Record<string, unknown>;
}

export interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: Record<string, Record<string, unknown>>) => WasmInstance;
  Memory: new (d: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
}

/** the runtime's WebAssembly namespace, or null where there is none */
export function wasmApi(): WasmApi | null {
  const g = globalThis as unknown as { WebAssembly?: WasmApi };
  return g.WebAssembly ?? null;
}

/** An environment variable, or undefined (also where reading the environment is not permitted, as in Deno without --allow-env). */
export function envVar(name: string): string | undefined {
  try {
    return (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name];
  } catch {
    return undefined;
  }
}
