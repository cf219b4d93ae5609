// One file from the Hub into the shared cache, the way huggingface_hub's hf_hub_download does it:
//
//   1. HEAD {endpoint}/{repo}/resolve/{revision}/{file} without following the redirect to the CDN: the
//      Hub's own response carries X-Repo-Commit, ETag / X-Linked-Etag (blob name; sha256 of an LFS file),
//      X-Linked-Size / Content-Length and Location (where the bytes are). Relative redirects (a renamed
//      repo) are followed.
//   2. If snapshots/<commit>/<file> or blobs/<etag> already exist, link and stop.
//   3. Under a lock: GET the bytes into blobs/<etag>.incomplete, resuming from its length with a Range
//      request; retry 5xx and dropped connections with backoff; check the size, and the sha256 for LFS
//      files; rename into blobs/<etag> (atomic); link the snapshot entry; write refs/<revision>.
// A bad checksum removes the partial file: nothing unverified is ever left in the cache.

import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, statSync, truncateSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { blobPath, cachedFile, isNoExist, linkSnapshot, lockPath, markNoExist, readRef, removeQuietly, repoDir, snapshotDir, writeRef } from './cache.ts';
import type { HubEnv } from './env.ts';
import { type FetchFn, HubError, type RetryOptions, networkError, resolveUrl, statusError, withRetries } from './http.ts';
import { type LockOptions, withLock } from './lock.ts';
import type { ProgressSink } from './progress.ts';
import { isCommitHash } from './repo.ts';

export interface HubContext extends RetryOptions {
  env: HubEnv;
  /** the fetch to use (default: the global one) */
  fetch?: FetchFn;
  /** a progress bar for downloads (the CLI gives one on a TTY) */
  progress?: ProgressSink | null;
  /** non-fatal notices: cache fallbacks */
  warn?: (message: string) => void;
  lock?: LockOptions;
  /** set after the network failed once: later files come from the cache without more waiting */
  networkDown?: boolean;
}

interface FileMeta {
  commit: string;
  etag: string;
  size: number | null;
  /** absolute URL of the bytes (the CDN redirect target, or the resolve URL itself) */
  location: string;
}

export interface Downloaded {
  /** the snapshot path (a symlink into blobs/) */
  path: string;
  commit: string;
}

const USER_AGENT = 'gpt2ts/0.1.0';

/** ETag header → blob name: weak prefix and quotes dropped (huggingface_hub _normalize_etag) */
function normalizeEtag(v: string | null): string | null {
  if (!v) return null;
  return v.replace(/^W\//, '').replace(/^"|"$/g, '');
}

function headersFor(ctx: HubContext, url: string): Record<string, string> {
  const h: Record<string, string> = { 'user-agent': USER_AGENT, 'accept-encoding': 'identity' };
  // the token goes to the Hub only, never to a CDN host the Hub redirects to
  if (ctx.env.token && new URL(url).origin === new URL(ctx.env.endpoint).origin) h.authorization = `Bearer ${ctx.env.token}`;
  return h;
}

function fetchOf(ctx: HubContext): FetchFn {
  return ctx.fetch ?? ((u, i) => fetch(u, i));
}

/** HEAD the resolve URL; follow relative redirects only. */
async function head(ctx: HubContext, url: string, what: string): Promise<{ res: Response; url: string }> {
  let u = url;
  for (let hops = 0; hops < 5; hops++) {
    let res: Response;
    try {
      res = await fetchOf(ctx)(u, { method: 'HEAD', redirect: 'manual', headers: headersFor(ctx, u) });
    } catch (e) {
      throw networkError(`${what}: cannot reach ${new URL(u).origin}`, e);
    }
    const loc = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && loc && !/^[a-z][a-z0-9+.-]*:/i.test(loc)) {
      u = new URL(loc, u).href;
      continue;
    }
    return { res, url: u };
  }
  throw new HubError(`${what}: too many redirects`, null, false);
}

/** Read and check the Hub's headers: they become file names, so they must be plain. */
function metaOf(res: Response, url: string, what: string): FileMeta {
  const commit = res.headers.get('x-repo-commit');
  const etag = normalizeEtag(res.headers.get('x-linked-etag') ?? res.headers.get('etag'));
  if (!commit || !isCommitHash(commit)) throw new HubError(`${what}: the server sent no valid X-Repo-Commit header (is HF_ENDPOINT a Hugging Face Hub?)`, null, false);
  // a blob file name: word characters, dots and dashes, not starting with a dot (no "..", no hidden files)
  if (!etag || !/^[\w-][\w.-]{0,127}$/.test(etag)) throw new HubError(`${what}: the server sent no usable ETag`, null, false);
  const sizeText = res.headers.get('x-linked-size') ?? res.headers.get('content-length');
  const size = sizeText !== null && /^\d+$/.test(sizeText) ? Number(sizeText) : null;
  const loc = res.headers.get('location');
  return { commit, etag, size, location: loc ? new URL(loc, url).href : url };
}

/**
 * Download `filename` of `repoId` at `revision` into the cache (or find it there). Returns null when
 * `optional` and the file does not exist at that revision.
 */
