// Public API: re-exports only.

// the model: load, forward, generate, embed
export { GPT2Model, loadModel } from './model/model.ts';
export type { LoadOptions, ForwardCallOptions, ForwardOutput } from './model/model.ts';
export type { GenerateOptions, GenerateResult } from './generate/generate.ts';
export { generate } from './generate/generate.ts';
export type { SamplingOptions } from './generate/sampling.ts';
export { HF_SAMPLING_DEFAULTS, warpLogits, sampleFromLogits } from './generate/sampling.ts';
export { Rng } from './generate/rng.ts';
export type { RngState } from './generate/rng.ts';
export { Embeddings, embedTexts, embedIds, embedDefaults, l2normalize } from './embed/embed.ts';
export type { EmbedOptions, EmbedPooling } from './embed/embed.ts';
export { pool } from './embed/pooling.ts';
export type { Pooling } from './embed/pooling.ts';

// configuration and parameters
export type { GPT2Config } from './config.ts';
export { configFromHF, configToHF, makeConfig, validateConfig, headSize } from './config.ts';
export type { ParamSpec, ParamViews, BlockViews } from './params.ts';
export { Params, layoutParams, expectedShapes, randomParams, ALIGN } from './params.ts';

// tokenizer
export { Tokenizer, StreamDecoder, StreamEncoder } from './tokenizer/index.ts';
export type { EncodeOptions } from './tokenizer/index.ts';

// files
export { loadModelFiles, inferConfig, normalizeName } from './io/model.ts';
export type { LoadedModel, ModelSource } from './io/model.ts';
export { SafetensorsFile, SafetensorsError, serializeSafetensors, writeSafetensors, f16BitsToF32, bf16BitsToF32, f32ToF16Bits, f32ToBf16Bits } from './io/safetensors.ts';
export type { DType, TensorInfo, TensorToWrite, TypedArray } from './io/safetensors.ts';

// PyTorch checkpoints and the Hugging Face Hub
export { TorchCheckpoint, TorchFormatError, isTorchCheckpoint } from './io/torch/checkpoint.ts';
export { pullModel, resolveModelPath } from './hub/pull.ts';
export type { PullOptions, PullResult } from './hub/pull.ts';
export { taskDefaults } from './generate/task-defaults.ts';
export type { TaskDefaults } from './generate/task-defaults.ts';

// training
export { adamwStep, createAdamWState, ADAMW_DEFAULTS } from './train/adamw.ts';
export type { AdamWConfig, AdamWState } from './train/adamw.ts';
export { clipGradNorm, gradNorm } from './train/clip.ts';
export { learningRate, lrLambda, SCHEDULE_NAMES } from './train/schedule.ts';
export type { ScheduleConfig, ScheduleName } from './train/schedule.ts';
export { createTrainContext, disposeTrainContext, trainStep, computeGradients, lossAndGradients } from './train/step.ts';
export type { TrainBatch, TrainContext, StepOptions, StepResult } from './train/step.ts';
export { fineTuneOnTweets } from './train/finetune.ts';
export type { FineTuneOptions } from './train/finetune.ts';
export { runTraining, TRAIN_DEFAULTS } from './train/trainer.ts';
export type { TrainSettings, TrainRun, TrainResult, StepInfo } from './train/trainer.ts';
export { buildTweetDataset, readTweetsFile, formatDataTable } from './train/data/index.ts';
export type { TweetDataset, UserStats } from './train/data/index.ts';

// backends and the model's building blocks (for custom loops and teaching)
export type { Backend, KVLayer, TrainingBackend } from './backend.ts';
export { isTrainingBackend } from './backend.ts';
export { CpuBackend } from './cpu/backend.ts';
export { createBackend, BACKEND_NAMES } from './backends.ts';
export type { BackendName } from './backends.ts';
export type { Activations, ActivationShape, LayerActs } from './model/activations.ts';
export { allocActivations } from './model/activations.ts';
export type { KVCache } from './model/kvcache.ts';
export { allocKVCache } from './model/kvcache.ts';
export type { DeviceParams, ForwardOptions, ForwardResult } from './model/gpt2.ts';
export { gpt2Forward, gpt2Backward, gpt2Loss, allocGrads, uploadParams, attentionScale } from './model/gpt2.ts';
export { allocGradActivations } from './model/activations.ts';
export { DecodeSession } from './model/session.ts';
export { crossEntropyLoss } from './train/loss.ts';
