// Public API: re-exports only.
export type { GPT2Config } from './config.ts';
export { configFromHF, configToHF, makeConfig, validateConfig, headSize } from './config.ts';
export type { ParamSpec, ParamViews, BlockViews } from './params.ts';
export { Params, layoutParams, expectedShapes, randomParams, ALIGN } from './params.ts';
export type { Backend, KVLayer } from './backend.ts';
export { CpuBackend } from './cpu/backend.ts';
export type { Activations, ActivationShape, LayerActs } from './model/activations.ts';
export { allocActivations } from './model/activations.ts';
export type { KVCache } from './model/kvcache.ts';
export { allocKVCache } from './model/kvcache.ts';
export type { DeviceParams, ForwardOptions, ForwardResult } from './model/gpt2.ts';
export { gpt2Forward, uploadParams, attentionScale } from './model/gpt2.ts';
