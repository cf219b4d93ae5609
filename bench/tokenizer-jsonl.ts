// `gpt2ts tokenize --jsonl` on a large generated stream: the real CLI (src/cli/main.ts) in a child
// process under /usr/bin/time -v, its stdin fed on the fly (no file on disk) from a cycle of
// {"text": ...} lines, its stdout counted and the first lines checked. Reports throughput and
// the child's peak RSS.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Tokenizer } from '../src/tokenizer/index.ts';

export interface JsonlResult {
  inputMB: number;
  lines: number;
  tokens: number;
  seconds: number;
  peakRssMB: number;
  /** how many of the first output lines were compared with in-process encode (all equal) */
  verified: number;
}

const CHECK = 2000;

export async function runJsonl(texts: string[], megabytes: number, tok: Tokenizer): Promise<JsonlResult> {
  const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
  const node = [process.execPath, '--import', 'tsx', main, 'tokenize', '--jsonl'];
  const useTime = existsSync('/usr/bin/time');
  const t0 = performance.now();
  const child = useTime ? spawn('/usr/bin/time', ['-v', ...node], { stdio: ['pipe', 'pipe', 'pipe'] }) : spawn(node[0], node.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });

  // stdout: count lines and ids (commas + non-empty arrays), keep the first CHECK lines
  let lines = 0;
  let tokens = 0;
  let head = '';
  child.stdout.on('data', (buf: Buffer) => {
    if (lines < CHECK) head += buf.toString();
    for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, i + 1)) {
      lines++;
      if (buf[i - 1] === 0x7d && buf[i - 2] === 0x5d && buf[i - 3] !== 0x5b) tokens++; // "…n]}\n": last id
    }
    for (let i = buf.indexOf(44); i >= 0; i = buf.indexOf(44, i + 1)) tokens++;
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const closed = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? -1)));

  // stdin: cycle through the lines until the size is reached, waiting for the pipe to drain
  const json = texts.map((text) => `${JSON.stringify({ text })}\n`);
  const target = megabytes * 1024 * 1024;
  let written = 0;
  let k = 0;
  while (written < target) {
    let chunk = '';
    while (chunk.length < 1 << 16) chunk += json[k++ % json.length];
    const buf = Buffer.from(chunk);
    written += buf.length;
    if (!child.stdin.write(buf)) await new Promise((r) => child.stdin.once('drain', r));
  }
  child.stdin.end();
  const code = await closed;
  const seconds = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`tokenize --jsonl exited ${code}: ${stderr.slice(-500)}`);

  const got = head.split('\n').slice(0, Math.min(CHECK, lines));
  got.forEach((line, i) => {
    const want = `{"ids":[${tok.encode(texts[i % texts.length]).join(',')}]}`;
    if (line !== want) throw new Error(`--jsonl output line ${i + 1} differs from encode`);
  });
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  return { inputMB: written / 1024 / 1024, lines, tokens, seconds, peakRssMB: rss ? Number(rss[1]) / 1024 : Number.NaN, verified: got.length };
}
