// The WebGPU backend's public surface. Import this file dynamically (`await import('./webgpu/index.ts')`)
// so that the CPU path never loads the optional `webgpu` package.
export { WebGPUBackend, createWebGPUBackend } from './backend.ts';
export type { GpuBuf, GpuIntBuf, RungChoice, WebGPUBackendOptions } from './backend.ts';
export { WebGPUUnavailableError, acquireDevice, webgpuAvailable } from './device.ts';
export type { AdapterSummary, DeviceLimits, DeviceOptions } from './device.ts';
export type { GpuStats } from './buffers.ts';
export { MATMUL_RUNGS, pickMatmulRung } from './ops/matmul.ts';
export type { DeviceClass, MatmulRung, MatmulTuning } from './ops/matmul.ts';
export { GEMM_TILES, gemmSupports, pickGemmConfig, pickGemvConfig } from './ops/matmul-config.ts';
export type { GemmConfig, GemvConfig } from './ops/matmul-config.ts';
export { ATTENTION_RUNGS, DECODE_RUNGS, flashSupports, pickAttentionRung, pickDecodeRung, splitSupports } from './ops/attention.ts';
export type { AttentionRung, DecodeRung } from './ops/attention.ts';
export type { KernelTime } from './runtime.ts';
