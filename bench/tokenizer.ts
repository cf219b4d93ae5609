// Tokenizer benchmark (not a test): gpt2ts's Tokenizer against the npm peers tiktoken (Rust
// compiled to WASM), js-tiktoken and gpt-tokenizer, all in one run so the ratios are fair on a
// shared, noisy machine.
//
//   1. mistakes of each peer on the 626 fixture cases (plain and special, encode and decode)
//   2. load time of the tokenizer files, each measured cold in a fresh process
//   3. encode throughput (tokens/s) on 5 MB of mixed text and on a 10 MB word without spaces
//   4. linearity: per-byte time from 10 KB to 10 MB for mixed text, random letters, "aaaa…"
//   5. `gpt2ts tokenize --jsonl` on a generated ~1 GB stream: throughput and peak RSS
//
// Run from the repo root:  npx tsx bench/tokenizer.ts [--quick] [--no-jsonl] [--jsonl-mb N]
// Writes bench/results/tokenizer.json and bench/results/tokenizer.svg.

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from '../src/tokenizer/index.ts';
import { mixedCorpus, noSpaceWord, repeatedWord } from './tokenizer-corpus.ts';
import { type JsonlResult, runJsonl } from './tokenizer-jsonl.ts';
import { barChart } from './tokenizer-chart.ts';

const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const mbArg = args.indexOf('--jsonl-mb');
const JSONL_MB = mbArg >= 0 ? Number(args[mbArg + 1]) : QUICK ? 50 : 1024;
/** a peer whose next size is projected to take longer than this is skipped */
const BUDGET_MS = QUICK ? 5_000 : 20_000;

// ---- the contenders: encode as plain text, encode with <|endoftext|> special, decode ----

interface Contender {
  name: string;
  plain(text: string): ArrayLike<number>;
  special(text: string): ArrayLike<number>;
  decode(ids: number[]): string;
}

// peers resolve from bench/node_modules (bench/package.json is the bench-only package)
const require = createRequire(import.meta.url);
type IdsFn = (text: string, ...rest: unknown[]) => ArrayLike<number>;
interface TiktokenWasm { encode_ordinary(t: string): Uint32Array; encode(t: string, allowed: 'all'): Uint32Array; decode(ids: Uint32Array): Uint8Array }
interface JsTiktoken { encode: IdsFn; decode(ids: number[]): string }
interface GptTokenizer { encode: IdsFn; decode(ids: number[]): string }

function loadPeer(name: string): Contender {
  if (name === 'tiktoken') {
    const enc = (require('tiktoken') as { get_encoding(n: string): TiktokenWasm }).get_encoding('gpt2');
    const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });
    return {
      name,
      plain: (t) => enc.encode_ordinary(t),
      special: (t) => enc.encode(t, 'all'),
      // tiktoken returns bytes; decoding them is the caller's job
      decode: (ids) => utf8.decode(enc.decode(Uint32Array.from(ids))),
    };
  }
  if (name === 'js-tiktoken') {
    const enc = (require('js-tiktoken') as { getEncoding(n: string): JsTiktoken }).getEncoding('gpt2');
    return { name, plain: (t) => enc.encode(t, [], []), special: (t) => enc.encode(t, 'all'), decode: (ids) => enc.decode(ids) };
  }
  if (name === 'gpt-tokenizer') {
    const enc = require('gpt-tokenizer/encoding/gpt2') as GptTokenizer;
    return {
      name,
      plain: (t) => enc.encode(t, { disallowedSpecial: new Set() }),
      special: (t) => enc.encode(t, { allowedSpecial: 'all' }),
      decode: (ids) => enc.decode(ids),
    };
  }
  throw new Error(`unknown peer ${name}`);
}

function ours(tok: Tokenizer): Contender {
  return {
    name: 'gpt2ts',
    plain: (t) => tok.encode(t),
    special: (t) => tok.encode(t, { allowedSpecial: 'all' }),
    decode: (ids) => tok.decode(ids),
  };
}

const PEERS = ['tiktoken', 'js-tiktoken', 'gpt-tokenizer'];

// ---- 1. mistakes on the fixture cases ----

interface Mistakes {
  encode: number;
  decode: number;
  examples: string[];
}

async function caseMistakes(c: Contender): Promise<Mistakes> {
  const { readFileSync } = await import('node:fs');
  const lines = readFileSync(new URL('../test/fixtures/tokenizer/cases.jsonl', import.meta.url), 'utf8').split('\n').filter(Boolean);
  const m: Mistakes = { encode: 0, decode: 0, examples: [] };
  for (const line of lines) {
    const k = JSON.parse(line) as { text: string; ids: number[]; special?: boolean; kind: string };
    let got: string;
    try {
      got = JSON.stringify(Array.from(k.special ? c.special(k.text) : c.plain(k.text)));
    } catch (e) {
      got = `threw ${(e as Error).message}`;
    }
    if (got !== JSON.stringify(k.ids)) {
      m.encode++;
      if (m.examples.length < 8) m.examples.push(`encode ${k.special ? '(special) ' : ''}${JSON.stringify(k.text).slice(0, 40)} [${k.kind}]`);
    }
    if (c.decode(k.ids) !== k.text) {
      m.decode++;
      if (m.examples.length < 8) m.examples.push(`decode ${JSON.stringify(k.text).slice(0, 40)} [${k.kind}]`);
    }
  }
  return m;
}

