// Hugging Face model references: `owner/name[@revision]` (also `name` for the legacy canonical models
// such as `gpt2`), as written after `hf:` in a model path or given to `gpt2ts pull`.

export interface RepoRef {
  /** "owner/name" or "name" */
  repoId: string;
  /** a branch, tag or 40-hex commit hash; "main" when not given */
  revision: string;
}

/** the Hub's repo-id rules (huggingface_hub validate_repo_id): [\w.-], one optional slash, ≤ 96 chars */
const REPO_ID = /^[A-Za-z0-9][\w.-]*(\/[A-Za-z0-9][\w.-]*)?$/;

export function isCommitHash(s: string): boolean {
  return /^[0-9a-f]{40}$/.test(s);
}

/** Parse "owner/name[@revision]" (an optional leading "hf:" is accepted); throws a clear error otherwise. */
export function parseRepoRef(spec: string): RepoRef {
  const s = spec.startsWith('hf:') ? spec.slice(3) : spec;
  const at = s.indexOf('@');
  const repoId = at < 0 ? s : s.slice(0, at);
  const revision = at < 0 ? 'main' : s.slice(at + 1);
  if (!REPO_ID.test(repoId) || repoId.length > 96 || repoId.includes('--') || repoId.includes('..') || repoId.endsWith('.git')) {
    throw new Error(`"${spec}" is not a Hugging Face model id: expected owner/name[@revision], e.g. huggingtweets/elonmusk-sagnikdatta129`);
  }
  // the revision becomes a path under refs/ in the cache: no empty, absolute or parent segments
  if (revision === '' || revision.length > 256 || revision.split('/').some((p) => p === '' || p === '.' || p === '..') || /[\\\0\s]/.test(revision)) {
    throw new Error(`"${spec}": "${revision}" is not a valid revision (a branch, tag or commit hash)`);
  }
  return { repoId, revision };
}

export function formatRef(r: RepoRef): string {
  return r.revision === 'main' ? r.repoId : `${r.repoId}@${r.revision}`;
}
