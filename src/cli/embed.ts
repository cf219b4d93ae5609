// `gpt2ts embed`: sentence vectors for texts from arguments, stdin lines or JSONL, written as one
// JSON line per text (streaming, bounded memory) or as a safetensors file (--out).

import { closeSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { type EmbedPooling, embedDefaults, embedIds, tokenizeForEmbedding } from '../embed/embed.ts';
import { type Command, type CliIO, UsageError, bool, choice, int, parseFlags, str, write } from './common.ts';
import { jsonlText, readLines } from './lines.ts';
import { MODEL_FLAGS, MODEL_HELP, loadFromFlags } from './model-options.ts';

export const embedCommand: Command = {
  name: 'embed',
  summary: 'sentence embeddings of texts, as JSON lines or a safetensors file',
  help: `Usage: gpt2ts embed [TEXT...] [options]

Embeds each TEXT (or each line of stdin, or each {"text": ...} line with --jsonl) and writes one
JSON line per text, in input order: {"index": i, "tokens": n, "embedding": [...]}.
Texts are batched by length with right padding and an attention mask; an empty text is embedded
as the single token <|endoftext|>.

Options:
${MODEL_HELP}
  --pooling P          mean (default; over real tokens), last, first, or none (every token)
  --normalize          L2-normalize each vector
  --layer L            hidden state: ln_f (default) or a hidden_states index 0..n_layer (-1 = ln_f)
  --batch-size N       texts per forward pass (default 8)
  --truncate           cut texts longer than n_positions tokens (default: an error)
  --jsonl              read {"text": ...} objects, one per stdin line
  --out FILE           write FILE.safetensors instead of JSON lines: "embeddings" [N, C]
                       (pooling none: [total tokens, C] plus "lengths" [N])

Examples:
  gpt2ts embed "a cat" "a dog" --normalize
  cut -f2 tweets.tsv | gpt2ts embed --pooling last --out vectors.safetensors`,
  async run(argv, io) {
    const flags = parseFlags(argv, {
      ...MODEL_FLAGS, pooling: { type: 'string' }, normalize: { type: 'boolean' }, layer: { type: 'string' },
      'batch-size': { type: 'string' }, truncate: { type: 'boolean' }, jsonl: { type: 'boolean' }, out: { type: 'string' },
    });
    const pooling: EmbedPooling = choice(flags, 'pooling', ['mean', 'last', 'first', 'none'] as const) ?? 'mean';
    const layerFlag = str(flags, 'layer');
    let layer: number | 'ln_f' = 'ln_f';
    if (layerFlag !== undefined && layerFlag !== 'ln_f') {
      if (!/^-?\d+$/.test(layerFlag)) throw new UsageError(`--layer must be ln_f or an integer, got "${layerFlag}"`);
      layer = Number(layerFlag);
    }
    const batchSize = int(flags, 'batch-size', 1, 4096) ?? 8;
    const out = str(flags, 'out');
    if (out !== undefined && !out.endsWith('.safetensors')) throw new UsageError('--out must end in .safetensors');
    const jsonl = bool(flags, 'jsonl');
    if (jsonl && flags.positionals.length) throw new UsageError('--jsonl reads stdin; do not also give TEXT arguments');
    if (!flags.positionals.length && io.stdinIsTTY) throw new UsageError('give TEXT arguments or pipe texts into stdin');

    const model = await loadFromFlags(flags);
    const sink = out ? new SafetensorsSink(out) : null;
    try {
      const cfg = model.config;
      const o = embedDefaults({ pooling, normalize: bool(flags, 'normalize'), layer, batchSize, truncation: bool(flags, 'truncate') ? 'right' : 'error' }, cfg.nLayer);
      const progress = new Progress(io);
      let index = 0;
      // a window of texts is tokenized, embedded (sorted by length inside), then written in order
      const flush = async (texts: string[]): Promise<void> => {
        if (!texts.length) return;
        let ids: number[][];
        try {
          ids = tokenizeForEmbedding(texts, (t) => model.encode(t), cfg.eosTokenId, cfg.nPositions, o.truncation);
        } catch (e) {
          // name the text by its input position, not its place in the window
          throw new Error(String(e instanceof Error ? e.message : e).replace(/^text (\d+)/, (_m, i: string) => `text ${index + Number(i) + 1}`));
        }
        const e = await embedIds(model.backend, model.device, ids, o);
        const C = cfg.nEmbd;
        const per = pooling === 'none' ? e.dims[1] * C : C;
        for (let i = 0; i < texts.length; i++) {
          const n = pooling === 'none' ? e.lengths[i] * C : C;
          const v = e.data.subarray(i * per, i * per + n);
          if (sink) sink.add(v, e.lengths[i]);
          else {
            const vec = pooling === 'none' ? chunk(Array.from(v), C) : Array.from(v);
            await write(io.stdout, JSON.stringify({ index: index + i, tokens: e.lengths[i], embedding: vec }) + '\n');
          }
        }
        index += texts.length;
        progress.update(index);
      };
      const window = batchSize * 16;
      let pending: string[] = [];
      for await (const text of inputTexts(flags.positionals, jsonl, io)) {
        pending.push(text);
        if (pending.length >= window) {
          await flush(pending);
          pending = [];
        }
      }
      await flush(pending);
      progress.done(index);
      if (sink) {
        sink.finish(cfg.nEmbd, pooling);
        await write(io.stdout, `wrote ${index} embeddings to ${out}\n`);
      }
    } catch (e) {
      sink?.abort();
      throw e;
    } finally {
      model.dispose();
    }
  },
};

async function* inputTexts(positionals: string[], jsonl: boolean, io: CliIO): AsyncGenerator<string> {
  if (positionals.length) {
    yield* positionals;
    return;
  }
  let lineNo = 0;
  for await (const line of readLines(io.stdin)) {
    lineNo++;
    if (jsonl) {
      if (line.trim() === '') continue;
      yield jsonlText(line, lineNo);
    } else yield line;
  }
}

function chunk(a: number[], n: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < a.length; i += n) out.push(a.slice(i, i + n));
  return out;
}

