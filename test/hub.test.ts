// The Hub client against a loopback mirror (test/hub-mirror.ts) — never the real network: the
// huggingface_hub cache layout it writes, resumed and retried downloads, the 404 / 401 / 403 / bad
// checksum failures, offline mode and cache fallback, HF_TOKEN and HF_ENDPOINT, and `gpt2ts pull`.

import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hubDownload } from '../src/hub/download.ts';
import { type HubEnv, hubCacheDir, hubEnv } from '../src/hub/env.ts';
import { ProgressBar } from '../src/hub/progress.ts';
import { pullModel } from '../src/hub/pull.ts';
import { parseRepoRef } from '../src/hub/repo.ts';
import { loadModelFiles } from '../src/io/model.ts';
import { runCli } from './helpers/cli.ts';
import { fixtureDir } from './helpers/fixtures.ts';
import { type Mirror, type MirrorRepo, gitSha1, randomCommit, sha256, startMirror } from './hub-mirror.ts';

const TORCH = fixtureDir('torch');
const tmp = mkdtempSync(join(tmpdir(), 'gpt2ts-hub-'));
const read = (p: string) => new Uint8Array(readFileSync(p));
/** byte equality without vitest's slow element-by-element diff */
const same = (a: ArrayBufferView, b: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

const BIN = read(join(TORCH, 'gpt2-tiny-zip', 'pytorch_model.bin'));
const CONFIG = read(join(TORCH, 'gpt2-tiny-zip', 'config.json'));

function repo(id: string, files: Record<string, [Uint8Array, boolean]>, extra: Partial<MirrorRepo> = {}): MirrorRepo {
  return { id, commit: randomCommit(id), files: Object.fromEntries(Object.entries(files).map(([k, [data, lfs]]) => [k, { data, lfs }])), ...extra };
}

const shardDir = join(TORCH, 'gpt2-tiny-sharded');
const REPOS = [
  repo('huggingtweets/tiny-bin', { 'config.json': [CONFIG, false], 'pytorch_model.bin': [BIN, true] }),
  repo('someone/tiny-st', { 'config.json': [CONFIG, false], 'model.safetensors': [read(join(fixtureDir('gpt2-tiny'), 'model.safetensors')), true] }),
  repo('someone/tiny-sharded', Object.fromEntries(readdirSync(shardDir).map((f) => [f, [read(join(shardDir, f)), f.endsWith('.bin')]]))),
  repo('someone/no-weights', { 'config.json': [CONFIG, false] }),
  repo('someone/private', { 'config.json': [CONFIG, false], 'pytorch_model.bin': [BIN, true] }, { privateToken: 'hf_secret' }),
  repo('someone/gated', { 'config.json': [CONFIG, false], 'pytorch_model.bin': [BIN, true] }, { gatedToken: 'hf_granted' }),
  repo('gpt2tiny', { 'config.json': [CONFIG, false], 'pytorch_model.bin': [BIN, true] }),
  repo('new-owner/tiny', { 'config.json': [CONFIG, false], 'pytorch_model.bin': [BIN, true] }, { renamedFrom: 'old-owner/tiny' }),
];
const commitOf = (id: string) => (REPOS.find((r) => r.id === id) as MirrorRepo).commit;

let mirror: Mirror;
let cacheN = 0;
const saved = { ...process.env };
beforeAll(async () => {
  mirror = await startMirror(REPOS);
});
afterEach(() => {
  mirror.faults.length = 0;
  mirror.log.length = 0;
  mirror.chunkDelayMs = 0;
  process.env = { ...saved };
});
afterAll(async () => {
  await mirror.close();
  rmSync(tmp, { recursive: true, force: true });
});

/** a fresh cache folder and the env pointing at the mirror (also set in process.env for the loader/CLI) */
function freshEnv(over: Partial<HubEnv> = {}): HubEnv {
  const env: HubEnv = { endpoint: mirror.url, token: null, offline: false, cacheDir: join(tmp, `cache${cacheN++}`), ...over };
  process.env.HF_ENDPOINT = env.endpoint;
  process.env.HF_HUB_CACHE = env.cacheDir;
  delete process.env.HF_HOME;
  if (env.token) process.env.HF_TOKEN = env.token;
  else delete process.env.HF_TOKEN;
  if (env.offline) process.env.HF_HUB_OFFLINE = '1';
  else delete process.env.HF_HUB_OFFLINE;
  return env;
}

const fast = { retryDelayMs: 5 };

/** every file under a folder, relative */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f), r = rel ? `${rel}/${f}` : f;
      if (lstatSync(p).isDirectory()) walk(p, r);
      else out.push(r);
    }
  };
  if (existsSync(dir)) walk(dir, '');
  return out.sort();
}

