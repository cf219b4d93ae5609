// The environment variables Python's huggingface_hub reads, read the same way, so that both tools
// agree on the endpoint, the token, offline mode and the cache folder
// (huggingface_hub/constants.py: HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE, HF_HUB_CACHE, HF_HOME).

import { homedir } from 'node:os';
import { join } from 'node:path';

export interface HubEnv {
  /** e.g. https://huggingface.co (no trailing slash) */
  endpoint: string;
  /** a user access token, sent as `Authorization: Bearer` to the endpoint only */
  token: string | null;
  /** HF_HUB_OFFLINE: never touch the network, use the cache only */
  offline: boolean;
  /** the hub cache: models--owner--name folders live here */
  cacheDir: string;
}

type Env = Record<string, string | undefined>;

function expandUser(p: string): string {
  return p === '~' || p.startsWith('~/') ? join(homedir(), p.slice(1)) : p;
}

/** huggingface_hub's _is_true: 1, ON, YES, TRUE (any case) */
function isTrue(v: string | undefined): boolean {
  return v !== undefined && ['1', 'ON', 'YES', 'TRUE'].includes(v.trim().toUpperCase());
}

/** $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub */
export function hubCacheDir(env: Env = process.env): string {
  const explicit = env.HF_HUB_CACHE || env.HUGGINGFACE_HUB_CACHE;
  if (explicit) return expandUser(explicit);
  const home = env.HF_HOME ? expandUser(env.HF_HOME) : join(env.XDG_CACHE_HOME ? expandUser(env.XDG_CACHE_HOME) : join(homedir(), '.cache'), 'huggingface');
  return join(home, 'hub');
}

export function hubEnv(env: Env = process.env): HubEnv {
  return {
    endpoint: (env.HF_ENDPOINT || 'https://huggingface.co').replace(/\/+$/, ''),
    token: env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN || null,
    offline: isTrue(env.HF_HUB_OFFLINE),
    cacheDir: hubCacheDir(env),
  };
}
