// Peak memory and time of loading a GPT-2 124M-shaped F32 safetensors file (~500 MB = 475 MiB) into one flat
// Float32Array, the way the model loader does it, versus reading the whole file first.
//
//   npx tsx bench/safetensors-load.ts [--reps N]        (Node 20: tsx strips the types; no build step)
//
// Writes a random-weight file with the 124M tensor names and shapes (V 50257, P 1024, C 768, L 12) to a
// temp dir, then runs each method in a fresh child process (so peak RSS is that method's alone) and reports
// wall time and process.resourceUsage().maxRSS at the end, also as a ratio to the file size. A "baseline"
// child loads the same modules and reads nothing: the runtime's own RSS. Results go to
// bench/results/safetensors-load.json and .svg; the temp file is deleted afterwards.
// The file is written without __metadata__ because the npm `safetensors` peer (0.0.1) cannot parse it.

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SafetensorsFile, writeSafetensors, type TensorToWrite } from '../src/io/safetensors.ts';

const METHODS = {
  baseline: 'runtime + modules only, nothing read',
  'open+readF32Into': 'SafetensorsFile.open, readF32Into each tensor into one preallocated flat Float32Array',
  'readFileSync+copy': 'fs.readFileSync whole file, fromBytes, copy each tensor into the flat array (two copies)',
  'npm safetensors+copy': 'fs.readFileSync, npm safetensors@0.0.1 getTensor, copy each into the flat array',
  'readFileSync+views': 'fs.readFileSync whole file, fromBytes, zero-copy views (no flat array; for reference)',
} as const;
type Method = keyof typeof METHODS;

/** GPT-2 124M parameter names and shapes, in Hugging Face order */
function gpt2Shapes(V = 50257, P = 1024, C = 768, L = 12): [string, number[]][] {
  const s: [string, number[]][] = [['wte.weight', [V, C]], ['wpe.weight', [P, C]]];
  for (let i = 0; i < L; i++) {
    const h = `h.${i}.`;
    s.push([h + 'ln_1.weight', [C]], [h + 'ln_1.bias', [C]], [h + 'attn.c_attn.weight', [C, 3 * C]], [h + 'attn.c_attn.bias', [3 * C]],
      [h + 'attn.c_proj.weight', [C, C]], [h + 'attn.c_proj.bias', [C]], [h + 'ln_2.weight', [C]], [h + 'ln_2.bias', [C]],
      [h + 'mlp.c_fc.weight', [C, 4 * C]], [h + 'mlp.c_fc.bias', [4 * C]], [h + 'mlp.c_proj.weight', [4 * C, C]], [h + 'mlp.c_proj.bias', [C]]);
  }
  s.push(['ln_f.weight', [C]], ['ln_f.bias', [C]]);
  return s;
}

/** a cheap checksum of the flat buffer, so every method is seen to load the same values */
function checksum(flat: Float32Array): number {
  let s = 0;
  for (let i = 0; i < flat.length; i += 4099) s += flat[i];
  return s;
}

interface ChildResult { method: Method; ms: number; maxRssMiB: number; checksum: number }

/** one method, in this (child) process; prints a ChildResult as JSON */
function child(method: Method, path: string): void {
  const t0 = performance.now();
  let sum = 0;
  if (method !== 'baseline') {
    const probe = SafetensorsFile.open(path); // header only: names, offsets, total size
    const names = probe.names();
    const numel = (n: string) => probe.info(n).shape.reduce((a, b) => a * b, 1);
    const total = names.reduce((a, n) => a + numel(n), 0);
    probe.close();
    // flat: (total,) all parameters, each tensor a view at its running offset
    if (method === 'open+readF32Into') {
      const flat = new Float32Array(total);
      const st = SafetensorsFile.open(path);
      let off = 0;
      for (const n of names) { st.readF32Into(n, flat.subarray(off, off + numel(n))); off += numel(n); }
      st.close();
      sum = checksum(flat);
    } else if (method === 'readFileSync+copy') {
      const st = SafetensorsFile.fromBytes(readFileSync(path), path);
      const flat = new Float32Array(total);
      let off = 0;
      for (const n of names) { st.readF32Into(n, flat.subarray(off, off + numel(n))); off += numel(n); }
      sum = checksum(flat);
    } else if (method === 'npm safetensors+copy') {
      type Peer = new (b: Uint8Array) => { getTensor(name: string): Uint8Array };
      const { SafeTensor } = createRequire(import.meta.url)('safetensors') as { SafeTensor: Peer };
      const peer = new SafeTensor(new Uint8Array(readFileSync(path).buffer)); // whole-file buffer, offset 0
      const flat = new Float32Array(total);
      let off = 0;
      for (const n of names) { new Uint8Array(flat.buffer, off * 4, numel(n) * 4).set(peer.getTensor(n)); off += numel(n); }
      sum = checksum(flat);
    } else {
      const st = SafetensorsFile.fromBytes(readFileSync(path), path);
      for (const n of names) sum += checksum(st.readF32(n));
    }
  }
  const ms = performance.now() - t0;
  const result: ChildResult = { method, ms, maxRssMiB: process.resourceUsage().maxRSS / 1024, checksum: sum };
  process.stdout.write(JSON.stringify(result) + '\n');
}

