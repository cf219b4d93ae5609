// hf:owner/name[@revision] → the model's snapshot folder in the local cache, without the network.
// This is what the synchronous model loader uses (and what HF_HUB_OFFLINE=1 means); downloading
// is pull.ts's job. A snapshot counts as a model when it has config.json and complete weights.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRef, repoDir, snapshotDir } from './cache.ts';
import { hubEnv, type HubEnv } from './env.ts';
import { formatRef, parseRepoRef } from './repo.ts';

/** Weight layouts in the order the loader (and pull) prefer them: [single file, shard index]. */
export const WEIGHT_LAYOUTS: readonly (readonly [string, string])[] = [
  ['model.safetensors', 'model.safetensors.index.json'],
  ['pytorch_model.bin', 'pytorch_model.bin.index.json'],
];

/** The shard file names of an index.json (its weight_map values); throws on a malformed index. */
export function shardNames(indexPath: string): string[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(indexPath, 'utf8'));
  } catch (e) {
    throw new Error(`${indexPath}: not valid JSON (${(e as Error).message})`);
  }
  const wm = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof wm !== 'object' || wm === null) throw new Error(`${indexPath}: missing "weight_map"`);
  const names = [...new Set(Object.values(wm as Record<string, unknown>))];
  for (const n of names) {
    if (typeof n !== 'string' || n.includes('/') || n.includes('\\') || n === '..' || n === '.') throw new Error(`${indexPath}: bad shard name ${JSON.stringify(n)}`);
  }
  return (names as string[]).sort();
}

/** Whether a snapshot folder holds config.json and one complete set of weights. */
export function isCompleteModel(dir: string): boolean {
  if (!existsSync(join(dir, 'config.json'))) return false;
  for (const [single, index] of WEIGHT_LAYOUTS) {
    if (existsSync(join(dir, single))) return true;
    if (existsSync(join(dir, index))) {
      try {
        return shardNames(join(dir, index)).every((s) => existsSync(join(dir, s)));
      } catch {
        return false;
      }
    }
  }
  return false;
}

/** The cached snapshot folder of a model, or null when the cache has no complete copy. */
export function findCachedModel(spec: string, env: HubEnv = hubEnv()): string | null {
  const ref = parseRepoRef(spec);
  const repo = repoDir(env.cacheDir, ref.repoId);
  const commit = readRef(repo, ref.revision);
  if (!commit) return null;
  const dir = snapshotDir(repo, commit);
  return isCompleteModel(dir) ? dir : null;
}

/** Like findCachedModel, but a missing model is an error that says what to do. */
export function resolveCachedModel(spec: string, env: HubEnv = hubEnv()): string {
  const dir = findCachedModel(spec, env);
  if (dir) return dir;
  const ref = parseRepoRef(spec);
  const how = env.offline
    ? 'HF_HUB_OFFLINE is set, so it cannot be downloaded'
    : `download it first with \`gpt2ts pull ${formatRef(ref)}\``;
  throw new Error(`hf:${formatRef(ref)} is not in the Hugging Face cache (${env.cacheDir}); ${how}`);
}
