// The flags every model command shares (--model, --backend) and loading a model from them.

import { BACKEND_NAMES, type BackendName } from '../backends.ts';
import { type GPT2Model, loadModel } from '../model/model.ts';
import { resolveModelPath } from '../hub/pull.ts';
import { type CliIO, type FlagSpec, type ParsedFlags, choice, str } from './common.ts';
import { hubCliOptions } from './pull.ts';

export const MODEL_FLAGS: FlagSpec = {
  model: { type: 'string', short: 'm' },
  backend: { type: 'string' },
};

export const MODEL_HELP = `  --model, -m PATH     a GPT-2 folder (config.json + model.safetensors, pytorch_model.bin or a
                       sharded index of either), a .safetensors or .bin file, or
                       hf:OWNER/NAME[@REVISION] (downloaded into the Hugging Face cache on first
                       use; HF_TOKEN, HF_ENDPOINT, HF_HUB_OFFLINE=1 apply); default: the embedded
                       model in weights/
  --backend B          cpu (default) or webgpu`;

export function backendFlag(flags: ParsedFlags): BackendName {
  return choice(flags, 'backend', BACKEND_NAMES) ?? 'cpu';
}

/** Load --model (an hf: path is pulled first, with progress on a terminal's stderr) on --backend. */
export async function loadFromFlags(flags: ParsedFlags, io?: Pick<CliIO, 'stderr' | 'stderrIsTTY'>): Promise<GPT2Model> {
  const given = str(flags, 'model');
  const stderr = io ?? { stderr: process.stderr, stderrIsTTY: Boolean(process.stderr.isTTY) };
  const path = given === undefined ? undefined : await resolveModelPath(given, hubCliOptions(stderr));
  return loadModel(path, { backend: backendFlag(flags) });
}
