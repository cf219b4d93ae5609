// The package as a user gets it: `npm pack`, install the tarball into a fresh project, import
// 'gpt2ts', embed, run the `gpt2ts` bin, and type-check a consumer under strict settings.

import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from './helpers/cli.ts';
import { fixtureDir } from './helpers/fixtures.ts';

const tmp = mkdtempSync(join(tmpdir(), 'gpt2ts-pack-'));
const project = join(tmp, 'consumer');
const tiny = fixtureDir('gpt2-tiny');
const npm = (args: string[], cwd: string): string => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });

beforeAll(() => {
  // Build and pack a copy of the package's files (never the working tree's dist/, which may be
  // stale, and which other test files import while this one runs).
  const src = join(tmp, 'src-copy');
  mkdirSync(src);
  for (const f of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', '.npmrc']) cpSync(join(repoRoot, f), join(src, f));
  for (const d of ['src', 'kernels', 'weights', 'examples']) cpSync(join(repoRoot, d), join(src, d), { recursive: true });
  symlinkSync(join(repoRoot, 'node_modules'), join(src, 'node_modules'));
  const build = spawnSync(process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: src, encoding: 'utf8' });
  if (build.status !== 0) throw new Error(`the build fails: ${build.stdout}${build.stderr}`);
  npm(['pack', '--ignore-scripts', '--pack-destination', tmp], src);
  const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
  if (!tgz) throw new Error('npm pack wrote no tarball');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  npm(['install', '--omit=optional', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', join(tmp, tgz)], project);
}, 600_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the packed package', () => {
  it('imports as gpt2ts and embeds with the embedded default model', () => {
    const script = `import { loadModel } from 'gpt2ts';
const m = await loadModel();
const e = await m.embed(['a tweet about cats', ''], { normalize: true });
console.log(JSON.stringify({ dims: e.dims, norm: Math.hypot(...e.data.subarray(0, e.dims[1])) }));
m.dispose();`;
    writeFileSync(join(project, 'use.mjs'), script);
    const out = JSON.parse(execFileSync(process.execPath, ['use.mjs'], { cwd: project, encoding: 'utf8' })) as { dims: number[]; norm: number };
    expect(out.dims).toEqual([2, 128]);
    expect(Math.abs(out.norm - 1)).toBeLessThan(1e-6);
  });

  it('installs the gpt2ts bin', () => {
    const out = execFileSync(join(project, 'node_modules', '.bin', 'gpt2ts'), ['generate', '--model', tiny, '--prompt-ids', '1,2', '--greedy', '--max-new-tokens', '3', '--json'], { encoding: 'utf8' });
    expect((JSON.parse(out) as { sequences: { ids: number[] }[] }).sequences[0].ids).toHaveLength(3);
  });

  it('its types compile in a strict consumer tsconfig', () => {
    writeFileSync(join(project, 'consumer.ts'), `import { loadModel, type Embeddings, type GenerateResult, Tokenizer } from 'gpt2ts';
const model = await loadModel(undefined, { backend: 'cpu' });
const e: Embeddings = await model.embed(['hello'], { pooling: 'mean', normalize: true });
const n: number = e.dims[0] + e.data.length;
const g: GenerateResult = await model.generate([1, 2], { maxNewTokens: 3, seed: 1 });
const ids: number[] = Tokenizer.default().encode('hi');
export { n, g, ids };
`);
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: false, types: [] },
      files: ['consumer.ts'],
    }));
    const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', project], { cwd: project, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe(''); // tsc's diagnostics, if any, are the failure message
    expect(r.status).toBe(0);
  });
});
