// `gpt2ts inspect`: what a model path holds — config, parameter count, dtypes, tensor table.

import { configToHF } from '../config.ts';
import { loadModelFiles } from '../io/model.ts';
import { defaultModelPath } from '../io/paths.ts';
import { numelOf } from '../params.ts';
import { type Command, bool, parseFlags, str, write } from './common.ts';

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'show a model\'s config, parameter count, dtypes and tensors',
  help: `Usage: gpt2ts inspect [--model PATH] [--json]

Loads the model (checking every tensor's name, shape and dtype against its config) and prints
the config, the parameter count, the dtypes and a table of the stored tensors.

Options:
  --model, -m PATH   a GPT-2 folder or .safetensors file (default: the embedded model)
  --json             print one JSON object instead of the table

Examples:
  gpt2ts inspect --model ./my-gpt2
  gpt2ts inspect --model model.safetensors --json`,
  async run(argv, io) {
    const flags = parseFlags(argv, { model: { type: 'string', short: 'm' }, json: { type: 'boolean' } }, false);
    const path = str(flags, 'model') ?? defaultModelPath();
    const { params, config, source } = loadModelFiles(path);
    const dtypes: Record<string, number> = {};
    for (const t of source.tensors) dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + numelOf(t.shape);
    if (bool(flags, 'json')) {
      await write(io.stdout, JSON.stringify({
        path: source.path, files: source.files, configFrom: source.configFrom, config: configToHF(config),
        parameters: params.count, tiedLmHead: !params.untiedHead, dtypes,
        tensors: source.tensors.map((t) => ({ name: t.name, dtype: t.dtype, shape: t.shape })), ignored: source.ignored,
      }) + '\n');
      return;
    }
    const lines: string[] = [];
    lines.push(`model:       ${source.path}`);
    lines.push(`files:       ${source.files.join(', ')}`);
    lines.push(`config:      ${source.configFrom}`);
    lines.push(`shape:       n_layer ${config.nLayer}, n_head ${config.nHead}, n_embd ${config.nEmbd}, n_inner ${config.nInner}, vocab_size ${config.vocabSize}, n_positions ${config.nPositions}`);
    lines.push(`parameters:  ${params.count.toLocaleString('en-US')} (${(params.count / 1e6).toFixed(2)} M)${params.untiedHead ? ', separate lm_head' : ', lm_head tied to wte'}`);
    lines.push(`dtypes:      ${Object.entries(dtypes).map(([k, n]) => `${k} ${n.toLocaleString('en-US')}`).join(', ')}`);
    lines.push(`eos/bos:     ${config.eosTokenId}/${config.bosTokenId}; layer_norm_epsilon ${config.layerNormEpsilon}; activation ${config.activationFunction}`);
    if (source.ignored.length) lines.push(`ignored:     ${source.ignored.length} buffers (${source.ignored.slice(0, 3).join(', ')}${source.ignored.length > 3 ? ', ...' : ''})`);
    lines.push('');
    const w = Math.max(4, ...source.tensors.map((t) => t.name.length));
    lines.push(`${'name'.padEnd(w)}  dtype  shape`);
    for (const t of source.tensors) lines.push(`${t.name.padEnd(w)}  ${t.dtype.padEnd(5)}  [${t.shape.join(', ')}]`);
    await write(io.stdout, lines.join('\n') + '\n');
  },
};