// ---- 2. load time, cold, in a child process each ----

async function coldLoadMs(name: string): Promise<number> {
  const self = fileURLToPath(import.meta.url);
  const out = await new Promise<string>((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', self, '--load-only', name], { stdio: ['ignore', 'pipe', 'inherit'] });
    let s = '';
    p.stdout.on('data', (d: Buffer) => (s += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(s) : reject(new Error(`load child for ${name} exited ${code}`))));
  });
  return Number(out.trim());
}

function loadOnly(name: string): void {
  const t0 = performance.now();
  if (name === 'gpt2ts') Tokenizer.default().encode('warm');
  else loadPeer(name).plain('warm');
  process.stdout.write(`${(performance.now() - t0).toFixed(2)}\n`);
}

// ---- 3, 4. timing ----

/**
 * Time fn on each input in turn (distinct texts, so no contender's cache has seen the input
 * before the first run; later inputs may share words, as any real corpus does). Stops early
 * once a run has taken longer than `enough` ms. Returns the first and the best time.
 */
function timeRuns(fn: (text: string) => ArrayLike<number>, inputs: string[], enough = 2000): { firstMs: number; bestMs: number; tokens: number; ids: ArrayLike<number> } {
  let firstMs = 0;
  let bestMs = Infinity;
  let tokens = 0;
  let ids: ArrayLike<number> = [];
  for (let i = 0; i < inputs.length; i++) {
    const t0 = performance.now();
    const out = fn(inputs[i]);
    const ms = performance.now() - t0;
    if (i === 0) {
      firstMs = ms;
      tokens = out.length;
      ids = out;
    }
    // token counts differ between inputs: compare rates through the first input's count
    bestMs = Math.min(bestMs, (ms * tokens) / Math.max(1, out.length));
    if (ms > enough) break;
  }
  return { firstMs, bestMs, tokens, ids };
}

