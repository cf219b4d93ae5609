// Paths of files shipped with the package (weights/), found relative to this module so they work
// from src/ (Deno, tsx) and dist/ (Node) alike.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** the package's weights/ folder */
export function weightsDir(): string {
  return fileURLToPath(new URL('../../weights/', import.meta.url));
}

/** The embedded default model folder. */
export function defaultModelPath(): string {
  const dir = fileURLToPath(new URL('../../weights/default/', import.meta.url));
  if (!existsSync(dir)) throw new Error('no embedded default model is installed (weights/default); pass --model PATH to a GPT-2 folder or .safetensors file');
  return dir;
}
