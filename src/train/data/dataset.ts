// Tweets files → token blocks for the trainer, the huggingtweets way:
//   read each user's file → filter and clean (clean.ts) → check there is enough text
//   → optional validation split by tweet → mix users with upsampling (mix.ts)
//     (the split comes first, so held-out tweets are never repeated into training, and the
//     upsampling target is the largest user's training characters; the 6000-character check is
//     on all kept tweets, as the notebook had no split)
//   → text = <|endoftext|> + tweets joined by <|endoftext|> + <|endoftext|>
//   → tokens → blocks of block_size, the last partial block dropped (HF TextDataset)
// Each distinct tweet is encoded once and the ids are laid out with 50256 between them: GPT-2's
// pre-tokenizer never merges across a special token, so this equals encoding the joined text
// with the special token allowed. One difference from HF, on purpose: a tweet that contains the
// literal string "<|endoftext|>" keeps it as ordinary text instead of becoming a separator.

import { basename, dirname } from 'node:path';
import { Tokenizer } from '../../tokenizer/index.ts';
import { EOT, FEW_USER_CHARS, type FilterStats, MIN_USER_CHARS, filterTweets } from './clean.ts';
import { TweetDataError } from './errors.ts';
import { type TweetFormat, readTweetsFile } from './formats.ts';
import { splitUsers, trainingSequence } from './mix.ts';

export interface UserSource {
  /** path of the tweets file */
  path: string;
  /** the name in the table; default from the path (see userNameFromPath) */
  user?: string;
  /** skip format detection */
  format?: TweetFormat;
}

export interface TweetDatasetOptions {
  tokenizer?: Tokenizer;
  /** the model's context length; default 1024 */
  nPositions?: number;
  /** tokens per block; default min(1024, nPositions), as huggingtweets used model_max_length */
  blockSize?: number;
  /** seeds the validation split and the shuffles; default 42 (HF TrainingArguments' default) */
  seed?: number;
  /** fraction of each user's kept tweets held out for validation, in [0, 1); default 0 */
  validationFraction?: number;
  /** shuffled passes built into the training text; the notebook used 4 (then trained 1 epoch) */
  passes?: number;
  /** per-user minimum of kept characters (joined with <|endoftext|>); default 6000 as the notebook */
  minChars?: number;
}

/** One row of the data table, and the numbers behind it. */
export interface UserStats extends FilterStats {
  user: string;
  file: string;
  format: TweetFormat;
  /** GPT-2 tokens of the kept texts, each encoded alone, summed */
  keptTokens: number;
  /** tokens of the kept texts joined by <|endoftext|> (one id each): keptTokens + kept − 1 */
  joinedTokens: number;
  /** kept tweets used for training / held out for validation */
  trainTweets: number;
  validationTweets: number;
}

export interface TokenBlocks {
  /** tweets in the text (upsampled repeats and every pass counted) */
  tweets: number;
  /** tokens of the whole text, separators included, before cutting */
  totalTokens: number;
  /** tokens past the last full block, dropped */
  droppedTokens: number;
  /** the kept tokens, blocks.length × blockSize, block after block */
  tokens: Int32Array;
  /** views into tokens, each blockSize long */
  blocks: Int32Array[];
}

export interface TweetDataset {
  users: UserStats[];
  blockSize: number;
  seed: number;
  passes: number;
  train: TokenBlocks;
  validation: TokenBlocks | null;
  /** things worth telling the user (e.g. the notebook's "not many tweets" warning) */
  warnings: string[];
}

/** The user name for a file: its folder for a generic name (tweets.js, tweets.csv, …), else its stem. */
export function userNameFromPath(path: string): string {
  const base = basename(path);
  const stem = base.replace(/\.[^.]*$/, '');
  if (/^(tweets?|data)([-_.]?part\d+)?$/i.test(stem)) {
    // an archive keeps it in <archive>/data/tweets.js: then the archive's folder names it
    let dir = dirname(path);
    if (basename(dir).toLowerCase() === 'data') dir = dirname(dir);
    const name = basename(dir);
    if (name && name !== '.' && name !== '..') return name;
  }
  return stem || base;
}

/** `<|endoftext|>` + texts joined by `<|endoftext|>` + `<|endoftext|>`: the notebook's training text */
export function joinTweets(texts: readonly string[]): string {
  return EOT + texts.join(EOT) + EOT;
}

