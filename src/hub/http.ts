// HTTP for the Hub client: the resolve URL, error messages for the Hub's status codes, and retries
// with exponential backoff for what is worth retrying (5xx, 429, dropped connections). A 401, 403 or
// 404 is final and says which repo, revision and file, and what to do.
// Reference: huggingface_hub utils/_http.py (hf_raise_for_status, X-Error-Code values).

export type FetchFn = (input: string, init?: RequestInit) => Promise<Response>;

/** A Hub request that failed; `retryable` marks transient failures. */
export class HubError extends Error {
  override name = 'HubError';
  constructor(message: string, readonly status: number | null, readonly retryable: boolean, options?: ErrorOptions) {
    super(message, options);
  }
}

export interface RetryOptions {
  /** attempts after the first (default 5) */
  retries?: number;
  /** first backoff in ms, doubled per retry (default 500) */
  retryDelayMs?: number;
  /** told about each retry (e.g. printed by the CLI) */
  onRetry?: (message: string) => void;
}

/** {endpoint}/{repo}/resolve/{revision}/{filename}, as huggingface_hub's hf_hub_url builds it */
export function resolveUrl(endpoint: string, repoId: string, revision: string, filename: string): string {
  const file = filename.split('/').map(encodeURIComponent).join('/');
  return `${endpoint}/${repoId}/resolve/${encodeURIComponent(revision)}/${file}`;
}

/** The error for a non-2xx Hub response about `what` (e.g. "huggingtweets/x@main: config.json"). */
export function statusError(res: Response, repoId: string, revision: string, filename: string, endpoint: string): HubError {
  const code = res.headers.get('x-error-code');
  const detail = res.headers.get('x-error-message');
  const where = `${repoId}@${revision}`;
  const s = res.status;
  let msg: string;
  if (code === 'RepoNotFound' || (s === 401 && code !== 'GatedRepo')) {
    msg = `repository ${repoId} was not found, or it is private or gated and needs a token (HTTP ${s}): check the name, or set HF_TOKEN to a token that can read it`;
  } else if (code === 'GatedRepo' || s === 403) {
    msg = `access to ${repoId} is restricted (HTTP ${s}): it is gated or private; request access at ${endpoint}/${repoId} and set HF_TOKEN to a token that has it`;
  } else if (code === 'RevisionNotFound') {
    msg = `revision "${revision}" of ${repoId} was not found (HTTP ${s})`;
  } else if (s === 404) {
    msg = `${where}: file ${filename} was not found (HTTP 404)`;
  } else {
    msg = `${where}: ${filename}: HTTP ${s} ${res.statusText}`.trim();
  }
  if (detail && !msg.includes(detail)) msg += ` (${detail})`;
  return new HubError(msg, s, s >= 500 || s === 429);
}

/** A network failure (no HTTP response at all, or a body cut short) is worth retrying. */
export function networkError(what: string, e: unknown): HubError {
  const cause = e instanceof Error ? ((e.cause as Error | undefined)?.message ?? e.message) : String(e);
  return new HubError(`${what}: ${cause}`, null, true, { cause: e });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Run `attempt` until it succeeds, a non-retryable error occurs, or the retries are used up. */
export async function withRetries<T>(attempt: (n: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const retries = opts.retries ?? 5;
  const base = opts.retryDelayMs ?? 500;
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (e) {
      const retry = e instanceof HubError && e.retryable && n < retries;
      if (!retry) {
        if (e instanceof HubError && e.retryable && retries > 0) e.message += ` (after ${retries + 1} attempts)`;
        throw e;
      }
      const wait = base * 2 ** n;
      opts.onRetry?.(`${(e as Error).message}; retrying in ${(wait / 1000).toFixed(1)} s`);
      await sleep(wait);
    }
  }
}
