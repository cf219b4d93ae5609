// `gpt2ts tokenize`: text → GPT-2 token ids, ids → text, and a JSONL dataset mode.
//   TEXT or stdin → ids (space separated, or --json, or --count); stdin is encoded as it streams
//   --decode      ids (JSON array, or separated by spaces/commas) → the exact text, no newline added
//   --jsonl       one {"text": ...} per stdin line → one {"ids": [...]} per line, in order,
//                 streamed in constant memory; a bad line stops with "line N: ..." (exit 1)
// Output goes through write() so it waits for slow pipes instead of buffering.

import { StringDecoder } from 'node:string_decoder';
import { Tokenizer, type EncodeOptions } from '../tokenizer/index.ts';
import { type CliIO, type Command, UsageError, bool, parseFlags, readAllStdin, str, write } from './common.ts';

const FLAGS = {
  decode: { type: 'boolean' },
  json: { type: 'boolean' },
  count: { type: 'boolean' },
  special: { type: 'boolean' },
  jsonl: { type: 'boolean' },
  model: { type: 'string' },
} as const;

const HELP = `Usage: gpt2ts tokenize [TEXT] [--decode] [--json] [--count] [--special] [--jsonl] [--model PATH]

GPT-2 byte-level BPE: text to token ids, or ids back to text. TEXT is one argument (quote it);
without it, stdin is read (streamed: any size). The text is encoded exactly as given, so a
newline at the end of piped input is a token (198): use printf or echo -n to leave it out.

Options:
  --decode      read token ids (a JSON array, or numbers separated by spaces or commas) from
                TEXT or stdin and print the text, exactly, with no newline added
  --json        print JSON: {"ids": [...]}, {"count": N} or {"text": "..."}
  --count       print only the number of tokens
  --special     encode <|endoftext|> as the special token 50256 (default: as plain text)
  --jsonl       dataset mode: one JSON object {"text": "..."} per stdin line in, one
                {"ids": [...]} (with --count: {"count": N}) per line out, in order, in
                constant memory; a malformed line stops with its line number (exit 1)
  --model PATH  use the tokenizer files (encoder.json + vocab.bpe, or vocab.json + merges.txt)
                of a model folder when it has them, else GPT-2's default

Examples:
  gpt2ts tokenize "Hello world"                 15496 995
  gpt2ts tokenize --json "Hello world"          {"ids":[15496,995]}
  gpt2ts tokenize --decode 15496 995            Hello world
  gpt2ts tokenize --decode "[15496, 995]"       Hello world
  gpt2ts tokenize --special "a<|endoftext|>b"   64 50256 65
  gpt2ts tokenize --count < book.txt
  gpt2ts tokenize < in.txt | gpt2ts tokenize --decode > out.txt     (out.txt = in.txt)
  gpt2ts tokenize --jsonl < tweets.jsonl > ids.jsonl
`;

export const tokenizeCommand: Command = {
  name: 'tokenize',
  summary: 'text to GPT-2 token ids and back; --jsonl for datasets',
  help: HELP,
  async run(argv: string[], io: CliIO): Promise<void> {
    const flags = parseFlags(argv, FLAGS);
    const decode = bool(flags, 'decode');
    const json = bool(flags, 'json');
    const count = bool(flags, 'count');
    const special = bool(flags, 'special');
    const jsonl = bool(flags, 'jsonl');
    const model = str(flags, 'model');
    const args = flags.positionals;

    if (decode && (count || special || jsonl)) {
      throw new UsageError(`--decode cannot be combined with ${count ? '--count' : special ? '--special' : '--jsonl'}`);
    }
    if (jsonl && args.length > 0) throw new UsageError('--jsonl reads stdin; do not give TEXT');
    if (!decode && args.length > 1) {
      throw new UsageError(`expected one TEXT argument, got ${args.length} (quote the text: "like this")`);
    }
    if (args.length === 0 && io.stdinIsTTY) {
      throw new UsageError(jsonl ? '--jsonl reads JSON lines from stdin; pipe them in' : 'give TEXT, or pipe input on stdin');
    }

    const tok = model !== undefined ? Tokenizer.fromModel(model) : Tokenizer.default();
    const opts: EncodeOptions = { allowedSpecial: special ? 'all' : 'none' };

    if (decode) {
      const ids = parseIds(args.length > 0 ? args.join(' ') : await readAllStdin(io));
      const text = tok.decode(ids);
      await write(io.stdout, json ? `${JSON.stringify({ text })}\n` : text);
    } else if (jsonl) {
      await encodeJsonl(tok, opts, count, io);
    } else if (args.length > 0) {
      const ids = tok.encode(args[0], opts);
      await write(io.stdout, count ? formatCount(ids.length, json) : formatIds(ids, json));
    } else {
      await encodeStream(tok, opts, count, json, io);
    }
  },
};

