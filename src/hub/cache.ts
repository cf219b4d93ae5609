// The cache layout of Python's huggingface_hub (docs: "Understand caching"; file_download.py), shared
// with it file for file, so a model downloaded by either tool is found by the other:
//
//   <cache>/models--<owner>--<name>/
//     blobs/<etag>                    file contents, named by ETag (sha256 for LFS files, git sha1 otherwise)
//     blobs/<etag>.incomplete         a download in progress (resumed from its length)
//     refs/<revision>                 the commit hash a branch or tag pointed to when last resolved
//     snapshots/<commit>/<filename>   relative symlinks to ../../blobs/<etag>
//     .no_exist/<commit>/<filename>   empty: that file does not exist at that commit (a 404 remembered)
//   <cache>/.locks/models--<owner>--<name>/<etag>.lock   (Python's filelock; ours: <etag>.gpt2ts.lock)
//
// Every write is atomic: a temporary name in the same folder, then rename() over the final one.

import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { isCommitHash } from './repo.ts';

/** models--owner--name */
export function repoFolderName(repoId: string): string {
  return `models--${repoId.split('/').join('--')}`;
}

export function repoDir(cacheDir: string, repoId: string): string {
  return join(cacheDir, repoFolderName(repoId));
}

export function snapshotDir(repo: string, commit: string): string {
  return join(repo, 'snapshots', commit);
}

export function blobPath(repo: string, etag: string): string {
  return join(repo, 'blobs', etag);
}

export function lockPath(cacheDir: string, repoId: string, etag: string): string {
  return join(cacheDir, '.locks', repoFolderName(repoId), `${etag}.gpt2ts.lock`);
}

/** The commit a revision points to in the cache: itself when it is a hash, else refs/<revision>. */
export function readRef(repo: string, revision: string): string | null {
  if (isCommitHash(revision)) return revision;
  const p = join(repo, 'refs', revision);
  if (!existsSync(p)) return null;
  const commit = readFileSync(p, 'utf8').trim();
  return isCommitHash(commit) ? commit : null;
}

/** a unique sibling name for an atomic write */
function tmpName(p: string): string {
  return `${p}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/** Write refs/<revision> (not for a commit hash, as Python does). */
export function writeRef(repo: string, revision: string, commit: string): void {
  if (revision === commit) return;
  const p = join(repo, 'refs', revision);
  if (existsSync(p) && readFileSync(p, 'utf8').trim() === commit) return;
  mkdirSync(dirname(p), { recursive: true });
  const tmp = tmpName(p);
  writeFileSync(tmp, commit);
  renameSync(tmp, p);
}

/**
 * Point snapshots/<commit>/<filename> at blobs/<etag> with a relative symlink (as Python does), replacing
 * whatever was there atomically. Where symlinks are unavailable, a copy (Python's fallback too).
 */
export function linkSnapshot(repo: string, commit: string, filename: string, etag: string): string {
  const pointer = join(snapshotDir(repo, commit), filename);
  const blob = blobPath(repo, etag);
  mkdirSync(dirname(pointer), { recursive: true });
  const tmp = tmpName(pointer);
  try {
    symlinkSync(relative(dirname(pointer), blob), tmp);
  } catch {
    copyFileSync(blob, tmp);
  }
  renameSync(tmp, pointer);
  return pointer;
}

/** The snapshot file for a commit, if present (its link resolves to a blob). */
export function cachedFile(repo: string, commit: string, filename: string): string | null {
  const p = join(snapshotDir(repo, commit), filename);
  return existsSync(p) ? p : null;
}

/** Remember that `filename` does not exist at `commit` (Python's .no_exist marker). */
export function markNoExist(repo: string, commit: string, filename: string): void {
  const p = join(repo, '.no_exist', commit, filename);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, '');
}

export function isNoExist(repo: string, commit: string, filename: string): boolean {
  return existsSync(join(repo, '.no_exist', commit, filename));
}

/** Remove a file, ignoring a missing one. */
export function removeQuietly(p: string): void {
  rmSync(p, { force: true });
}
