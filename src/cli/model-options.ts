// The flags every model command shares (--model, --backend) and loading a model from them.

import { BACKEND_NAMES, type BackendName } from '../backends.ts';
import { type GPT2Model, loadModel } from '../model/model.ts';
import { type FlagSpec, type ParsedFlags, choice, str } from './common.ts';

export const MODEL_FLAGS: FlagSpec = {
  model: { type: 'string', short: 'm' },
  backend: { type: 'string' },
};

export const MODEL_HELP = `  --model, -m PATH     a GPT-2 folder (config.json + model.safetensors or a sharded index)
                       or a .safetensors file; default: the embedded model in weights/
  --backend B          cpu (default) or webgpu`;

export function backendFlag(flags: ParsedFlags): BackendName {
  return choice(flags, 'backend', BACKEND_NAMES) ?? 'cpu';
}

export async function loadFromFlags(flags: ParsedFlags): Promise<GPT2Model> {
  return loadModel(str(flags, 'model'), { backend: backendFlag(flags) });
}