function sameIds(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

interface Row {
  input: string;
  bytes: number;
  contender: string;
  tokens?: number;
  ms?: number;
  tokPerSec?: number;
  nsPerByte?: number;
  /** gpt2ts tokens/s ÷ this contender's tokens/s, same input, same run */
  oursOverThis?: number;
  skipped?: string;
  firstCallTokPerSec?: number;
  oursOverThisFirstCall?: number;
  sameIdsAsGpt2ts?: boolean;
}

function fmt(n: number | undefined, digits = 2): string {
  return n === undefined ? '—' : n.toFixed(digits);
}

async function main(): Promise<void> {
  if (args[0] === '--load-only') return loadOnly(args[1]);
  const tok = Tokenizer.default();
  const contenders = [ours(tok), ...PEERS.map(loadPeer)];
  const result: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version, loadavgAtStart: loadavg() },
    peers: { tiktoken: '1.0.22 (WASM)', 'js-tiktoken': '1.0.21', 'gpt-tokenizer': '4.0.0' },
    quick: QUICK,
  };

  console.log('== mistakes on the 626 fixture cases');
  const mistakes: Record<string, Mistakes> = {};
  for (const c of contenders) {
    mistakes[c.name] = await caseMistakes(c);
    console.log(`${c.name.padEnd(14)} encode wrong ${mistakes[c.name].encode}, decode wrong ${mistakes[c.name].decode}`);
    for (const e of mistakes[c.name].examples) console.log(`${''.padEnd(16)}${e}`);
  }
  result.caseMistakes = mistakes;

  console.log('\n== load time (cold, fresh process each, includes module load)');
  const load: Record<string, number> = {};
  for (const name of ['gpt2ts', ...PEERS]) {
    const runs: number[] = [];
    for (let i = 0; i < 3; i++) runs.push(await coldLoadMs(name));
    load[name] = Math.min(...runs);
    console.log(`${name.padEnd(14)} ${load[name].toFixed(1)} ms (best of ${runs.map((r) => r.toFixed(0)).join(', ')})`);
  }
  const w0 = performance.now();
  for (let i = 0; i < 5; i++) Tokenizer.fromFiles(new URL('../weights/encoder.json', import.meta.url), new URL('../weights/vocab.bpe', import.meta.url));
  result.loadMs = { coldBestOf3: load, gpt2tsWarmAvg: (performance.now() - w0) / 5 };
  console.log(`gpt2ts warm reload: ${((performance.now() - w0) / 5).toFixed(1)} ms`);

  console.log('\n== encode throughput: first call on a fresh 5 MB text, best of three texts');
  const rows: Row[] = [];
  const mixedInputs = [1, 2, 3].map((seed) => mixedCorpus(5_000_000, seed));
  const mixedBytes = Buffer.byteLength(mixedInputs[0]);
  let oursFirst = 0;
  let oursBest = 0;
  let oursIds: ArrayLike<number> = [];
  for (const c of contenders) {
    const r = timeRuns(c.plain, mixedInputs);
    const first = r.tokens / (r.firstMs / 1000);
    const bestTps = r.tokens / (r.bestMs / 1000);
    if (c.name === 'gpt2ts') {
      oursFirst = first;
      oursBest = bestTps;
      oursIds = r.ids;
    }
    const same = sameIds(r.ids, oursIds);
    rows.push({ input: 'mixed 5 MB', bytes: mixedBytes, contender: c.name, tokens: r.tokens, ms: r.bestMs, tokPerSec: bestTps, firstCallTokPerSec: first, nsPerByte: (r.bestMs * 1e6) / mixedBytes, oursOverThis: oursBest / bestTps, oursOverThisFirstCall: oursFirst / first, sameIdsAsGpt2ts: same });
    console.log(`${c.name.padEnd(14)} best ${(bestTps / 1e6).toFixed(2)} M tok/s (ours ÷ this ${(oursBest / bestTps).toFixed(2)}×)  first call ${(first / 1e6).toFixed(2)} M tok/s (${(oursFirst / first).toFixed(2)}×)  same ids: ${same}`);
  }
  {
    // ours with the word cache emptied before every run, and countTokens
    const cold = timeRuns((t) => {
      tok.clearCache();
      return tok.encode(t);
    }, mixedInputs);
    const coldTps = cold.tokens / (cold.bestMs / 1000);
    rows.push({ input: 'mixed 5 MB', bytes: mixedBytes, contender: 'gpt2ts, cache emptied each run', tokens: cold.tokens, ms: cold.bestMs, tokPerSec: coldTps });
    const cnt = timeRuns((t) => ({ length: tok.countTokens(t) }), mixedInputs);
    const cntTps = cnt.tokens / (cnt.bestMs / 1000);
    rows.push({ input: 'mixed 5 MB', bytes: mixedBytes, contender: 'gpt2ts countTokens', tokens: cnt.tokens, ms: cnt.bestMs, tokPerSec: cntTps });
    console.log(`gpt2ts, cache emptied each run ${(coldTps / 1e6).toFixed(2)} M tok/s; countTokens ${(cntTps / 1e6).toFixed(2)} M tok/s`);
  }
  result.mixedCorpus = { bytes: mixedBytes, chars: mixedInputs[0].length, tokens: oursIds.length };

  // the 10 MB word: ours only here (the peers' long-word times are in the sweep below)
  const wordBytes = QUICK ? 1_000_000 : 10_000_000;
  const wordRun = timeRuns((t) => tok.encode(t), [noSpaceWord(wordBytes, 11), noSpaceWord(wordBytes, 12)], 60_000);
  const wordTps = wordRun.tokens / (wordRun.bestMs / 1000);
  rows.push({ input: `no-space word ${wordBytes / 1e6} MB`, bytes: wordBytes, contender: 'gpt2ts', tokens: wordRun.tokens, ms: wordRun.bestMs, tokPerSec: wordTps, nsPerByte: (wordRun.bestMs * 1e6) / wordBytes });
  console.log(`no-space word ${wordBytes / 1e6} MB: gpt2ts ${(wordTps / 1e6).toFixed(2)} M tok/s, ${((wordRun.bestMs * 1e6) / wordBytes).toFixed(0)} ns/byte`);
  result.throughput = rows;
  mixedInputs.length = 1; // free memory

  console.log('\n== linearity: ns per byte by input size (fresh text each size; a peer is skipped past its budget)');
  const sizes = QUICK ? [10_000, 100_000, 1_000_000] : [10_000, 100_000, 1_000_000, 10_000_000];
  const bigMixed = mixedCorpus(sizes[sizes.length - 1] + 100_000, 4);
  const families: Array<[string, (n: number, seed: number) => string]> = [
    // mixed: different slices of one big text for each size
    ['mixed', (n, seed) => Buffer.from(bigMixed, 'utf8').subarray(seed * 7919, seed * 7919 + n).toString('utf8')],
    ['no-space random letters', (n, seed) => noSpaceWord(n, 100 + seed)],
    ['no-space "aaaa"', (n, seed) => repeatedWord(n - seed)], // distinct lengths: no cache hits
  ];
  const lin: Row[] = [];
  for (const [fam, gen] of families) {
    const last = new Map<string, { bytes: number; ms: number; exp: number }>();
    for (const n of sizes) {
      // three distinct texts per size (best of three: the machine is shared and noisy); peers
      // get one at 10 MB, where a run takes seconds to minutes
      const texts = [0, 1, 2].map((seed) => gen(n, seed));
      const bytes = Buffer.byteLength(texts[0]);
      const line: string[] = [];
      let ref: ArrayLike<number> = [];
      for (const c of contenders) {
        const prev = last.get(c.name);
        const projected = prev ? prev.ms * (bytes / prev.bytes) ** prev.exp : 0;
        if (prev && projected > BUDGET_MS) {
          lin.push({ input: fam, bytes, contender: c.name, skipped: `projected ${(projected / 1000).toFixed(0)} s > ${BUDGET_MS / 1000} s budget` });
          line.push(`${c.name} skipped (~${(projected / 1000).toFixed(0)} s)`);
          continue;
        }
        const r = timeRuns(c.plain, c.name === 'gpt2ts' || n <= 1_000_000 ? texts : texts.slice(0, 1), c.name === 'gpt2ts' ? 60_000 : 2000);
        if (c.name === 'gpt2ts') ref = r.ids;
        // growth exponent from the last two sizes (≥ 1), to project the next one
        const exp = prev ? Math.max(1, Math.log(r.bestMs / prev.ms) / Math.log(bytes / prev.bytes)) : 1;
        last.set(c.name, { bytes, ms: r.bestMs, exp });
        lin.push({ input: fam, bytes, contender: c.name, tokens: r.tokens, ms: r.bestMs, nsPerByte: (r.bestMs * 1e6) / bytes, sameIdsAsGpt2ts: sameIds(r.ids, ref) });
        line.push(`${c.name} ${((r.bestMs * 1e6) / bytes).toFixed(0)}${sameIds(r.ids, ref) ? '' : ' (ids differ!)'}`);
      }
      console.log(`${fam.padEnd(24)} ${String(bytes).padStart(9)} B  ns/byte: ${line.join(', ')}`);
    }
  }
  result.linearity = lin;
  result.cache = tok.cacheStats();
  console.log(`word cache after the runs: ${JSON.stringify(tok.cacheStats())}`);

  if (!args.includes('--no-jsonl')) {
    console.log(`\n== gpt2ts tokenize --jsonl on a generated ${JSONL_MB} MB stream`);
    const lines = mixedInputs[0].split('\n').filter((l) => l.length > 0);
    const small: JsonlResult = await runJsonl(lines, 10, tok);
    console.log(`  10 MB: ${small.inputMB.toFixed(0)} MB in ${small.seconds.toFixed(1)} s, peak RSS ${small.peakRssMB.toFixed(0)} MB`);
    const big: JsonlResult = await runJsonl(lines, JSONL_MB, tok);
    console.log(`  ${JSONL_MB} MB: ${big.inputMB.toFixed(0)} MB in ${big.seconds.toFixed(1)} s (${(big.inputMB / big.seconds).toFixed(1)} MB/s, ${(big.tokens / big.seconds / 1e6).toFixed(2)} M tok/s), ${big.lines} lines, peak RSS ${big.peakRssMB.toFixed(0)} MB, first lines verified: ${big.verified}`);
    result.jsonl = { small, big };
  }

  result.loadavgAtEnd = loadavg();
  const outDir = new URL('results/', import.meta.url);
  writeFileSync(new URL('tokenizer.json', outDir), `${JSON.stringify(result, null, 2)}\n`);
  const mixedRows = rows.filter((r) => r.input === 'mixed 5 MB' && r.tokPerSec !== undefined && !r.contender.includes('count'));
  writeFileSync(new URL('tokenizer.svg', outDir), barChart('GPT-2 encode, 5 MB mixed text (M tokens/s, higher is better)', mixedRows.map((r) => [r.contender, (r.tokPerSec ?? 0) / 1e6])));
  console.log('\nwrote bench/results/tokenizer.json and tokenizer.svg');
  console.log('\n| input | contender | M tok/s (best) | gpt2ts ÷ this | M tok/s (first call) | gpt2ts ÷ this |');
  console.log('|---|---|---:|---:|---:|---:|');
  for (const r of rows) {
    const ratio = (x: number | undefined) => (x === undefined ? '' : `${fmt(x)}×`);
    const first = r.firstCallTokPerSec === undefined ? '' : fmt(r.firstCallTokPerSec / 1e6);
    console.log(`| ${r.input} | ${r.contender} | ${fmt((r.tokPerSec ?? 0) / 1e6)} | ${ratio(r.oursOverThis)} | ${first} | ${ratio(r.oursOverThisFirstCall)} |`);
  }
}

await main();
