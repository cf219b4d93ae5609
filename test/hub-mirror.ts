// A loopback Hugging Face Hub for the tests (127.0.0.1, random port): the file-resolve API with the
// real Hub's headers and redirects, and injectable faults.
//
//   HEAD/GET /{repo}/resolve/{revision}/{file}
//     small (git) files: 200, ETag "<git blob sha1>", X-Repo-Commit, Content-Length, the body on GET
//     LFS files:         302 to {cdnUrl}/cdn/{sha256} (a separate host, as the Hub's CDN), with X-Repo-Commit,
//                        X-Linked-Etag "<sha256>", X-Linked-Size, ETag "<sha1 of the LFS pointer>"
//     unknown repo 401 RepoNotFound · private without the token 401 · gated 403 GatedRepo
//     unknown revision 404 RevisionNotFound · missing file 404 EntryNotFound (with X-Repo-Commit)
//     /{old}/resolve/... of a renamed repo: 307 to the relative /{new}/resolve/... path
//   GET {cdnUrl}/cdn/{sha256}  the bytes, with Range support (206 + Content-Range); a second server on
//                              its own port, so it is another origin (tokens must not go there)
//
// Faults (each for `times` requests): a status code on a resolve path or on a blob; a connection
// dropped after `afterBytes` bytes of a blob; corrupted blob bytes (a wrong checksum).

import { createHash } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MirrorFile { data: Uint8Array; lfs: boolean }

export interface MirrorRepo {
  id: string;
  commit: string;
  files: Record<string, MirrorFile>;
  /** 401 without this token */
  privateToken?: string;
  /** 403 unless this token */
  gatedToken?: string;
  /** the repo answers under this old name with a relative redirect */
  renamedFrom?: string;
}

export type Fault =
  | { kind: 'status'; file: string; where: 'resolve' | 'blob'; status: number; times: number }
  | { kind: 'drop'; file: string; afterBytes: number; times: number }
  | { kind: 'corrupt'; file: string; times: number };

export interface Logged { method: string; path: string; range: string | null; auth: string | null }

