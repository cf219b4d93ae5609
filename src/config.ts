// GPT-2 model configuration and the dimension glossary used throughout the engine.
//
// Glossary (every buffer comment uses these letters):
//   B  batch size (rows)                 T  sequence length (tokens per row)
//   C  channels = n_embd                 NH number of attention heads = n_head
//   hs head size = C / NH                V  vocabulary size = vocab_size
//   L  number of transformer blocks      P  maximum positions = n_positions
//   F  MLP inner width = n_inner ?? 4C
//
// Reference: Hugging Face `GPT2Config`
// (https://github.com/huggingface/transformers/blob/main/src/transformers/models/gpt2/configuration_gpt2.py).

/** The fields of a Hugging Face GPT-2 `config.json` that the engine uses, in engine names. */
export interface GPT2Config {
  /** V */
  vocabSize: number;
  /** P */
  nPositions: number;
  /** C */
  nEmbd: number;
  /** L */
  nLayer: number;
  /** NH */
  nHead: number;
  /** F, the MLP inner width (HF `n_inner`, null means 4C) */
  nInner: number;
  layerNormEpsilon: number;
  /** only 'gelu_new' (and its aliases) is supported */
  activationFunction: string;
  bosTokenId: number;
  eosTokenId: number;
  /** HF `tie_word_embeddings` (default true): the lm-head is `wte` */
  tieWordEmbeddings: boolean;
  /** dropout probabilities (training only; generation and eval never drop) */
  embdPdrop: number;
  attnPdrop: number;
  residPdrop: number;
  /** HF `scale_attn_weights` (default true): scores divided by sqrt(hs) */
  scaleAttnWeights: boolean;
  /** HF `scale_attn_by_inverse_layer_idx` (default false): scores further divided by (layer + 1) */
  scaleAttnByInverseLayerIdx: boolean;
  /** HF `task_specific_params` as written in config.json (huggingtweets puts generation defaults here) */
  taskSpecificParams?: Record<string, Record<string, unknown>>;
}

/** Activation names in HF's ACT2FN that all mean the tanh-approximated GELU used by GPT-2. */
const TANH_GELU_NAMES = new Set(['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast']);

/** Head size hs = C / NH. */
export function headSize(cfg: GPT2Config): number {
  return cfg.nEmbd / cfg.nHead;
}

/** Throws a clear error when the numbers cannot describe a GPT-2. `where` names the source. */
export function validateConfig(cfg: GPT2Config, where = 'config'): GPT2Config {
  const ints: [keyof GPT2Config, number][] = [
    ['vocabSize', cfg.vocabSize], ['nPositions', cfg.nPositions], ['nEmbd', cfg.nEmbd],
    ['nLayer', cfg.nLayer], ['nHead', cfg.nHead], ['nInner', cfg.nInner],
  ];
  for (const [k, v] of ints) {
    if (!Number.isSafeInteger(v) || v <= 0) throw new Error(`${where}: ${hfName(k)} must be a positive integer, got ${String(v)}`);
  }
  if (cfg.nEmbd % cfg.nHead !== 0) {
    throw new Error(`${where}: n_embd (${cfg.nEmbd}) must be divisible by n_head (${cfg.nHead})`);
  }
  if (!(cfg.layerNormEpsilon > 0 && Number.isFinite(cfg.layerNormEpsilon))) {
    throw new Error(`${where}: layer_norm_epsilon must be a positive number, got ${String(cfg.layerNormEpsilon)}`);
  }
  if (!TANH_GELU_NAMES.has(cfg.activationFunction)) {
    throw new Error(`${where}: activation_function "${cfg.activationFunction}" is not supported (only gelu_new)`);
  }
  for (const k of ['bosTokenId', 'eosTokenId'] as const) {
    const v = cfg[k];
    if (!Number.isSafeInteger(v) || v < 0 || v >= cfg.vocabSize) {
      throw new Error(`${where}: ${hfName(k)} (${String(v)}) must be a token id below vocab_size ${cfg.vocabSize}`);
    }
  }
  for (const k of ['embdPdrop', 'attnPdrop', 'residPdrop'] as const) {
    const v = cfg[k];
    if (!(v >= 0 && v < 1)) throw new Error(`${where}: ${hfName(k)} must be in [0, 1), got ${String(v)}`);
  }
  return cfg;
}

const HF_NAMES: Partial<Record<keyof GPT2Config, string>> = {
  vocabSize: 'vocab_size', nPositions: 'n_positions', nEmbd: 'n_embd', nLayer: 'n_layer', nHead: 'n_head',
  nInner: 'n_inner', layerNormEpsilon: 'layer_norm_epsilon', activationFunction: 'activation_function',
  bosTokenId: 'bos_token_id', eosTokenId: 'eos_token_id', tieWordEmbeddings: 'tie_word_embeddings',
  embdPdrop: 'embd_pdrop', attnPdrop: 'attn_pdrop', residPdrop: 'resid_pdrop',
  scaleAttnWeights: 'scale_attn_weights', scaleAttnByInverseLayerIdx: 'scale_attn_by_inverse_layer_idx',
};

function hfName(k: keyof GPT2Config): string {
  return HF_NAMES[k] ?? k;
}

