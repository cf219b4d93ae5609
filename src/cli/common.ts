// Shared pieces of the `gpt2ts` commands: the command shape, usage errors, flag parsing and
// validation. Library code throws; only cli/main.ts turns errors into exit codes.

import { parseArgs } from 'node:util';

/** A bad flag, argument or combination: printed as one line, exit code 2. */
export class UsageError extends Error {}

export interface CliIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  /** stderr is a terminal: show progress there */
  stderrIsTTY: boolean;
  /** stdin is a terminal: do not wait for piped input */
  stdinIsTTY: boolean;
}

export interface Command {
  name: string;
  /** one line for `gpt2ts --help` */
  summary: string;
  /** the full `gpt2ts <name> --help` text */
  help: string;
  /** resolves with an exit code when it is not 0 (e.g. 130 for an interrupted run) */
  run(argv: string[], io: CliIO): Promise<void | number>;
}

export type FlagSpec = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

export interface ParsedFlags {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

/** Parse argv strictly (unknown flags and missing values are usage errors). `--help` is always known. */
export function parseFlags(argv: string[], spec: FlagSpec, allowPositionals = true): ParsedFlags {
  try {
    const r = parseArgs({
      args: argv,
      options: { ...spec, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals,
      allowNegative: false,
    });
    return { values: r.values as ParsedFlags['values'], positionals: r.positionals };
  } catch (e) {
    throw new UsageError(cleanParseError(e));
  }
}

function cleanParseError(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  // node's messages carry a hint about "--" that does not help here; keep the first sentence
  return msg.split('. To specify')[0].replace(/\.$/, '');
}

export function str(flags: ParsedFlags, name: string): string | undefined {
  const v = flags.values[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new UsageError(`--${name} needs a value`);
  return v;
}

export function bool(flags: ParsedFlags, name: string): boolean {
  return flags.values[name] === true;
}

/** An integer flag within [min, max]. */
export function int(flags: ParsedFlags, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const s = str(flags, name);
  if (s === undefined) return undefined;
  if (!/^[+-]?\d+$/.test(s.trim())) throw new UsageError(`--${name} must be an integer, got "${s}"`);
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be between ${min} and ${max}, got ${s}`);
  }
  return n;
}

/** A finite number flag within [min, max] (inclusive unless `exclusiveMin`). */
export function num(flags: ParsedFlags, name: string, min: number, max: number, exclusiveMin = false): number | undefined {
  const s = str(flags, name);
  if (s === undefined) return undefined;
  const n = Number(s);
  if (s.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${s}"`);
  if (n < min || n > max || (exclusiveMin && n === min)) {
    throw new UsageError(`--${name} must be ${exclusiveMin ? '>' : '≥'} ${min} and ≤ ${max}, got ${s}`);
  }
  return n;
}

/** One of a fixed set of words. */
export function choice<T extends string>(flags: ParsedFlags, name: string, options: readonly T[]): T | undefined {
  const s = str(flags, name);
  if (s === undefined) return undefined;
  if (!(options as readonly string[]).includes(s)) throw new UsageError(`--${name} must be one of ${options.join(', ')}; got "${s}"`);
  return s as T;
}

/** Read all of stdin as UTF-8 text. */
export async function readAllStdin(io: CliIO): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of io.stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** Write and wait for the stream to accept it (respects backpressure in pipes). */
export function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ok = stream.write(text, (err) => (err ? reject(err) : undefined));
    if (ok) resolve();
    else stream.once('drain', () => resolve());
  });
}
