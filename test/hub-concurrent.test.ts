// Concurrent pulls of one model into one cache end with a valid cache: the per-blob lock lets one
// process download while the others wait, and every file lands by atomic rename. Checked in-process
// (two pulls started together) and with three `gpt2ts pull` processes against a slowed-down mirror.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pullModel } from '../src/hub/pull.ts';
import { repoRoot } from './helpers/cli.ts';
import { fixtureDir } from './helpers/fixtures.ts';
import { type Mirror, randomCommit, sha256, startMirror } from './hub-mirror.ts';

const BIN = new Uint8Array(readFileSync(join(fixtureDir('torch'), 'gpt2-tiny-zip', 'pytorch_model.bin')));
const CONFIG = new Uint8Array(readFileSync(join(fixtureDir('torch'), 'gpt2-tiny-zip', 'config.json')));
const tmp = mkdtempSync(join(tmpdir(), 'gpt2ts-hub-conc-'));
let mirror: Mirror;

beforeAll(async () => {
  mirror = await startMirror([{
    id: 'huggingtweets/tiny-bin', commit: randomCommit('conc'),
    files: { 'config.json': { data: CONFIG, lfs: false }, 'pytorch_model.bin': { data: BIN, lfs: true } },
  }]);
});
afterAll(async () => {
  await mirror.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** the cache holds exactly one valid copy: blobs match their names, nothing partial or locked is left */
function expectValidCache(cacheDir: string): void {
  const root = join(cacheDir, 'models--huggingtweets--tiny-bin');
  const blobs = readdirSync(join(root, 'blobs'));
  expect(blobs.some((b) => b.includes('.incomplete') || b.includes('.tmp-'))).toBe(false);
  expect(blobs).toContain(sha256(BIN));
  expect(createHash('sha256').update(readFileSync(join(root, 'blobs', sha256(BIN)))).digest('hex')).toBe(sha256(BIN));
  const snap = readdirSync(join(root, 'snapshots'));
  expect(snap).toHaveLength(1);
  expect(readdirSync(join(root, 'snapshots', snap[0])).sort()).toEqual(['config.json', 'pytorch_model.bin']);
  expect(Buffer.compare(readFileSync(join(root, 'snapshots', snap[0], 'pytorch_model.bin')), BIN)).toBe(0);
  expect(existsSync(join(cacheDir, '.locks')) ? readdirSync(join(cacheDir, '.locks', 'models--huggingtweets--tiny-bin')) : []).toEqual([]);
}

function pullProcess(cacheDir: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), 'pull', 'huggingtweets/tiny-bin'], {
      cwd: repoRoot, env: { ...process.env, HF_ENDPOINT: mirror.url, HF_HUB_CACHE: cacheDir, HF_HUB_OFFLINE: '' },
    });
    let stdout = '', stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('concurrent pulls', () => {
  it('two pulls started together in one process: one download, a valid cache', async () => {
    const cacheDir = join(tmp, 'in-process');
    mirror.log.length = 0;
    mirror.chunkDelayMs = 5;
    const env = { endpoint: mirror.url, token: null, offline: false, cacheDir };
    const [a, b] = await Promise.all([pullModel('huggingtweets/tiny-bin', { env }), pullModel('huggingtweets/tiny-bin', { env })]);
    expect(a.dir).toBe(b.dir);
    expect(mirror.log.filter((l) => l.path.startsWith('/cdn/')).length).toBe(1);
    expectValidCache(cacheDir);
  });

  it('three `gpt2ts pull` processes at once: all succeed, one download, a valid cache', async () => {
    const cacheDir = join(tmp, 'processes');
    mirror.log.length = 0;
    mirror.chunkDelayMs = 40; // ~1.4 s per download, so the processes overlap
    const results = await Promise.all([pullProcess(cacheDir), pullProcess(cacheDir), pullProcess(cacheDir)]);
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    expect(new Set(results.map((r) => r.stdout.trim())).size).toBe(1);
    expect(mirror.log.filter((l) => l.path.startsWith('/cdn/')).length).toBe(1);
    expectValidCache(cacheDir);
  });
});
