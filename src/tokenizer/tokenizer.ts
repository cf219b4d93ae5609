// The GPT-2 tokenizer: byte-level BPE with GPT-2's split pattern and one special token.
//   encode("hello world")                                 → [31373, 995]
//   encode("a<|endoftext|>b")                             → plain: the special's text is 7 tokens
//   encode("a<|endoftext|>b", { allowedSpecial: 'all' })  → [64, 50256, 65]
//   decode(ids)                                           → the text (a leading BOM is kept)
// Input strings with lone surrogates are encoded as if each were U+FFFD, as TextEncoder does, so
// decode(encode(s)) === s.toWellFormed().

import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BpeEncoder, type CacheOptions } from './encoder.ts';
import { StreamDecoder } from './stream-decoder.ts';
import { StreamEncoder } from './stream-encoder.ts';
import { type PathLike, type Vocab, loadVocab, pathString } from './vocab.ts';

export interface EncodeOptions {
  /**
   * Which special tokens are recognised in the text: 'none' (default: plain text, as encoder.py
   * and tiktoken's encode_ordinary), 'all', or a list of special token strings.
   */
  allowedSpecial?: 'all' | 'none' | readonly string[];
}

/** The file names tried in a model folder, in order: OpenAI's, then Hugging Face's (same formats). */
const ENCODER_NAMES = ['encoder.json', 'vocab.json'];
const MERGES_NAMES = ['vocab.bpe', 'merges.txt'];

let defaultTokenizer: Tokenizer | undefined;

export class Tokenizer {
  readonly vocabSize: number;
  /** id of <|endoftext|> (50256 for GPT-2) */
  readonly eotId: number;
  /** special token strings → ids */
  readonly specialTokens: ReadonlyMap<string, number>;
  private readonly encoder: BpeEncoder;
  private readonly textDecoder = new TextDecoder('utf-8', { ignoreBOM: true });

  private constructor(
    private readonly vocab: Vocab,
    opts: CacheOptions,
  ) {
    this.vocabSize = vocab.size;
    this.specialTokens = vocab.specials;
    this.eotId = vocab.specials.get('<|endoftext|>') as number;
    this.encoder = new BpeEncoder(vocab, opts);
  }

  /** Load from GPT-2's encoder.json and vocab.bpe (or HF's vocab.json and merges.txt). */
  static fromFiles(encoderJsonPath: PathLike, vocabBpePath: PathLike, opts: CacheOptions = {}): Tokenizer {
    return new Tokenizer(loadVocab(encoderJsonPath, vocabBpePath), opts);
  }

  /** Load from a folder holding encoder.json + vocab.bpe, or vocab.json + merges.txt. */
  static fromDir(dir: PathLike, opts: CacheOptions = {}): Tokenizer {
    const files = findTokenizerFiles(pathString(dir));
    if (!files.encoder || !files.merges) {
      const missing = !files.encoder ? 'encoder.json (or vocab.json)' : 'vocab.bpe (or merges.txt)';
      throw new Error(`no tokenizer in ${pathString(dir)}: ${missing} not found`);
    }
    return Tokenizer.fromFiles(files.encoder, files.merges, opts);
  }

  /**
   * The tokenizer for a model path (a folder, or a .safetensors file in one): its folder's
   * tokenizer files when it has them, else the default GPT-2 tokenizer.
   */
  static fromModel(modelPath: PathLike): Tokenizer {
    const p = pathString(modelPath);
    if (!existsSync(p)) throw new Error(`model path not found: ${p}`);
    const dir = statSync(p).isDirectory() ? p : dirname(p);
    const files = findTokenizerFiles(dir);
    return files.encoder || files.merges ? Tokenizer.fromDir(dir) : Tokenizer.default();
  }

  /** GPT-2's tokenizer from the shipped weights/ folder, loaded once. */
  static default(): Tokenizer {
    defaultTokenizer ??= Tokenizer.fromFiles(
      new URL('../../weights/encoder.json', import.meta.url),
      new URL('../../weights/vocab.bpe', import.meta.url),
    );
    return defaultTokenizer;
  }

