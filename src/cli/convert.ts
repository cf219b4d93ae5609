// `gpt2ts convert IN OUT.safetensors`: any model path the engine reads (a pytorch_model.bin folder or
// file, shards, safetensors, hf:owner/name) → one safetensors file in the Hugging Face layout, i.e. the
// names of GPT2LMHeadModel.state_dict() (`transformer.` prefix; `lm_head.weight` only when untied, as
// transformers' save_pretrained writes it), metadata {"format": "pt"}. The model is fully checked by the
// loader first, so the output is known to load.

import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { configToHF } from '../config.ts';
import { resolveModelPath } from '../hub/pull.ts';
import { loadModelFiles } from '../io/model.ts';
import { type TensorToWrite, f32ToBf16Bits, f32ToF16Bits, writeSafetensors } from '../io/safetensors.ts';
import { type Command, UsageError, choice, parseFlags, write } from './common.ts';
import { hubCliOptions } from './pull.ts';

/** files copied beside the output when its folder has no config.json, so the folder is a whole model */
const COMPANIONS = ['vocab.json', 'merges.txt', 'encoder.json', 'vocab.bpe', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'generation_config.json'];

export const convertCommand: Command = {
  name: 'convert',
  summary: 'convert a model (e.g. pytorch_model.bin) to one safetensors file',
  help: `Usage: gpt2ts convert IN OUT.safetensors [--dtype f32|f16|bf16]

Reads IN — a model folder (pytorch_model.bin, model.safetensors or a sharded index of either), a
.bin/.pt/.safetensors file, or hf:OWNER/NAME[@REVISION] — checks every tensor against its config,
and writes OUT in the Hugging Face layout (GPT2LMHeadModel names, metadata format=pt), loadable by
gpt2ts, Python's safetensors and transformers. PyTorch checkpoints are read without running any of
their code. When OUT's folder has no config.json, IN's config.json and tokenizer files are written
beside it, so that folder is a complete model.

Options:
  --dtype D   f32 (default), f16 or bf16 (round to nearest even)

Examples:
  gpt2ts convert ./elonmusk/pytorch_model.bin ./elonmusk/model.safetensors
  gpt2ts convert hf:huggingtweets/elonmusk-sagnikdatta129 ./elonmusk-st/model.safetensors`,
  async run(argv, io) {
    const flags = parseFlags(argv, { dtype: { type: 'string' } });
    if (flags.positionals.length !== 2) throw new UsageError('give an input model and an output .safetensors file');
    const [input, output] = flags.positionals;
    if (!output.endsWith('.safetensors')) throw new UsageError(`the output must be a .safetensors file, got "${output}"`);
    const dtype = choice(flags, 'dtype', ['f32', 'f16', 'bf16'] as const) ?? 'f32';
    const out = resolve(output);
    if (!existsSync(dirname(out))) throw new UsageError(`the output folder ${dirname(out)} does not exist`);

    const { params, config, source } = loadModelFiles(await resolveModelPath(input, hubCliOptions(io)));
    if (source.files.some((f) => resolve(f) === out)) throw new UsageError(`${output} is the input file; choose another output`);
    const tensors: Record<string, TensorToWrite> = {};
    for (const spec of params.specs) {
      const data = params.view(spec.name);
      const name = spec.name === 'lm_head.weight' ? spec.name : `transformer.${spec.name}`;
      tensors[name] = dtype === 'f32' ? { dtype: 'F32', shape: spec.shape, data }
        : { dtype: dtype === 'f16' ? 'F16' : 'BF16', shape: spec.shape, data: dtype === 'f16' ? f32ToF16Bits(data) : f32ToBf16Bits(data) };
    }
    writeSafetensors(out, tensors, { format: 'pt' });
    const notes: string[] = [];
    const outConfig = join(dirname(out), 'config.json');
    if (!existsSync(outConfig)) {
      writeFileSync(outConfig, JSON.stringify(configToHF(config), null, 2) + '\n');
      notes.push('config.json');
      for (const f of COMPANIONS) {
        const src = join(source.dir, f);
        if (existsSync(src) && !existsSync(join(dirname(out), f))) {
          copyFileSync(src, join(dirname(out), f));
          notes.push(f);
        }
      }
    }
    const count = `${params.specs.length} tensors, ${params.count.toLocaleString('en-US')} parameters, ${dtype}`;
    await write(io.stdout, `${out} (${count}${params.untiedHead ? ', separate lm_head' : ', lm_head tied to wte'})${notes.length ? `; also wrote ${notes.join(', ')}` : ''}\n`);
  },
};