export interface Mirror {
  url: string;
  /** the blob host (another port: another origin) */
  cdnUrl: string;
  repos: Map<string, MirrorRepo>;
  faults: Fault[];
  log: Logged[];
  /** delay between 16 KiB chunks of blob bodies (ms), to make downloads overlap */
  chunkDelayMs: number;
  close(): Promise<void>;
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
/** git's blob id: sha1("blob <len>\0" + content) */
const gitSha1 = (b: Uint8Array) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');

export function randomCommit(seed: string): string {
  return createHash('sha1').update(seed).digest('hex');
}

/** take the first matching fault with times left (and count it down) */
function takeFault<K extends Fault['kind']>(m: Mirror, kind: K, file: string, where?: 'resolve' | 'blob'): Extract<Fault, { kind: K }> | null {
  const f = m.faults.find((x) => x.kind === kind && x.file === file && x.times > 0 && (x.kind !== 'status' || x.where === where));
  if (!f) return null;
  f.times--;
  return f as Extract<Fault, { kind: K }>;
}

function errorReply(res: ServerResponse, status: number, code: string | null, message: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain', ...(code ? { 'x-error-code': code } : {}), 'x-error-message': message, ...extra });
  res.end(message);
}

async function serveBlob(m: Mirror, req: IncomingMessage, res: ServerResponse, file: string, data: Uint8Array): Promise<void> {
  const status = takeFault(m, 'status', file, 'blob');
  if (status) return errorReply(res, status.status, null, 'injected failure');
  let body = data;
  if (takeFault(m, 'corrupt', file)) {
    body = data.slice();
    body[body.length >> 1] ^= 0xff;
  }
  let start = 0;
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (range) {
    start = Number(range[1]);
    if (start >= body.length) return errorReply(res, 416, null, 'range not satisfiable');
    res.writeHead(206, { 'content-length': body.length - start, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}`, 'accept-ranges': 'bytes' });
  } else {
    res.writeHead(200, { 'content-length': body.length, 'accept-ranges': 'bytes' });
  }
  if (req.method === 'HEAD') return void res.end();
  const drop = takeFault(m, 'drop', file);
  const stopAt = drop ? Math.max(start, drop.afterBytes) : body.length;
  for (let p = start; p < stopAt; p += 16384) {
    const end = Math.min(stopAt, p + 16384);
    if (!res.write(body.subarray(p, end))) await new Promise((r) => res.once('drain', r));
    if (m.chunkDelayMs) await new Promise((r) => setTimeout(r, m.chunkDelayMs));
  }
  if (drop) {
    // a connection dropped mid-file: the client has a prefix and must resume
    await new Promise((r) => setTimeout(r, 20));
    res.socket?.destroy();
    return;
  }
  res.end();
}

async function handle(m: Mirror, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = decodeURI((req.url ?? '/').split('?')[0]);
  m.log.push({ method: req.method ?? '', path, range: req.headers.range ?? null, auth: req.headers.authorization ?? null });
  if (path.startsWith('/cdn/')) {
    const sha = path.slice(5);
    for (const r of m.repos.values()) {
      for (const [name, f] of Object.entries(r.files)) if (f.lfs && sha256(f.data) === sha) return serveBlob(m, req, res, name, f.data);
    }
    return errorReply(res, 404, null, 'no such blob');
  }
  const at = path.indexOf('/resolve/');
  if (at < 0) return errorReply(res, 404, null, 'not found');
  const repoId = path.slice(1, at);
  const [revEnc, ...fileParts] = path.slice(at + '/resolve/'.length).split('/');
  const revision = decodeURIComponent(revEnc);
  const file = fileParts.join('/');
  const renamed = [...m.repos.values()].find((r) => r.renamedFrom === repoId);
  if (renamed) {
    res.writeHead(307, { location: `/${renamed.id}/resolve/${revEnc}/${fileParts.join('/')}` });
    return void res.end();
  }
  const repo = m.repos.get(repoId);
  const auth = req.headers.authorization ?? '';
  if (!repo || (repo.privateToken && auth !== `Bearer ${repo.privateToken}`)) return errorReply(res, 401, 'RepoNotFound', 'Repository not found');
  if (repo.gatedToken && auth !== `Bearer ${repo.gatedToken}`) return errorReply(res, 403, 'GatedRepo', 'Access to this repo is restricted');
  if (revision !== 'main' && revision !== repo.commit) return errorReply(res, 404, 'RevisionNotFound', 'Invalid rev id');
  const status = takeFault(m, 'status', file, 'resolve');
  if (status) return errorReply(res, status.status, null, 'injected failure', { 'x-repo-commit': repo.commit });
  const f = repo.files[file];
  if (!f) return errorReply(res, 404, 'EntryNotFound', `${file} does not exist`, { 'x-repo-commit': repo.commit });
  const common = { 'x-repo-commit': repo.commit };
  if (f.lfs) {
    const sha = sha256(f.data);
    const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${sha}\nsize ${f.data.length}\n`;
    res.writeHead(302, {
      ...common, location: `${m.cdnUrl}/cdn/${sha}`, etag: `"${gitSha1(new TextEncoder().encode(pointer))}"`,
      'x-linked-etag': `"${sha}"`, 'x-linked-size': String(f.data.length), 'content-length': '5',
    });
    return void res.end(req.method === 'HEAD' ? undefined : 'Found');
  }
  res.writeHead(200, { ...common, etag: `"${gitSha1(f.data)}"`, 'content-length': f.data.length });
  res.end(req.method === 'HEAD' ? undefined : f.data);
}

async function listen(m: Mirror): Promise<{ server: Server; url: string }> {
  const server: Server = createServer((req, res) => {
    handle(m, req, res).catch((e) => {
      res.destroy(e as Error);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

export async function startMirror(repos: MirrorRepo[]): Promise<Mirror> {
  const m: Mirror = { url: '', cdnUrl: '', repos: new Map(repos.map((r) => [r.id, r])), faults: [], log: [], chunkDelayMs: 0, close: async () => {} };
  const hub = await listen(m), cdn = await listen(m);
  m.url = hub.url;
  m.cdnUrl = cdn.url;
  const stop = (s: Server) => new Promise<void>((r) => {
    s.closeAllConnections();
    s.close(() => r());
  });
  m.close = async () => {
    await Promise.all([stop(hub.server), stop(cdn.server)]);
  };
  return m;
}

export { gitSha1, sha256 };