/** Builds the training (and validation) blocks from one or more users' tweets files. */
export function buildTweetDataset(sources: readonly (string | UserSource)[], opts: TweetDatasetOptions = {}): TweetDataset {
  if (sources.length === 0) throw new Error('no tweets files given');
  const tok = opts.tokenizer ?? Tokenizer.default();
  const nPositions = opts.nPositions ?? 1024;
  const blockSize = opts.blockSize ?? Math.min(1024, nPositions);
  if (!Number.isInteger(blockSize) || blockSize < 1 || blockSize > nPositions) {
    throw new RangeError(`block size must be an integer in 1..${nPositions} (the model's n_positions), got ${blockSize}`);
  }
  const seed = opts.seed ?? 42;
  const passes = opts.passes ?? 1;
  const fraction = opts.validationFraction ?? 0;
  const minChars = opts.minChars ?? MIN_USER_CHARS;
  const warnings: string[] = [];
  const cache: TokenCache = new Map();

  const loaded = sources.map((src) => {
    const s = typeof src === 'string' ? { path: src } : src;
    const parsed = readTweetsFile(s.path, { format: s.format });
    const { texts, stats } = filterTweets(parsed.tweets);
    checkEnough(s.path, parsed.format, stats, minChars);
    if (stats.joinedChars < FEW_USER_CHARS) {
      warnings.push(`${s.path}: only ${stats.joinedChars} characters of tweets kept; fewer than ${FEW_USER_CHARS} may give poor results`);
    }
    return { s, format: parsed.format, texts, stats };
  });
  const split = splitUsers(loaded.map((l) => l.texts), seed, fraction);
  const users: UserStats[] = loaded.map(({ s, format, texts, stats }, u) => {
    let keptTokens = 0;
    for (const t of texts) keptTokens += encodeCached(tok, cache, t).length;
    return {
      user: s.user ?? userNameFromPath(s.path),
      file: s.path,
      format,
      ...stats,
      keptTokens,
      joinedTokens: keptTokens + stats.kept - 1,
      trainTweets: split.train[u].length,
      validationTweets: split.validation[u].length,
    };
  });

  const sequence = trainingSequence(split.train, seed, passes);
  const train = cutBlocks(encodeJoined(tok, sequence, cache), sequence.length, blockSize);
  if (train.blocks.length === 0) {
    throw new Error(`the training text has ${train.totalTokens} tokens, fewer than one block of ${blockSize}; lower the block size`);
  }
  let validation: TokenBlocks | null = null;
  const validationTexts = split.validation.flat(); // user after user, each in file order
  if (validationTexts.length > 0) {
    validation = cutBlocks(encodeJoined(tok, validationTexts, cache), validationTexts.length, blockSize);
    if (validation.blocks.length === 0) {
      throw new Error(`the validation split has ${validation.totalTokens} tokens, fewer than one block of ${blockSize}; raise the validation fraction or lower the block size`);
    }
  }
  return { users, blockSize, seed, passes, train, validation, warnings };
}

function checkEnough(file: string, format: TweetFormat, s: FilterStats, minChars: number): void {
  const counts = `${s.downloaded} tweets read as ${format}, ${s.retweets} retweets and ${s.short} short tweets dropped`;
  if (s.downloaded === 0) throw new TweetDataError(file, {}, `no tweets in the file (read as ${format})`);
  if (s.kept === 0) throw new TweetDataError(file, {}, `no tweets left after filtering (${counts})`);
  if (s.joinedChars < minChars) {
    throw new TweetDataError(file, {}, `not enough text to train on: ${s.kept} tweets kept with ${s.joinedChars} characters, at least ${minChars} needed (${counts})`);
  }
}

/** token ids of each distinct tweet text */
export type TokenCache = Map<string, number[]>;

function encodeCached(tok: Tokenizer, cache: TokenCache, text: string): number[] {
  let ids = cache.get(text);
  if (!ids) cache.set(text, (ids = tok.encodeOrdinary(text)));
  return ids;
}

/** ids of joinTweets(texts), each distinct tweet encoded once */
export function encodeJoined(tok: Tokenizer, texts: readonly string[], cache: TokenCache = new Map()): Int32Array {
  let total = 1;
  for (const t of texts) total += encodeCached(tok, cache, t).length + 1;
  const out = new Int32Array(total);
  out[0] = tok.eotId;
  let k = 1;
  for (const t of texts) {
    const ids = cache.get(t) as number[];
    for (const id of ids) out[k++] = id;
    out[k++] = tok.eotId;
  }
  return out;
}

/** HF TextDataset: blocks at 0, bs, 2bs, … while a whole block fits; the remainder is dropped */
export function cutBlocks(ids: Int32Array, tweets: number, blockSize: number): TokenBlocks {
  const n = Math.floor(ids.length / blockSize);
  const tokens = ids.subarray(0, n * blockSize); // a view: the dropped tail is < one block
  const blocks: Int32Array[] = [];
  for (let b = 0; b < n; b++) blocks.push(tokens.subarray(b * blockSize, (b + 1) * blockSize));
  return { tweets, totalTokens: ids.length, droppedTokens: ids.length - n * blockSize, tokens, blocks };
}