describe('pull into the huggingface_hub cache layout', () => {
  it('writes blobs named by ETag, relative snapshot symlinks, refs/main and .no_exist markers', async () => {
    const env = freshEnv();
    const r = await pullModel('huggingtweets/tiny-bin', { env, ...fast });
    const commit = commitOf('huggingtweets/tiny-bin');
    const root = join(env.cacheDir, 'models--huggingtweets--tiny-bin');
    expect(r.commit).toBe(commit);
    expect(r.dir).toBe(join(root, 'snapshots', commit));
    expect(readFileSync(join(root, 'refs', 'main'), 'utf8')).toBe(commit);
    const binSha = sha256(BIN), cfgSha1 = gitSha1(CONFIG);
    expect(tree(join(root, 'blobs'))).toEqual([cfgSha1, binSha].sort());
    expect(readlinkSync(join(r.dir, 'pytorch_model.bin'))).toBe(`../../blobs/${binSha}`);
    expect(readlinkSync(join(r.dir, 'config.json'))).toBe(`../../blobs/${cfgSha1}`);
    expect(same(read(join(r.dir, 'pytorch_model.bin')), BIN)).toBe(true);
    expect(tree(join(root, '.no_exist', commit))).toContain('model.safetensors');
    expect(tree(join(env.cacheDir, '.locks'))).toEqual([]); // locks released
    expect(tree(root).some((f) => f.includes('.incomplete') || f.includes('.tmp-'))).toBe(false);
    // the LFS file came through the Hub's 302 to the separate blob path
    expect(mirror.log.some((l) => l.method === 'HEAD' && l.path.endsWith('/resolve/main/config.json'))).toBe(true);
    expect(mirror.log.some((l) => l.method === 'GET' && l.path === `/cdn/${binSha}`)).toBe(true);
    // and it loads as hf:owner/name, exactly like the fixture folder
    expect(same(loadModelFiles('hf:huggingtweets/tiny-bin').params.data, loadModelFiles(join(TORCH, 'gpt2-tiny-zip')).params.data)).toBe(true);
  });

  it('a second pull makes one request (config.json on the branch) and downloads nothing', async () => {
    const env = freshEnv();
    await pullModel('huggingtweets/tiny-bin', { env, ...fast });
    mirror.log.length = 0;
    await pullModel('huggingtweets/tiny-bin', { env, ...fast });
    expect(mirror.log.map((l) => `${l.method} ${l.path}`)).toEqual(['HEAD /huggingtweets/tiny-bin/resolve/main/config.json']);
  });

  it('prefers model.safetensors; follows a sharded .bin index; takes a repo id without an owner', async () => {
    const env = freshEnv();
    expect((await pullModel('someone/tiny-st', { env, ...fast })).files).toEqual(['config.json', 'model.safetensors']);
    const sharded = await pullModel('someone/tiny-sharded', { env, ...fast });
    expect(sharded.files).toEqual(['config.json', 'pytorch_model.bin.index.json', 'pytorch_model-00001-of-00002.bin', 'pytorch_model-00002-of-00002.bin']);
    expect(same(loadModelFiles(sharded.dir).params.data, loadModelFiles(fixtureDir('gpt2-tiny')).params.data)).toBe(true);
    const bare = await pullModel('gpt2tiny', { env, ...fast });
    expect(bare.dir.startsWith(join(env.cacheDir, 'models--gpt2tiny', 'snapshots'))).toBe(true);
  });

  it('pins a commit: @<commit> resolves at that commit and writes no ref', async () => {
    const env = freshEnv();
    const commit = commitOf('someone/tiny-st');
    const r = await pullModel(`someone/tiny-st@${commit}`, { env, ...fast });
    expect(r.commit).toBe(commit);
    expect(existsSync(join(env.cacheDir, 'models--someone--tiny-st', 'refs'))).toBe(false);
  });

  it('follows a relative redirect of a renamed repo (cached under the name asked for, like Python)', async () => {
    const env = freshEnv();
    const r = await pullModel('old-owner/tiny', { env, ...fast });
    expect(r.dir.startsWith(join(env.cacheDir, 'models--old-owner--tiny'))).toBe(true);
    expect(mirror.log.some((l) => l.path.startsWith('/new-owner/tiny/resolve/'))).toBe(true);
  });
});