function formatCount(n: number, json: boolean): string {
  return json ? `{"count":${n}}\n` : `${n}\n`;
}

function formatIds(ids: number[], json: boolean): string {
  return json ? `{"ids":[${ids.join(',')}]}\n` : `${ids.join(' ')}\n`;
}

/** Token ids written as a JSON array or as numbers separated by spaces and/or commas. */
export function parseIds(input: string): number[] {
  const s = input.trim();
  if (s.startsWith('[')) {
    let v: unknown;
    try {
      v = JSON.parse(s);
    } catch (e) {
      throw new Error(`--decode: the input is not a valid JSON array (${(e as Error).message})`);
    }
    if (!Array.isArray(v)) throw new Error('--decode: expected a JSON array of token ids');
    v.forEach((x: unknown, i) => {
      if (typeof x !== 'number') throw new Error(`--decode: element ${i} of the array is ${JSON.stringify(x)}, not a token id`);
    });
    return v as number[];
  }
  if (s === '') return [];
  return s.split(/[\s,]+/).filter((x) => x !== '').map((x) => {
    if (!/^\d+$/.test(x)) throw new Error(`--decode: "${x.slice(0, 40)}" is not a token id (expected non-negative integers)`);
    return Number(x);
  });
}

/** Plain stdin, encoded as it arrives (exact: cuts only at safe pre-token boundaries). */
async function encodeStream(tok: Tokenizer, opts: EncodeOptions, count: boolean, json: boolean, io: CliIO): Promise<void> {
  const enc = tok.streamEncoder(opts);
  const utf8 = new StringDecoder('utf8');
  let n = 0;
  // ids go out as they are final: "a b c" or {"ids":[a,b,c]}, pieces joined by the separator
  const sep = json ? ',' : ' ';
  if (!count && json) await write(io.stdout, '{"ids":[');
  const emit = async (ids: number[]) => {
    if (ids.length === 0) return;
    if (!count) await write(io.stdout, (n > 0 ? sep : '') + ids.join(sep));
    n += ids.length;
  };
  for await (const chunk of io.stdin) {
    await emit(enc.push(typeof chunk === 'string' ? chunk : utf8.write(chunk as Buffer)));
  }
  await emit(enc.push(utf8.end()));
  await emit(enc.flush());
  await write(io.stdout, count ? formatCount(n, json) : json ? ']}\n' : '\n');
}

/** --jsonl: one {"text"} per line in, one {"ids"} (or {"count"}) per line out, in order. */
async function encodeJsonl(tok: Tokenizer, opts: EncodeOptions, count: boolean, io: CliIO): Promise<void> {
  let pending: Buffer[] = []; // the start of a line that continues in a later chunk
  let lineNo = 0;
  const encodeLine = (line: string): string => {
    lineNo++;
    const text = textOfLine(lineNo === 1 && line.charCodeAt(0) === 0xfeff ? line.slice(1) : line, lineNo);
    return count ? `{"count":${tok.countTokens(text, opts)}}\n` : `{"ids":[${tok.encode(text, opts).join(',')}]}\n`;
  };
  for await (const chunk of io.stdin) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    const out: string[] = [];
    let start = 0;
    try {
      for (let nl = buf.indexOf(10, start); nl >= 0; nl = buf.indexOf(10, start)) {
        const line = pending.length > 0 ? Buffer.concat([...pending, buf.subarray(start, nl)]) : buf.subarray(start, nl);
        pending = [];
        out.push(encodeLine(line.toString('utf8')));
        start = nl + 1;
      }
    } catch (e) {
      await write(io.stdout, out.join('')); // the lines before the bad one still come out
      throw e;
    }
    if (start < buf.length) pending.push(buf.subarray(start));
    if (out.length > 0) await write(io.stdout, out.join(''));
  }
  // a last line without a newline
  if (pending.length > 0) await write(io.stdout, encodeLine(Buffer.concat(pending).toString('utf8')));
}

/** The "text" of one JSONL line, or an Error naming the line. */
function textOfLine(line: string, lineNo: number): string {
  if (line.trim() === '') throw new Error(`line ${lineNo}: empty line (expected a JSON object like {"text": "..."})`);
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch (e) {
    throw new Error(`line ${lineNo}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new Error(`line ${lineNo}: expected a JSON object like {"text": "..."}`);
  }
  const text = (obj as Record<string, unknown>).text;
  if (typeof text !== 'string') {
    throw new Error(`line ${lineNo}: ${text === undefined ? 'no "text" field' : '"text" is not a string'}`);
  }
  return text;
}