export async function hubDownload(ctx: HubContext, repoId: string, revision: string, filename: string, optional = false): Promise<Downloaded | null> {
  const repo = repoDir(ctx.env.cacheDir, repoId);
  const what = `${repoId}@${revision}: ${filename}`;
  const fromCache = (): Downloaded | null | undefined => {
    const commit = readRef(repo, revision);
    if (!commit) return undefined;
    const p = cachedFile(repo, commit, filename);
    if (p) return { path: p, commit };
    if (isNoExist(repo, commit, filename)) return null;
    return undefined;
  };
  // a pinned commit already cached needs no request; offline mode never makes one
  if (isCommitHash(revision) || ctx.env.offline || ctx.networkDown) {
    const hit = fromCache();
    if (hit !== undefined) return hit;
    if (ctx.env.offline) throw new HubError(`${what} is not in the cache (${ctx.env.cacheDir}) and HF_HUB_OFFLINE is set`, null, false);
    if (ctx.networkDown) throw new HubError(`${what} is not in the cache and the Hub cannot be reached`, null, false);
  }
  const url = resolveUrl(ctx.env.endpoint, repoId, revision, filename);
  let res: Response, finalUrl: string;
  try {
    ({ res, url: finalUrl } = await withRetries(async () => {
      const r = await head(ctx, url, what);
      if (r.res.status >= 500 || r.res.status === 429) throw statusError(r.res, repoId, revision, filename, ctx.env.endpoint);
      return r;
    }, ctx));
  } catch (e) {
    if (!(e instanceof HubError) || !e.retryable) throw e;
    // like huggingface_hub: when the Hub cannot be reached, use what the cache has
    const hit = fromCache();
    if (hit === undefined) throw e;
    ctx.networkDown = true;
    ctx.warn?.(`${e.message}; using the cached copy`);
    return hit;
  }
  if (res.status === 404 && res.headers.get('x-error-code') !== 'RepoNotFound' && res.headers.get('x-error-code') !== 'RevisionNotFound') {
    const commit = res.headers.get('x-repo-commit');
    if (commit && isCommitHash(commit)) markNoExist(repo, commit, filename);
    if (optional) return null;
  }
  if (!(res.status >= 200 && res.status < 400)) throw statusError(res, repoId, revision, filename, ctx.env.endpoint);
  const meta = metaOf(res, finalUrl, what);

  if (!cachedFile(repo, meta.commit, filename)) {
    const blob = blobPath(repo, meta.etag);
    if (!existsSync(blob)) {
      await withLock(lockPath(ctx.env.cacheDir, repoId, meta.etag), async () => {
        if (!existsSync(blob)) await fetchBlob(ctx, meta, blob, what, filename);
      }, { onWait: () => ctx.warn?.(`${what}: waiting for another download of the same file`), ...ctx.lock });
    }
    linkSnapshot(repo, meta.commit, filename, meta.etag);
  }
  writeRef(repo, revision, meta.commit);
  return { path: join(snapshotDir(repo, meta.commit), filename), commit: meta.commit };
}

/** GET the bytes into <blob>.incomplete (resuming), verify, and rename to <blob>. */
async function fetchBlob(ctx: HubContext, meta: FileMeta, blob: string, what: string, label: string): Promise<void> {
  const inc = `${blob}.incomplete`;
  mkdirSync(dirname(blob), { recursive: true });
  await withRetries(async () => {
    let have = existsSync(inc) ? statSync(inc).size : 0;
    if (meta.size !== null && have > meta.size) {
      truncateSync(inc, 0);
      have = 0;
    }
    if (meta.size !== null && have === meta.size) return; // a previous run got every byte
    const headers = headersFor(ctx, meta.location);
    if (have > 0) headers.range = `bytes=${have}-`;
    let res: Response;
    try {
      res = await fetchOf(ctx)(meta.location, { headers, redirect: 'follow' });
    } catch (e) {
      throw networkError(`${what}: download failed`, e);
    }
    if (!res.ok) {
      const err = new HubError(`${what}: download failed: HTTP ${res.status} ${res.statusText}`.trim(), res.status, res.status >= 500 || res.status === 429 || res.status === 416);
      if (res.status === 416) truncateSync(inc, 0); // our partial file does not fit the server's: start over
      throw err;
    }
    const resumed = have > 0 && res.status === 206 && (res.headers.get('content-range') ?? '').startsWith(`bytes ${have}-`);
    if (!resumed) have = 0; // the server sent the whole file
    const fd = openSync(inc, resumed ? 'a' : 'w');
    ctx.progress?.start(label, meta.size, have);
    try {
      const reader = res.body?.getReader();
      if (!reader) throw networkError(`${what}: empty response`, null);
      for (;;) {
        let chunk: { done: boolean; value?: Uint8Array };
        try {
          chunk = await reader.read();
        } catch (e) {
          throw networkError(`${what}: connection dropped after ${have} bytes`, e);
        }
        if (chunk.done || !chunk.value) break;
        writeSync(fd, chunk.value);
        have += chunk.value.length;
        ctx.progress?.update(have);
      }
    } finally {
      closeSync(fd);
      ctx.progress?.finish();
    }
    if (meta.size !== null && have < meta.size) throw new HubError(`${what}: connection closed after ${have} of ${meta.size} bytes`, null, true);
  }, ctx);

  const got = statSync(inc).size;
  if (meta.size !== null && got !== meta.size) {
    removeQuietly(inc);
    throw new HubError(`${what}: downloaded ${got} bytes, the Hub announced ${meta.size}; nothing was cached`, null, false);
  }
  if (/^[0-9a-f]{64}$/.test(meta.etag)) {
    const sum = sha256File(inc);
    if (sum !== meta.etag) {
      removeQuietly(inc);
      throw new HubError(`${what}: checksum mismatch: sha256 ${sum}, the Hub's X-Linked-Etag says ${meta.etag}; the download was discarded and nothing was cached`, null, false);
    }
  }
  renameSync(inc, blob);
}

function sha256File(path: string): string {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = new Uint8Array(1 << 20);
    for (let pos = 0; ;) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}