describe('faults', () => {
  it('a connection dropped mid-file is resumed with a Range request', async () => {
    const env = freshEnv();
    mirror.faults.push({ kind: 'drop', file: 'pytorch_model.bin', afterBytes: 200_000, times: 1 });
    const retries: string[] = [];
    const r = await pullModel('huggingtweets/tiny-bin', { env, ...fast, onRetry: (m) => retries.push(m) });
    const gets = mirror.log.filter((l) => l.method === 'GET' && l.path.startsWith('/cdn/'));
    expect(gets.map((g) => g.range)).toEqual([null, 'bytes=200000-']);
    expect(retries.join('\n')).toMatch(/connection dropped after 200000 bytes.*retrying/);
    expect(same(read(join(r.dir, 'pytorch_model.bin')), BIN)).toBe(true);
  });

  it('a partial .incomplete left by an earlier run is resumed', async () => {
    const env = freshEnv();
    const blobs = join(env.cacheDir, 'models--huggingtweets--tiny-bin', 'blobs');
    mkdirSync(blobs, { recursive: true });
    writeFileSync(join(blobs, `${sha256(BIN)}.incomplete`), BIN.subarray(0, 123_456));
    const r = await pullModel('huggingtweets/tiny-bin', { env, ...fast });
    expect(mirror.log.filter((l) => l.path.startsWith('/cdn/')).map((l) => l.range)).toEqual(['bytes=123456-']);
    expect(same(read(join(r.dir, 'pytorch_model.bin')), BIN)).toBe(true);
  });

  it('a 500 (twice on the Hub, once on the blob host) then success', async () => {
    const env = freshEnv();
    mirror.faults.push({ kind: 'status', file: 'config.json', where: 'resolve', status: 500, times: 2 });
    mirror.faults.push({ kind: 'status', file: 'pytorch_model.bin', where: 'blob', status: 503, times: 1 });
    const r = await pullModel('huggingtweets/tiny-bin', { env, ...fast });
    expect(mirror.log.filter((l) => l.method === 'HEAD' && l.path.endsWith('/resolve/main/config.json')).length).toBe(3);
    expect(mirror.log.filter((l) => l.path.startsWith('/cdn/')).length).toBe(2);
    expect(same(read(join(r.dir, 'pytorch_model.bin')), BIN)).toBe(true);
  });

  it('5xx forever gives up after the retries, naming the file', async () => {
    const env = freshEnv();
    mirror.faults.push({ kind: 'status', file: 'config.json', where: 'resolve', status: 502, times: 100 });
    await expect(pullModel('huggingtweets/tiny-bin', { env, retries: 2, retryDelayMs: 1 })).rejects.toThrow(/huggingtweets\/tiny-bin@main: config\.json: HTTP 502.*\(after 3 attempts\)/);
  });

  it('a 404 fails at once, naming the repo and the file', async () => {
    const env = freshEnv();
    await expect(hubDownload({ env, ...fast }, 'someone/tiny-st', 'main', 'pytorch_model.bin')).rejects.toThrow(/someone\/tiny-st@main: file pytorch_model\.bin was not found \(HTTP 404\)/);
    expect(mirror.log.length).toBe(1);
    await expect(pullModel('someone/no-weights', { env, ...fast })).rejects.toThrow(/someone\/no-weights has no GPT-2 weights: none of model\.safetensors, .*pytorch_model\.bin\.index\.json exists/);
    await expect(pullModel('someone/tiny-st@v9', { env, ...fast })).rejects.toThrow(/revision "v9" of someone\/tiny-st was not found \(HTTP 404\)/);
  });

  it('401: a private repo without a token (and an unknown repo) say to set HF_TOKEN; with HF_TOKEN it works', async () => {
    const env = freshEnv();
    for (const id of ['someone/private', 'someone/does-not-exist']) {
      await expect(pullModel(id, { env, ...fast })).rejects.toThrow(new RegExp(`repository ${id} was not found, or it is private or gated and needs a token \\(HTTP 401\\).*HF_TOKEN`));
    }
    expect(mirror.log.length).toBe(2); // no retries
    mirror.log.length = 0;
    const r = await pullModel('someone/private', { env: { ...env, token: 'hf_secret' }, ...fast });
    expect(same(read(join(r.dir, 'pytorch_model.bin')), BIN)).toBe(true);
    // the token went to the Hub, never to the blob host
    expect(mirror.log.filter((l) => l.path.includes('/resolve/')).every((l) => l.auth === 'Bearer hf_secret')).toBe(true);
    const cdn = mirror.log.filter((l) => l.path.startsWith('/cdn/'));
    expect(cdn.length).toBe(1);
    expect(cdn.every((l) => l.auth === null)).toBe(true);
  });

  it('403: a gated repo says to request access', async () => {
    const env = freshEnv({ token: 'hf_other' });
    await expect(pullModel('someone/gated', { env, ...fast })).rejects.toThrow(/access to someone\/gated is restricted \(HTTP 403\).*request access at http:\/\/127\.0\.0\.1:\d+\/someone\/gated and set HF_TOKEN/);
  });

  it('a wrong checksum is rejected and leaves nothing in the cache', async () => {
    const env = freshEnv();
    mirror.faults.push({ kind: 'corrupt', file: 'pytorch_model.bin', times: 1 });
    await expect(pullModel('huggingtweets/tiny-bin', { env, ...fast })).rejects.toThrow(/pytorch_model\.bin: checksum mismatch: sha256 [0-9a-f]{64}, the Hub's X-Linked-Etag says [0-9a-f]{64}; the download was discarded and nothing was cached/);
    const root = join(env.cacheDir, 'models--huggingtweets--tiny-bin');
    expect(tree(join(root, 'blobs'))).toEqual([gitSha1(CONFIG)]); // config.json only; no .incomplete
    expect(tree(join(root, 'snapshots'))).toEqual([`${commitOf('huggingtweets/tiny-bin')}/config.json`]);
    expect(() => loadModelFiles('hf:huggingtweets/tiny-bin')).toThrow(/is not in the Hugging Face cache/);
    // the next try (a good download) completes the cache
    await pullModel('huggingtweets/tiny-bin', { env, ...fast });
    expect(loadModelFiles('hf:huggingtweets/tiny-bin').params.count).toBeGreaterThan(0);
  });
});

describe('a hostile server', () => {
  it('cannot steer file names with its headers (ETag "..", a commit that is a path)', async () => {
    const env = freshEnv();
    const reply = (headers: Record<string, string>) => async () => new Response(null, { status: 200, headers });
    const ctx = (headers: Record<string, string>) => ({ env, ...fast, fetch: reply(headers) });
    const commit = randomCommit('x');
    await expect(hubDownload(ctx({ 'x-repo-commit': commit, etag: '".."' }), 'a/b', 'main', 'config.json')).rejects.toThrow(/no usable ETag/);
    await expect(hubDownload(ctx({ 'x-repo-commit': commit, etag: '"../../evil"' }), 'a/b', 'main', 'config.json')).rejects.toThrow(/no usable ETag/);
    await expect(hubDownload(ctx({ 'x-repo-commit': '../../../tmp', etag: '"abc"' }), 'a/b', 'main', 'config.json')).rejects.toThrow(/no valid X-Repo-Commit/);
    expect(existsSync(env.cacheDir)).toBe(false);
  });
});

describe('offline and the cache', () => {
  it('HF_HUB_OFFLINE=1 uses the cache without a request, or says the model is not there', async () => {
    const env = freshEnv();
    await pullModel('huggingtweets/tiny-bin', { env, ...fast });
    mirror.log.length = 0;
    const off = freshEnv({ offline: true, cacheDir: env.cacheDir });
    expect((await pullModel('huggingtweets/tiny-bin', { env: off })).dir).toContain(commitOf('huggingtweets/tiny-bin'));
    expect((await runCli(['inspect', '--model', 'hf:huggingtweets/tiny-bin', '--json'])).code).toBe(0);
    expect(mirror.log).toEqual([]);
    await expect(pullModel('someone/tiny-st', { env: off })).rejects.toThrow(/hf:someone\/tiny-st is not in the Hugging Face cache \(.*\); HF_HUB_OFFLINE is set/);
  });

  it('when the Hub is unreachable, a cached model is used with a warning', async () => {
    const env = freshEnv();
    await pullModel('huggingtweets/tiny-bin', { env, ...fast });
    const warnings: string[] = [];
    const down = { ...env, endpoint: 'http://127.0.0.1:9' }; // discard port: connection refused
    const r = await pullModel('huggingtweets/tiny-bin', { env: down, retries: 1, retryDelayMs: 1, warn: (m) => warnings.push(m) });
    expect(r.dir).toContain(commitOf('huggingtweets/tiny-bin'));
    expect(warnings.join('\n')).toMatch(/cannot reach http:\/\/127\.0\.0\.1:9.*using the cached copy/);
  });

  it('reads a cache laid out by hand the way Python huggingface_hub writes it (no server)', () => {
    // models--owner--name/{blobs/<sha256|git sha1>, snapshots/<commit>/<file> -> ../../blobs/<etag>, refs/main, refs/v1}
    const cacheDir = join(tmp, 'python-cache');
    const root = join(cacheDir, 'models--someone--handmade');
    const commit = randomCommit('handmade');
    mkdirSync(join(root, 'blobs'), { recursive: true });
    mkdirSync(join(root, 'snapshots', commit), { recursive: true });
    mkdirSync(join(root, 'refs'), { recursive: true });
    const st = read(join(fixtureDir('gpt2-tiny'), 'model.safetensors'));
    for (const [name, data, etag] of [['config.json', CONFIG, gitSha1(CONFIG)], ['model.safetensors', st, sha256(st)]] as const) {
      writeFileSync(join(root, 'blobs', etag), data);
      // Python: os.symlink(os.path.relpath(blob, os.path.dirname(pointer)), pointer)
      symlinkSync(`../../blobs/${etag}`, join(root, 'snapshots', commit, name));
    }
    writeFileSync(join(root, 'refs', 'main'), commit); // no trailing newline, as Python writes it
    writeFileSync(join(root, 'refs', 'v1'), commit);
    process.env = { ...saved, HF_HUB_CACHE: cacheDir, HF_HUB_OFFLINE: '1', HF_ENDPOINT: 'http://127.0.0.1:9' };
    const want = loadModelFiles(fixtureDir('gpt2-tiny')).params.data;
    for (const spec of ['hf:someone/handmade', 'hf:someone/handmade@v1', `hf:someone/handmade@${commit}`]) {
      const m = loadModelFiles(spec);
      expect(same(m.params.data, want)).toBe(true);
      expect(m.source.dir).toBe(join(root, 'snapshots', commit));
    }
    // HF_HOME/hub is the default place when HF_HUB_CACHE is unset
    expect(hubCacheDir({ HF_HOME: '/x/hf' })).toBe('/x/hf/hub');
    expect(hubCacheDir({ XDG_CACHE_HOME: '/x/cache' })).toBe('/x/cache/huggingface/hub');
    expect(hubEnv({ HF_HUB_OFFLINE: 'true', HF_ENDPOINT: 'https://mirror.example/' })).toMatchObject({ offline: true, endpoint: 'https://mirror.example' });
  });
});

describe('progress', () => {
  it('draws one updating line on a terminal: label, bar, percent, sizes, rate', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => { text += c.toString(); });
    const env = freshEnv();
    await pullModel('huggingtweets/tiny-bin', { env, ...fast, progress: new ProgressBar(out, 10) });
    expect(text).toMatch(/\rpytorch_model\.bin {2}\[=+>? *\] +\d+% {2}[\d.]+\/0\.6 MB {2}[\d.]+ MB\/s/);
    expect(text).toMatch(/\rpytorch_model\.bin {2}\[={10}\] 100% {2}0\.6\/0\.6 MB {2}[\d.]+ MB\/s\x1b\[K\n$/);
  });
});