function runChild(method: Method, path: string): ChildResult {
  const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', method, path], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`${method} child failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as ChildResult;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function svg(rows: { method: string; peakRssMiB: number; medianMs: number }[], fileMiB: number): string {
  const w = 640, bar = 28, left = 190, scale = (w - left - 80) / Math.max(...rows.map((r) => r.peakRssMiB), fileMiB);
  const h = 40 + rows.length * (bar + 10) + 20;
  const x = (left + fileMiB * scale).toFixed(1);
  const bars = rows.map((r, i) => {
    const y = 40 + i * (bar + 10);
    return `<text x="${left - 8}" y="${y + 18}" text-anchor="end">${r.method}</text>` +
      `<rect x="${left}" y="${y}" width="${(r.peakRssMiB * scale).toFixed(1)}" height="${bar}" fill="#4a7ab5"/>` +
      `<text x="${(left + r.peakRssMiB * scale + 6).toFixed(1)}" y="${y + 18}">${r.peakRssMiB.toFixed(0)} MiB, ${r.medianMs.toFixed(0)} ms</text>`;
  }).join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">
<text x="10" y="20" font-size="14">Peak RSS loading a GPT-2 124M F32 safetensors file (${fileMiB.toFixed(0)} MiB)</text>
${bars}
<line x1="${x}" y1="32" x2="${x}" y2="${h - 10}" stroke="#c33" stroke-dasharray="4 3"/><text x="${x + 4}" y="${h - 4}" fill="#c33">file size</text>
</svg>\n`;
}

function main(): void {
  const repsArg = process.argv.indexOf('--reps');
  const reps = repsArg > 0 ? Number(process.argv[repsArg + 1]) : 3;
  const dir = mkdtempSync(join(tmpdir(), 'gpt2ts-bench-st-'));
  const path = join(dir, 'gpt2-124m.safetensors');
  try {
    // made in a child: a forked child inherits its parent's RSS as the start of its maxRSS, so this
    // process must never hold the ~500 MB of weights itself
    const made = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--make', path], { encoding: 'utf8' });
    if (made.status !== 0) throw new Error(`making the file failed: ${made.stderr}`);
    const tensorCount = SafetensorsFile.open(path).names().length;
    const fileBytes = statSync(path).size;
    const fileMiB = fileBytes / 2 ** 20;
    console.log(`file: ${tensorCount} tensors, ${fileBytes} bytes (${fileMiB.toFixed(1)} MiB), ${reps} reps per method, node ${process.version}`);

    const runs: Record<string, ChildResult[]> = {};
    for (let r = 0; r < reps; r++) {
      for (const m of Object.keys(METHODS) as Method[]) (runs[m] ??= []).push(runChild(m, path)); // interleaved: drift hits all alike
    }
    const base = Math.max(...runs.baseline.map((r) => r.maxRssMiB));
    const rows = (Object.keys(METHODS) as Method[]).map((m) => {
      const peak = Math.max(...runs[m].map((r) => r.maxRssMiB));
      return {
        method: m, description: METHODS[m], medianMs: median(runs[m].map((r) => r.ms)), ms: runs[m].map((r) => r.ms),
        peakRssMiB: peak, rssOverFile: peak / fileMiB, netRssOverFile: (peak - base) / fileMiB, checksum: runs[m][0].checksum,
      };
    });
    const sums = new Set(rows.filter((r) => r.method !== 'baseline' && r.method !== 'readFileSync+views').map((r) => r.checksum));
    if (sums.size !== 1) throw new Error(`methods loaded different values: ${[...sums].join(', ')}`);

    console.log('\n| method | median ms | peak RSS MiB | RSS / file | (RSS - baseline) / file |\n|---|---:|---:|---:|---:|');
    for (const r of rows) console.log(`| ${r.method} | ${r.medianMs.toFixed(0)} | ${r.peakRssMiB.toFixed(0)} | ${r.rssOverFile.toFixed(2)} | ${r.netRssOverFile.toFixed(2)} |`);

    const out = join(dirname(fileURLToPath(import.meta.url)), 'results');
    mkdirSync(out, { recursive: true });
    const json = { bench: 'safetensors-load', date: new Date().toISOString(), node: process.version, platform: `${process.platform}-${process.arch}`, fileBytes, fileMiB, tensors: tensorCount, reps, rows };
    writeFileSync(join(out, 'safetensors-load.json'), JSON.stringify(json, null, 2) + '\n');
    writeFileSync(join(out, 'safetensors-load.svg'), svg(rows, fileMiB));
    console.log(`\nwrote ${join(out, 'safetensors-load.json')} and .svg`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** write the random-weight 124M file (xorshift32 values in [-0.5, 0.5)), tensor by tensor */
function make(path: string): void {
  const tensors: Record<string, TensorToWrite> = {};
  let s = 0x9e3779b9;
  for (const [name, shape] of gpt2Shapes()) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) { s ^= s << 13; s ^= s >>> 17; s ^= s << 5; data[i] = (s >>> 0) / 2 ** 32 - 0.5; }
    tensors[name] = { dtype: 'F32', shape, data };
  }
  writeSafetensors(path, tensors);
}

const childAt = process.argv.indexOf('--child');
const makeAt = process.argv.indexOf('--make');
if (childAt > 0) child(process.argv[childAt + 1] as Method, process.argv[childAt + 2]);
else if (makeAt > 0) make(process.argv[makeAt + 1]);
else main();
