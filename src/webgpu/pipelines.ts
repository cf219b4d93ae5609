// Pipelines cached by (kernel, override constants) and bind groups cached by the exact buffer
// ranges they bind. Every kernel shares one layout shape: @binding(0) a uniform Params struct at a
// dynamic offset into the uniform ring, @binding(1..n) storage buffers (all read_write: see
// kernels/matmul_naive.wgsl), so there is one bind group layout per storage-buffer count.
// A warm decode step finds everything here: nothing is compiled or created per token.

import type { GpuStats } from './buffers.ts';
import { type Constants, KERNELS, type KernelName, kernelSource, pipelineKeyString } from './kernels.ts';

const MAX_BIND_GROUPS = 20_000; // cache bound; a steady-state decode needs a few hundred

/** A storage binding: a byte range of one GPUBuffer (`id` names the buffer in cache keys). */
export interface Bound {
  buffer: GPUBuffer;
  id: number;
  offset: number;
  size: number;
}

export interface CachedPipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  buffers: number;
}

export class PipelineCache {
  private readonly modules = new Map<string, GPUShaderModule>();
  private readonly pipelines = new Map<string, CachedPipeline>();
  /** the same pipelines by kernel and constants in call order (several keys may share one) */
  private readonly byCallKey = new Map<string, CachedPipeline>();
  private readonly layouts = new Map<number, GPUBindGroupLayout>();
  private readonly bindGroups = new Map<string, GPUBindGroup>();

  constructor(private readonly device: GPUDevice, private readonly stats: GpuStats) {}

  private layout(buffers: number): GPUBindGroupLayout {
    let l = this.layouts.get(buffers);
    if (!l) {
      const entries: GPUBindGroupLayoutEntry[] = [
        { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true } },
      ];
      for (let i = 1; i <= buffers; i++) entries.push({ binding: i, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } });
      l = this.device.createBindGroupLayout({ entries, label: `${buffers} storage buffers` });
      this.layouts.set(buffers, l);
    }
    return l;
  }

  /** The pipeline for (kernel, constants), created on first use. */
  pipeline(kernel: KernelName, constants: Constants): CachedPipeline {
    // fast path (every dispatch comes here): the constants in the order given, no sort
    let fast = kernel as string;
    for (const k in constants) fast += `,${k}=${constants[k]}`;
    const hit = this.byCallKey.get(fast);
    if (hit) return hit;
    const p = this.create(kernel, constants);
    this.byCallKey.set(fast, p);
    return p;
  }

  private create(kernel: KernelName, constants: Constants): CachedPipeline {
    const key = pipelineKeyString({ kernel, constants });
    let p = this.pipelines.get(key);
    if (!p) {
      const def = KERNELS[kernel];
      let module = this.modules.get(def.file);
      if (!module) {
        module = this.device.createShaderModule({ code: kernelSource(def.file), label: def.file });
        this.modules.set(def.file, module);
        this.stats.shaderModules++;
      }
      const layout = this.layout(def.buffers);
      const pipeline = this.device.createComputePipeline({
        label: key,
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: def.entry, constants: { ...constants } },
      });
      p = { pipeline, layout, buffers: def.buffers };
      this.pipelines.set(key, p);
      this.stats.pipelines++;
    }
    return p;
  }

  /** The bind group of `bound` (storage bindings 1..n) plus the uniform ring slot size at binding 0. */
  bindGroup(p: CachedPipeline, ring: GPUBuffer, slot: number, bound: readonly Bound[]): GPUBindGroup {
    let key = `${p.buffers}`;
    for (const b of bound) key += `|${b.id}:${b.offset}:${b.size}`;
    let bg = this.bindGroups.get(key);
    if (!bg) {
      if (this.bindGroups.size >= MAX_BIND_GROUPS) this.bindGroups.clear();
      const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: ring, offset: 0, size: slot } }];
      bound.forEach((b, i) => entries.push({ binding: i + 1, resource: { buffer: b.buffer, offset: b.offset, size: b.size } }));
      bg = this.device.createBindGroup({ layout: p.layout, entries });
      this.bindGroups.set(key, bg);
      this.stats.bindGroupsCreated++;
    }
    return bg;
  }

  clear(): void {
    this.bindGroups.clear();
  }
}