/** A progress line on stderr when it is a terminal; silent in pipes. */
class Progress {
  private readonly t0 = Date.now();
  private last = 0;
  constructor(private readonly io: CliIO) {}
  update(n: number): void {
    if (!this.io.stderrIsTTY || Date.now() - this.last < 200) return;
    this.last = Date.now();
    const rate = n / Math.max(1e-3, (Date.now() - this.t0) / 1000);
    this.io.stderr.write(`\rembedded ${n} texts (${rate.toFixed(1)}/s)`);
  }
  done(n: number): void {
    if (this.io.stderrIsTTY && n > 0) this.io.stderr.write(`\rembedded ${n} texts in ${((Date.now() - this.t0) / 1000).toFixed(1)} s\n`);
  }
}

/**
 * Vectors streamed to a temporary data file, then assembled into `path` as safetensors (header,
 * then data) under a temporary name and renamed: bounded memory, and no partial file on failure.
 */
class SafetensorsSink {
  private readonly dataPath: string;
  private readonly fd: number;
  private floats = 0;
  private readonly lengths: number[] = [];

  constructor(private readonly path: string) {
    this.dataPath = `${path}.data-${process.pid}.tmp`;
    this.fd = openSync(this.dataPath, 'w');
  }

  add(v: Float32Array, tokens: number): void {
    writeSync(this.fd, new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    this.floats += v.length;
    this.lengths.push(tokens);
  }

  finish(C: number, pooling: EmbedPooling): void {
    closeSync(this.fd);
    const N = this.lengths.length;
    const rows = this.floats / C;
    const embBytes = this.floats * 4;
    // data order as the writer lays it out: descending item size (I64 lengths first), then name
    const lengthsBytes = pooling === 'none' ? N * 8 : 0;
    const header: Record<string, unknown> = { __metadata__: { format: 'pt', pooling, producer: 'gpt2ts embed' } };
    if (pooling === 'none') header.lengths = { data_offsets: [0, lengthsBytes], dtype: 'I64', shape: [N] };
    header.embeddings = { data_offsets: [lengthsBytes, lengthsBytes + embBytes], dtype: 'F32', shape: [rows, C] };
    const keys = Object.keys(header).sort();
    let json = JSON.stringify(Object.fromEntries(keys.map((k) => [k, header[k]])));
    json += ' '.repeat((8 - (json.length % 8)) % 8);
    const tmp = `${this.path}.${process.pid}.tmp`;
    const out = openSync(tmp, 'w');
    try {
      const len = new Uint8Array(8);
      new DataView(len.buffer).setBigUint64(0, BigInt(json.length), true);
      writeSync(out, len);
      writeSync(out, Buffer.from(json, 'ascii'));
      if (pooling === 'none') {
        const l = BigInt64Array.from(this.lengths, (x) => BigInt(x));
        writeSync(out, new Uint8Array(l.buffer));
      }
      const src = openSync(this.dataPath, 'r');
      try {
        const buf = Buffer.alloc(1 << 20);
        for (let n = readSync(src, buf); n > 0; n = readSync(src, buf)) writeSync(out, buf, 0, n);
      } finally {
        closeSync(src);
      }
      closeSync(out);
      renameSync(tmp, this.path);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    } finally {
      rmSync(this.dataPath, { force: true });
    }
  }

  abort(): void {
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    rmSync(this.dataPath, { force: true });
  }
}
