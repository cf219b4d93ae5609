// WebGPU device acquisition for Node (the optional `webgpu` package: Dawn) and Deno (`navigator.gpu`:
// wgpu). Asks for the adapter's real limits rather than WebGPU's defaults (128 MiB per storage
// binding, 16 KiB of workgroup memory), and for timestamp queries when the adapter has them.
// The `webgpu` package is imported dynamically, so the CPU path never loads it.

/** Adapter information recorded with every benchmark row. */
export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** 'dawn (node)', 'navigator.gpu' (Deno's wgpu, or a host that provides it) */
  runtime: string;
  /** a software adapter (lavapipe / llvmpipe, SwiftShader): a CPU pretending to be a GPU */
  software: boolean;
}

/** The limits the backend plans with (bytes unless named otherwise). */
export interface DeviceLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupsPerDimension: number;
  maxStorageBuffersPerShaderStage: number;
  minStorageBufferOffsetAlignment: number;
  minUniformBufferOffsetAlignment: number;
}

export interface AcquiredDevice {
  device: GPUDevice;
  adapter: AdapterSummary;
  limits: DeviceLimits;
  /** the device was created with 'timestamp-query' */
  timestamps: boolean;
  /** keeps the GPU object (Dawn instance) alive as long as the device */
  gpu: GPU;
}

export interface DeviceOptions {
  /** request 'timestamp-query' when the adapter offers it (default true) */
  timestamps?: boolean;
  powerPreference?: GPUPowerPreference;
  /** Dawn toggles for Node, e.g. ['enable-dawn-features=allow_unsafe_apis,disable_robustness'] */
  dawnOptions?: string[];
}

const LIMIT_NAMES = [
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupsPerDimension', 'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupSizeZ',
] as const;

const HOW_TO_GET_WEBGPU =
  'use --backend cpu, or install a WebGPU driver: on Linux without a GPU, Mesa ≥ 23 lavapipe ' +
  '(Debian 12: apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1); on Node the ' +
  'optional dependency `webgpu` must be installed (npm install webgpu)';

/** The error every acquisition failure becomes: what went wrong and how to get WebGPU. */
export class WebGPUUnavailableError extends Error {
  constructor(reason: string) {
    super(`WebGPU is not available (${reason}): ${HOW_TO_GET_WEBGPU}`);
    this.name = 'WebGPUUnavailableError';
  }
}

interface DawnModule {
  create(options: string[]): GPU;
  globals: object;
}

function isDawnModule(x: unknown): x is DawnModule {
  return typeof x === 'object' && x !== null && typeof (x as { create?: unknown }).create === 'function';
}

/** navigator.gpu when the runtime has it (Deno, browsers), else null. */
function builtinGpu(): GPU | null {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  return nav?.gpu ?? null;
}

async function findGpu(opts: DeviceOptions): Promise<{ gpu: GPU; runtime: string }> {
  const builtin = builtinGpu();
  if (builtin) return { gpu: builtin, runtime: 'navigator.gpu' };
  let mod: unknown;
  try {
    // a variable specifier keeps bundlers and type-checkers from pulling the optional package in
    const name = 'webgpu';
    mod = await import(name);
  } catch (e) {
    throw new WebGPUUnavailableError(`cannot load the \`webgpu\` package: ${(e as Error).message}`);
  }
  if (!isDawnModule(mod)) throw new WebGPUUnavailableError('the `webgpu` package has no create()');
  // Dawn's objects check against the WebGPU globals (GPUBufferUsage, ...): install them once.
  const g = globalThis as Record<string, unknown>;
  if (g.GPUBufferUsage === undefined) Object.assign(globalThis, mod.globals);
  try {
    return { gpu: mod.create(opts.dawnOptions ?? []), runtime: 'dawn (node)' };
  } catch (e) {
    throw new WebGPUUnavailableError(`Dawn failed to start: ${(e as Error).message}`);
  }
}

/** Find an adapter and create a device with the adapter's own limits. Throws WebGPUUnavailableError. */
export async function acquireDevice(opts: DeviceOptions = {}): Promise<AcquiredDevice> {
  const { gpu, runtime } = await findGpu(opts);
  let adapter: GPUAdapter | null;
  try {
    adapter = await gpu.requestAdapter(opts.powerPreference ? { powerPreference: opts.powerPreference } : undefined);
  } catch (e) {
    throw new WebGPUUnavailableError(`requestAdapter failed: ${(e as Error).message}`);
  }
  if (!adapter) throw new WebGPUUnavailableError('no GPU adapter found (no Vulkan, Metal or D3D12 device)');

  const requiredLimits: Record<string, number> = {};
  for (const name of LIMIT_NAMES) requiredLimits[name] = adapter.limits[name];
  const timestamps = (opts.timestamps ?? true) && adapter.features.has('timestamp-query');
  const requiredFeatures: GPUFeatureName[] = timestamps ? ['timestamp-query'] : [];
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  } catch (e) {
    throw new WebGPUUnavailableError(`requestDevice failed: ${(e as Error).message}`);
  }
  const info = adapter.info;
  const l = device.limits;
  return {
    device,
    gpu,
    timestamps,
    adapter: {
      vendor: info.vendor, architecture: info.architecture, device: info.device, description: info.description, runtime,
      software: (info as { isFallbackAdapter?: boolean }).isFallbackAdapter === true || /llvmpipe|lavapipe|swiftshader/i.test(info.description),
    },
    limits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      minStorageBufferOffsetAlignment: l.minStorageBufferOffsetAlignment,
      minUniformBufferOffsetAlignment: l.minUniformBufferOffsetAlignment,
    },
  };
}

/** True when an adapter can be found (for test helpers and `--backend auto`); never throws. */
export async function webgpuAvailable(): Promise<boolean> {
  try {
    const { gpu } = await findGpu({});
    return (await gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}