  /** Token ids of text; special tokens only where allowedSpecial says so (plain by default). */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    checkText(text);
    const out: number[] = [];
    const specials = this.allowedSpecials(opts.allowedSpecial);
    let pos = 0;
    if (specials.length > 0) {
      for (let at = nextSpecial(text, pos, specials); at.index >= 0; at = nextSpecial(text, pos, specials)) {
        this.encoder.encodeRange(text, pos, at.index, out);
        out.push(this.vocab.specials.get(at.token) as number);
        pos = at.index + at.token.length;
      }
    }
    this.encoder.encodeRange(text, pos, text.length, out);
    return out;
  }

  /** Token ids of text as plain text: a special token's string is ordinary characters. */
  encodeOrdinary(text: string): number[] {
    return this.encode(text);
  }

  /** encode(text, opts).length, without building the array. */
  countTokens(text: string, opts: EncodeOptions = {}): number {
    checkText(text);
    const specials = this.allowedSpecials(opts.allowedSpecial);
    let count = 0;
    let pos = 0;
    if (specials.length > 0) {
      for (let at = nextSpecial(text, pos, specials); at.index >= 0; at = nextSpecial(text, pos, specials)) {
        count += this.encoder.countRange(text, pos, at.index) + 1;
        pos = at.index + at.token.length;
      }
    }
    return count + this.encoder.countRange(text, pos, text.length);
  }

  /** The UTF-8 bytes of the concatenated tokens. RangeError for an id that is not a token. */
  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    const off = this.vocab.tokenOffsets;
    let total = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      this.checkId(id, i);
      total += off[id + 1] - off[id];
    }
    const out = new Uint8Array(total);
    const bytes = this.vocab.tokenBytes;
    let k = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      for (let b = off[id]; b < off[id + 1]; b++) out[k++] = bytes[b];
    }
    return out;
  }

  /** The text of the tokens; invalid UTF-8 (a split character) becomes U+FFFD; a BOM is kept. */
  decode(ids: ArrayLike<number>): string {
    return this.textDecoder.decode(this.decodeBytes(ids));
  }

  /** The bytes of one token (a copy). */
  tokenToBytes(id: number): Uint8Array {
    return this.tokenBytesView(id).slice();
  }

  /** The bytes of one token, as a view into the shared table (do not modify). */
  tokenBytesView(id: number): Uint8Array {
    this.checkId(id);
    const off = this.vocab.tokenOffsets;
    return this.vocab.tokenBytes.subarray(off[id], off[id + 1]);
  }

  /** A decoder for one stream of ids that emits text at whole characters only. */
  streamDecoder(): StreamDecoder {
    return new StreamDecoder(this);
  }

  /**
   * An encoder for text that arrives in pieces: push(chunk) returns ids as soon as they are
   * final, flush() the rest; the ids, concatenated, equal encode(all the text, opts).
   */
  streamEncoder(opts: EncodeOptions = {}): StreamEncoder {
    this.allowedSpecials(opts.allowedSpecial); // check the options now
    return new StreamEncoder((text) => this.encode(text, opts));
  }

  /** Empty the word cache (it is bounded; this is for measurements). */
  clearCache(): void {
    this.encoder.clearCache();
  }

  /** Words in the cache now, and the most it can hold. */
  cacheStats(): { entries: number; maxEntries: number; maxWordLength: number; bytes: number } {
    return this.encoder.cacheStats();
  }

  private checkId(id: number, position?: number): void {
    if (Number.isInteger(id) && id >= 0 && id < this.vocabSize) return;
    const where = position === undefined ? '' : ` at position ${position}`;
    const what = typeof id === 'number' && Number.isInteger(id) ? 'is out of range' : 'is not an integer';
    throw new RangeError(`token id ${String(id)}${where} ${what} (ids are integers 0..${this.vocabSize - 1})`);
  }

  private allowedSpecials(allowed: EncodeOptions['allowedSpecial']): readonly string[] {
    if (allowed === undefined || allowed === 'none') return [];
    if (allowed === 'all') return [...this.vocab.specials.keys()];
    if (!Array.isArray(allowed)) throw new TypeError(`allowedSpecial must be 'all', 'none' or a list of special tokens`);
    for (const s of allowed) {
      if (!this.vocab.specials.has(s)) {
        throw new Error(`unknown special token ${JSON.stringify(s)} (known: ${[...this.vocab.specials.keys()].join(', ')})`);
      }
    }
    return allowed;
  }
}

function checkText(text: unknown): asserts text is string {
  if (typeof text !== 'string') throw new TypeError(`expected a string to encode, got ${text === null ? 'null' : typeof text}`);
}

/** The first occurrence at or after pos of any of the specials (the longest on a tie). */
function nextSpecial(text: string, pos: number, specials: readonly string[]): { index: number; token: string } {
  let index = -1;
  let token = '';
  for (const s of specials) {
    const i = text.indexOf(s, pos);
    if (i >= 0 && (index < 0 || i < index || (i === index && s.length > token.length))) {
      index = i;
      token = s;
    }
  }
  return { index, token };
}

function findTokenizerFiles(dir: string): { encoder?: string; merges?: string } {
  const first = (names: string[]) => names.map((n) => join(dir, n)).find((p) => existsSync(p));
  return { encoder: first(ENCODER_NAMES), merges: first(MERGES_NAMES) };
}