/** A config with GPT-2 defaults for everything not given (HF `GPT2Config()` defaults: the 124M model). */
export function makeConfig(over: Partial<GPT2Config> = {}): GPT2Config {
  const vocabSize = over.vocabSize ?? 50257;
  const nEmbd = over.nEmbd ?? 768;
  return validateConfig({
    vocabSize,
    nPositions: over.nPositions ?? 1024,
    nEmbd,
    nLayer: over.nLayer ?? 12,
    nHead: over.nHead ?? 12,
    nInner: over.nInner ?? 4 * nEmbd,
    layerNormEpsilon: over.layerNormEpsilon ?? 1e-5,
    activationFunction: over.activationFunction ?? 'gelu_new',
    bosTokenId: over.bosTokenId ?? vocabSize - 1,
    eosTokenId: over.eosTokenId ?? vocabSize - 1,
    tieWordEmbeddings: over.tieWordEmbeddings ?? true,
    embdPdrop: over.embdPdrop ?? 0,
    attnPdrop: over.attnPdrop ?? 0,
    residPdrop: over.residPdrop ?? 0,
    scaleAttnWeights: over.scaleAttnWeights ?? true,
    scaleAttnByInverseLayerIdx: over.scaleAttnByInverseLayerIdx ?? false,
    ...(over.taskSpecificParams ? { taskSpecificParams: over.taskSpecificParams } : {}),
  });
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/**
 * Parse a Hugging Face `config.json` object. Unknown keys are ignored; keys that change the math
 * in ways the engine does not implement (`reorder_and_upcast_attn` is numerically harmless in
 * float32 and accepted) are rejected with a clear message.
 */
export function configFromHF(json: unknown, where = 'config.json'): GPT2Config {
  if (!isRecord(json)) throw new Error(`${where}: expected a JSON object`);
  if (json.model_type !== undefined && json.model_type !== 'gpt2') {
    throw new Error(`${where}: model_type is "${String(json.model_type)}", only "gpt2" is supported`);
  }
  const num = (key: string, fallback?: number): number => {
    const v = json[key];
    if (v === undefined || v === null) {
      if (fallback === undefined) throw new Error(`${where}: missing "${key}"`);
      return fallback;
    }
    if (typeof v !== 'number') throw new Error(`${where}: "${key}" must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const v = json[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') throw new Error(`${where}: "${key}" must be true or false, got ${JSON.stringify(v)}`);
    return v;
  };
  const vocabSize = num('vocab_size', 50257);
  const nEmbd = num('n_embd', 768);
  const act = json.activation_function ?? 'gelu_new';
  if (typeof act !== 'string') throw new Error(`${where}: "activation_function" must be a string`);
  const tsp = json.task_specific_params;
  const taskSpecificParams: Record<string, Record<string, unknown>> = {};
  if (isRecord(tsp)) {
    for (const [k, v] of Object.entries(tsp)) if (isRecord(v)) taskSpecificParams[k] = v;
  }
  const cfg: GPT2Config = {
    vocabSize,
    nPositions: num('n_positions', num('n_ctx', 1024)),
    nEmbd,
    nLayer: num('n_layer', 12),
    nHead: num('n_head', 12),
    nInner: num('n_inner', 4 * nEmbd),
    layerNormEpsilon: num('layer_norm_epsilon', 1e-5),
    activationFunction: act,
    bosTokenId: num('bos_token_id', 50256),
    eosTokenId: num('eos_token_id', 50256),
    tieWordEmbeddings: bool('tie_word_embeddings', true),
    embdPdrop: num('embd_pdrop', 0.1),
    attnPdrop: num('attn_pdrop', 0.1),
    residPdrop: num('resid_pdrop', 0.1),
    scaleAttnWeights: bool('scale_attn_weights', true),
    scaleAttnByInverseLayerIdx: bool('scale_attn_by_inverse_layer_idx', false),
    ...(Object.keys(taskSpecificParams).length ? { taskSpecificParams } : {}),
  };
  return validateConfig(cfg, where);
}

/** The config as a Hugging Face `config.json` object (what `save` writes). */
export function configToHF(cfg: GPT2Config): Record<string, unknown> {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: cfg.vocabSize,
    n_positions: cfg.nPositions,
    n_ctx: cfg.nPositions,
    n_embd: cfg.nEmbd,
    n_layer: cfg.nLayer,
    n_head: cfg.nHead,
    n_inner: cfg.nInner === 4 * cfg.nEmbd ? null : cfg.nInner,
    activation_function: cfg.activationFunction,
    layer_norm_epsilon: cfg.layerNormEpsilon,
    initializer_range: 0.02,
    resid_pdrop: cfg.residPdrop,
    embd_pdrop: cfg.embdPdrop,
    attn_pdrop: cfg.attnPdrop,
    scale_attn_weights: cfg.scaleAttnWeights,
    scale_attn_by_inverse_layer_idx: cfg.scaleAttnByInverseLayerIdx,
    reorder_and_upcast_attn: false,
    tie_word_embeddings: cfg.tieWordEmbeddings,
    bos_token_id: cfg.bosTokenId,
    eos_token_id: cfg.eosTokenId,
    torch_dtype: 'float32',
    use_cache: true,
    ...(cfg.taskSpecificParams ? { task_specific_params: cfg.taskSpecificParams } : {}),
  };
}