describe('model ids', () => {
  it('parses owner/name[@revision] and rejects what is not one', () => {
    expect(parseRepoRef('hf:huggingtweets/elonmusk-sagnikdatta129')).toEqual({ repoId: 'huggingtweets/elonmusk-sagnikdatta129', revision: 'main' });
    expect(parseRepoRef('gpt2@v1.0')).toEqual({ repoId: 'gpt2', revision: 'v1.0' });
    expect(parseRepoRef('a/b@refs/pr/1')).toEqual({ repoId: 'a/b', revision: 'refs/pr/1' });
    for (const bad of ['a/b/c', '../x', 'a--b/c', 'a/b@', 'a/b@../../etc', '', 'a b/c']) expect(() => parseRepoRef(bad)).toThrow();
  });
});

describe('gpt2ts pull and --model hf:', () => {
  it('pull prints the snapshot folder; generate --model hf: uses it', async () => {
    freshEnv();
    const r = await runCli(['pull', 'huggingtweets/tiny-bin']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe(''); // no progress bar in a pipe
    expect(r.stdout.trim()).toMatch(/models--huggingtweets--tiny-bin\/snapshots\/[0-9a-f]{40}$/);
    const j = await runCli(['pull', 'huggingtweets/tiny-bin', '--json']);
    expect(JSON.parse(j.stdout)).toMatchObject({ repo: 'huggingtweets/tiny-bin', revision: 'main', commit: commitOf('huggingtweets/tiny-bin') });
    const g = await runCli(['generate', '--model', 'hf:huggingtweets/tiny-bin', '--prompt-ids', '1,2,3', '--greedy', '--max-new-tokens', '3', '--json']);
    expect(g.code, g.stderr).toBe(0);
    expect(JSON.parse(g.stdout).sequences[0].ids).toHaveLength(3);
  });

  it('pull errors: usage, 404, 401', async () => {
    freshEnv();
    expect((await runCli(['pull'])).code).toBe(2);
    expect((await runCli(['pull', './local'])).stderr).toMatch(/is a path; pull takes a Hub model id/);
    const r = await runCli(['pull', 'someone/private']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^gpt2ts: repository someone\/private was not found, or it is private or gated and needs a token \(HTTP 401\)/);
  });
});
