// A whole model from the Hub into the shared cache: config.json first (its X-Repo-Commit pins every
// later request to one commit, so a push in the middle cannot mix two versions), then the tokenizer
// and generation files when the repo has them, then the weights — safetensors preferred, then
// pytorch_model.bin, each single or sharded (an index.json and the shards it names).

import { readdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { type Downloaded, type HubContext, hubDownload } from './download.ts';
import { type HubEnv, hubEnv } from './env.ts';
import { HubError } from './http.ts';
import { WEIGHT_LAYOUTS, resolveCachedModel, shardNames } from './resolve-cached.ts';
import { type RepoRef, formatRef, parseRepoRef } from './repo.ts';

export type PullOptions = Omit<HubContext, 'env' | 'networkDown'> & { env?: HubEnv };

export interface PullResult extends RepoRef {
  commit: string;
  /** the snapshot folder: a model path for every command */
  dir: string;
  /** file names in the snapshot */
  files: string[];
}

/** optional files a GPT-2 repo may have besides config and weights (HF names) */
const SIDE_FILES = ['generation_config.json', 'vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json', 'added_tokens.json'];

/** Download (or find in the cache) everything a model needs; `spec` is owner/name[@revision]. */
export async function pullModel(spec: string, opts: PullOptions = {}): Promise<PullResult> {
  const ref = parseRepoRef(spec);
  const ctx: HubContext = { ...opts, env: opts.env ?? hubEnv() };
  if (ctx.env.offline) {
    const dir = resolveCachedModel(spec, ctx.env);
    return { ...ref, commit: basename(dir), dir, files: readdirSync(dir).sort() };
  }
  const files: string[] = [];
  const got = (d: Downloaded | null, name: string): Downloaded | null => {
    if (d) files.push(name);
    return d;
  };
  const config = got(await hubDownload(ctx, ref.repoId, ref.revision, 'config.json'), 'config.json') as Downloaded;
  const commit = config.commit;
  for (const f of SIDE_FILES) got(await hubDownload(ctx, ref.repoId, commit, f, true), f);
  let weights = false;
  for (const [single, index] of WEIGHT_LAYOUTS) {
    if (got(await hubDownload(ctx, ref.repoId, commit, single, true), single)) {
      weights = true;
      break;
    }
    const idx = got(await hubDownload(ctx, ref.repoId, commit, index, true), index);
    if (idx) {
      for (const shard of shardNames(idx.path)) got(await hubDownload(ctx, ref.repoId, commit, shard), shard);
      weights = true;
      break;
    }
  }
  if (!weights) {
    const names = WEIGHT_LAYOUTS.flat().join(', ');
    throw new HubError(`${formatRef(ref)} has no GPT-2 weights: none of ${names} exists at commit ${commit}`, 404, false);
  }
  return { ...ref, commit, dir: dirname(config.path), files };
}

/** A model path as every command takes it: `hf:owner/name[@rev]` is pulled (or found cached) first. */
export async function resolveModelPath(path: string, opts: PullOptions = {}): Promise<string> {
  return path.startsWith('hf:') ? (await pullModel(path.slice(3), opts)).dir : path;
}
