// Peers for the WebGPU benchmark: gpu.js (bench/node_modules) in its WebGPU mode and its CPU mode,
// on the same matmuls. gpu.js's own bundled Dawn (webgpu 0.2.9) does not load on Debian 12, so its
// WebGPU mode gets `navigator.gpu` from the project's `webgpu` package (Dawn) instead.
// gpu.js kernels take JS arrays in and give JS arrays out: every call includes the upload and the
// readback, which the JSON rows say.

import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

interface GpuJsInput {
  readonly value: Float32Array;
}
interface GpuJsKernel {
  (a: GpuJsInput, b: GpuJsInput): Float32Array[] | Promise<Float32Array[]>;
  setOutput(dims: number[]): GpuJsKernel;
  setConstants(c: Record<string, number>): GpuJsKernel;
  setPrecision(p: 'single'): GpuJsKernel;
  setTactic?(t: 'precision'): GpuJsKernel;
}
interface GpuJsInstance {
  createKernel(fn: (this: KernelThis, a: number[][], b: number[][]) => number): GpuJsKernel;
  destroy(): void | Promise<void>;
}
interface GpuJsModule {
  GPU: { new (opts: { mode: string }): GpuJsInstance; isWebGPUAvailable(): Promise<boolean> };
  input(data: Float32Array, dims: number[]): GpuJsInput;
}
interface KernelThis {
  thread: { x: number; y: number };
  constants: { K: number };
}

let mod: GpuJsModule | null = null;

/** gpu.js from bench/node_modules, with navigator.gpu injected from `webgpu` (Dawn) if it has none. */
export async function loadGpuJs(): Promise<GpuJsModule> {
  if (mod) return mod;
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (!g.navigator?.gpu) {
    // the project's `webgpu` (root node_modules), not gpu.js's own older copy in bench/node_modules
    const entry = createRequire(new URL('../package.json', import.meta.url)).resolve('webgpu');
    const dawn = (await import(pathToFileURL(entry).href)) as { create(o: string[]): unknown; globals: object };
    Object.assign(globalThis, dawn.globals);
    // Node 20 has no navigator; Node 21+ has one without gpu
    if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: dawn.create([]), configurable: true });
    else g.navigator = { gpu: dawn.create([]) };
  }
  const require = createRequire(new URL('./package.json', import.meta.url));
  mod = require('gpu.js') as GpuJsModule;
  return mod;
}

/** out (M, N) = a (M, K) · b (K, N) in gpu.js `mode` ('webgpu' or 'cpu'); returns a runner. */
export async function gpujsMatmul(mode: 'webgpu' | 'cpu', M: number, K: number, N: number):
  Promise<{ run: (a: Float32Array, b: Float32Array) => Promise<Float32Array>; dispose: () => Promise<void> }> {
  const { GPU, input } = await loadGpuJs();
  if (mode === 'webgpu' && !(await GPU.isWebGPUAvailable())) throw new Error('gpu.js: no WebGPU adapter');
  const gpu = new GPU({ mode });
  const kernel = gpu.createKernel(function (this: KernelThis, a: number[][], b: number[][]): number {
    let s = 0;
    for (let k = 0; k < this.constants.K; k++) s += a[this.thread.y][k] * b[k][this.thread.x];
    return s;
  }).setOutput([N, M]).setConstants({ K }).setPrecision('single');
  return {
    run: async (a, b) => {
      const rows = await kernel(input(a, [K, M]), input(b, [N, K]));
      const out = new Float32Array(M * N);
      rows.forEach((r, i) => out.set(r, i * N));
      return out;
    },
    dispose: async () => {
      await gpu.destroy();
    },
  };
}
