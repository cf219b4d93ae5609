// An inter-process lock on a file in the cache's .locks folder, so two processes never write the same
// blob at once. Node has no flock(), so the lock is the exclusive creation of a file (open with
// O_CREAT|O_EXCL, atomic on local filesystems) that holds the owner's pid and host; the owner touches
// it while working. A lock whose owner died (same host, pid gone) or that was not touched for `staleMs`
// is taken over. Even if locking were defeated, the cache would stay valid: blobs are verified and
// moved into place with an atomic rename, so a reader sees a whole file or none.

import { closeSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, utimesSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { HubError } from './http.ts';

export interface LockOptions {
  /** give up after this long (default 10 minutes) */
  timeoutMs?: number;
  /** a lock untouched this long is abandoned (default 60 s; owners touch it every staleMs / 4) */
  staleMs?: number;
  /** told once when waiting starts */
  onWait?: () => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function isStale(path: string, staleMs: number): boolean {
  try {
    const owner = JSON.parse(readFileSync(path, 'utf8')) as { pid?: number; host?: string };
    if (owner.host === hostname() && typeof owner.pid === 'number' && owner.pid !== process.pid) {
      try {
        process.kill(owner.pid, 0); // signal 0: only checks that the process exists
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ESRCH') return true;
      }
    }
    return Date.now() - statSync(path).mtimeMs > staleMs;
  } catch {
    // unreadable or half-written by its creator: stale only when old
    try {
      return Date.now() - statSync(path).mtimeMs > staleMs;
    } catch {
      return false; // gone: the next attempt will take it
    }
  }
}

/** Run `fn` holding the lock at `path`. */
export async function withLock<T>(path: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10 * 60_000;
  const staleMs = opts.staleMs ?? 60_000;
  mkdirSync(dirname(path), { recursive: true });
  const start = Date.now();
  let waited = false;
  for (;;) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }));
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (isStale(path, staleMs)) {
      try {
        unlinkSync(path);
      } catch {
        // someone else removed it first
      }
      continue;
    }
    if (Date.now() - start > timeoutMs) throw new HubError(`timed out after ${Math.round(timeoutMs / 1000)} s waiting for the lock ${path} (another download in progress?)`, null, false);
    if (!waited) opts.onWait?.();
    waited = true;
    await sleep(100);
  }
  const touch = setInterval(() => {
    try {
      const now = new Date();
      utimesSync(path, now, now);
    } catch {
      // the lock file vanished: nothing to keep alive
    }
  }, Math.max(50, staleMs / 4));
  touch.unref?.();
  try {
    return await fn();
  } finally {
    clearInterval(touch);
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  }
}
