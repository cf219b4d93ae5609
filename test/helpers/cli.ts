// Run `gpt2ts` in-process with captured streams (fast), or as a child process of the built CLI.

import { spawnSync } from 'node:child_process';
import { PassThrough, Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.ts';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** main(argv) with stdin = `input` (or an empty stream), stdout/stderr captured. */
export async function runCli(argv: string[], input = '', opts: { stdinIsTTY?: boolean } = {}): Promise<CliResult> {
  const out = new PassThrough(), err = new PassThrough();
  const chunks: Buffer[] = [], echunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  err.on('data', (c: Buffer) => echunks.push(c));
  const code = await main(argv, {
    stdout: out, stderr: err, stdin: Readable.from([Buffer.from(input)]),
    stderrIsTTY: false, stdinIsTTY: opts.stdinIsTTY ?? false,
  });
  return { code, stdout: Buffer.concat(chunks).toString('utf8'), stderr: Buffer.concat(echunks).toString('utf8') };
}

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** The real `gpt2ts` (source entry point through tsx) as a child process. */
export function runCliProcess(argv: string[], input = ''): CliResult {
  const r = spawnSync(process.execPath, ['--import', 'tsx', `${repoRoot}src/cli/main.ts`, ...argv], {
    input, encoding: 'utf8', cwd: repoRoot, timeout: 120_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
