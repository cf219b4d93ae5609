// The tokenizer's public surface (re-exported from src/index.ts).
export { Tokenizer } from './tokenizer.ts';
export type { EncodeOptions } from './tokenizer.ts';
export type { CacheOptions } from './encoder.ts';
export { StreamDecoder } from './stream-decoder.ts';
export { StreamEncoder } from './stream-encoder.ts';
export { GPT2_SPLIT_PATTERN, GPT2_SPLIT_PATTERN_PY, splitReference } from './pattern.ts';
export { splitPreTokens } from './pretokenize.ts';
export { BYTE_TO_CHAR, CHAR_TO_BYTE } from './bytes-unicode.ts';
