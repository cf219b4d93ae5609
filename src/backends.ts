// Backend selection by name. The WebGPU module (and the `webgpu` package behind it) is imported
// only when asked for, so CPU users never load it.

import type { Backend } from './backend.ts';
import { CpuBackend } from './cpu/backend.ts';

export type BackendName = 'cpu' | 'webgpu';
export const BACKEND_NAMES: readonly BackendName[] = ['cpu', 'webgpu'];

export async function createBackend(name: BackendName): Promise<Backend<unknown, unknown>> {
  if (name === 'cpu') return new CpuBackend();
  if (name === 'webgpu') {
    const { createWebGPUBackend } = await import('./webgpu/index.ts');
    return createWebGPUBackend();
  }
  throw new Error(`unknown backend "${String(name)}" (cpu or webgpu)`);
}
