// The worker pool and its runtimes: it splits work across threads and gives the same numbers, it
// never keeps a process alive, dispose stops it, it degrades to one thread with a one-line notice
// where shared memory is missing, and the same kernels run under Deno. The process-level checks
// run small scripts in child processes (written to a temp dir, importing the sources by path).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/cpu/backend.ts';
import { matmulForwardNaive } from '../src/cpu/matmul.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gpt2ts-cpu-pool-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A script that builds a backend (options from argv[2] as JSON), runs a parallel-sized matmul of
 * both layouts, compares with the naive rung and prints one JSON line. It does not dispose.
 */
const script = `
import { CpuBackend } from ${JSON.stringify(join(root, 'src/cpu/backend.ts'))};
import { matmulForwardNaive } from ${JSON.stringify(join(root, 'src/cpu/matmul.ts'))};
const argv = (globalThis.Deno ? Deno.args : process.argv.slice(2));
const be = new CpuBackend(JSON.parse(argv[0] ?? '{}'));
let worst = 0;
for (const transW of [false, true]) {
  const M = 24, K = 300, N = 500;
  const a = be.allocF32(M * K), w = be.allocF32(K * N), b = be.allocF32(N), out = be.allocF32(M * N);
  for (const x of [a, w, b]) for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.37 + x.length);
  be.matmulForward(out, a, w, b, M, K, N, transW);
  const ref = new Float32Array(M * N);
  matmulForwardNaive(ref, a, w, b, M, K, N, transW);
  // worst |diff| / (1e-5·max|ref| + 1e-5·|ref|): ≤ 1 passes the suite's tolerance
  let scale = 0;
  for (const v of ref) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < ref.length; i++) worst = Math.max(worst, Math.abs(out[i] - ref[i]) / (1e-5 * scale + 1e-5 * Math.abs(ref[i])));
}
console.log(JSON.stringify({ description: be.description, threads: be.threads, kernels: be.kernels, worst }));
`;
const scriptPath = join(dir, 'probe.mts');
writeFileSync(scriptPath, script);

function runNode(opts: object, env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', scriptPath, JSON.stringify(opts)], {
    cwd: root, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

describe('worker pool', () => {
  it('runs a job across threads with the same result', () => {
    const be = new CpuBackend({ threads: 2 });
    try {
      expect(be.threads).toBe(2);
      const M = 32, K = 256, N = 1000;
      const a = be.allocF32(M * K), w = be.allocF32(K * N), out = be.allocF32(M * N);
      for (let i = 0; i < a.length; i++) a[i] = Math.cos(i);
      for (let i = 0; i < w.length; i++) w[i] = Math.sin(i * 0.1);
      const ref = new Float32Array(M * N);
      matmulForwardNaive(ref, a, w, null, M, K, N, false);
      for (let rep = 0; rep < 20; rep++) {
        out.fill(NaN);
        be.matmulForward(out, a, w, null, M, K, N, false);
        let md = 0;
        for (let i = 0; i < ref.length; i++) md = Math.max(md, Math.abs(out[i] - ref[i]));
        expect(md, `rep ${rep}: max |diff| ${md}`).toBeLessThan(1e-4);
      }
    } finally {
      be.dispose();
    }
  });

  it('dispose is idempotent and a new backend starts a new pool', () => {
    const a = new CpuBackend({ threads: 2 });
    a.dispose();
    a.dispose();
    const b = new CpuBackend({ threads: 2 });
    expect(b.threads).toBe(2);
    // a disposed backend still computes (on its own thread)
    const x = a.allocF32(4 * 4), y = a.allocF32(4 * 4), z = a.allocF32(16);
    x.fill(1); y.fill(2);
    a.matmulForward(z, x, y, null, 4, 4, 4, false);
    expect(Array.from(z)).toEqual(new Array(16).fill(8));
    b.dispose();
  });

  it('does not keep the process alive (no dispose at the end)', () => {
    const r = runNode({ threads: 2 });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { threads: number; worst: number };
    expect(out.threads).toBe(2);
    expect(out.worst).toBeLessThanOrEqual(1);
  });

  it('without shared memory: one thread and a one-line notice on stderr', () => {
    const r = runNode({}, { GPT2TS_SHARED_MEMORY: '0' });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { threads: number; kernels: string; worst: number };
    expect(out.threads).toBe(1);
    expect(out.kernels).toBe('wasm');
    expect(out.worst).toBeLessThanOrEqual(1);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('gpt2ts:'));
    expect(lines).toEqual(['gpt2ts: shared memory is unavailable; the CPU backend runs on one thread']);
  });

  it('GPT2TS_WASM=0 runs the JavaScript kernels', () => {
    const r = runNode({}, { GPT2TS_WASM: '0' });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { kernels: string; worst: number };
    expect(out.kernels).toBe('js');
    expect(out.worst).toBeLessThanOrEqual(1);
  });
});

describe('Deno', () => {
  const deno = join(root, 'node_modules', '.bin', 'deno');
  it.skipIf(!existsSync(deno))('the wasm kernels and the pool run under Deno and match the naive rung', () => {
    const denoScript = join(dir, 'probe-deno.ts');
    writeFileSync(denoScript, script);
    const r = spawnSync(deno, ['run', '-A', '--no-check', denoScript, JSON.stringify({ threads: 2 })], {
      cwd: root, encoding: 'utf8', timeout: 120_000, env: { ...process.env, NO_COLOR: '1' },
    });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { description: string; threads: number; worst: number };
    expect(out.threads).toBe(2);
    expect(out.description).toMatch(/WebAssembly SIMD/);
    expect(out.worst).toBeLessThanOrEqual(1);
  });
});
