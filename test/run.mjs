#!/usr/bin/env node
// `npm test`: the vitest suites (Node), then the Deno suites (test/deno/), then one summary line
// `N passed, N failed` (CI reads it). Plain JS so it runs on Node 20 before anything is built.
//
// Environment:
//   GPT2TS_REQUIRE_GPU=1  a missing WebGPU adapter fails the GPU tests instead of skipping them
//   GPT2TS_CI=1           any skipped test counts as a failure (CI must run everything)
//   GPT2TS_NO_DENO=1      skip the Deno suites (local quick runs only; counted as skipped)

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2); // extra vitest arguments (file filters)
let passed = 0, failed = 0, skipped = 0;

// 1. vitest, with its usual report on the terminal and a JSON report to count from
const dir = mkdtempSync(join(tmpdir(), 'gpt2ts-test-'));
const report = join(dir, 'vitest.json');
const vitestBin = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const v = spawnSync(process.execPath, [vitestBin, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...args], { cwd: root, stdio: 'inherit' });
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + r.numTodoTests;
  // a file that failed to load has no tests but is a failure
  for (const f of r.testResults ?? []) if (f.status === 'failed' && (f.assertionResults ?? []).length === 0) failed++;
} else {
  console.error(`test/run.mjs: vitest wrote no report (exit ${v.status})`);
  failed++;
}
rmSync(dir, { recursive: true, force: true });
if (v.status !== 0 && failed === 0) {
  console.error(`test/run.mjs: vitest exited with status ${v.status} (an error outside the tests?)`);
  failed++;
}

// 2. Deno: the same engine run from the TS sources by a second runtime
const denoDir = join(root, 'test', 'deno');
const hasDenoTests = existsSync(denoDir) && readdirSync(denoDir).some((f) => f.endsWith('.test.ts'));
if (hasDenoTests && args.length === 0) {
  if (process.env.GPT2TS_NO_DENO === '1') {
    console.log('deno suites skipped (GPT2TS_NO_DENO=1)');
    skipped++;
  } else {
    const denoBin = join(root, 'node_modules', '.bin', 'deno');
    const d = spawnSync(denoBin, ['test', '-A', '--no-check', denoDir], { cwd: root, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
    process.stdout.write(d.stdout ?? '');
    process.stderr.write(d.stderr ?? '');
    const m = /(ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed(?: \(\d+ steps?\))?(?: \| (\d+) ignored)?/.exec(d.stdout ?? '');
    if (m) {
      passed += Number(m[2]);
      failed += Number(m[3]);
      skipped += Number(m[4] ?? 0);
    } else {
      console.error(`test/run.mjs: could not read deno's summary (exit ${d.status}${d.error ? `, ${d.error.message}` : ''})`);
      failed++;
    }
    if (d.status !== 0 && !(m && Number(m[3]) > 0)) failed++;
  }
}

if (process.env.GPT2TS_CI === '1' && skipped > 0) {
  console.error(`test/run.mjs: ${skipped} tests were skipped; in CI every test must run (is the WebGPU adapter or python3-torch missing?)`);
  failed += skipped;
  skipped = 0;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exitCode = failed > 0 ? 1 : 0;
