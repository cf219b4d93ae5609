// `gpt2ts trace`: run a model on an inputs.json in the fixture format and write every tensor the
// inputs allow, with the names, shapes and dtypes of the fixtures' expected.safetensors, so any
// GPT-2 folder can be compared tensor by tensor with test/oracle/gpt2_reference.py.

import { readFileSync } from 'node:fs';
import { pool } from '../embed/pooling.ts';
import { type TensorToWrite, writeSafetensors } from '../io/safetensors.ts';
import { crossEntropyLoss } from '../train/loss.ts';
import { type Command, UsageError, parseFlags, str, write } from './common.ts';
import { MODEL_FLAGS, MODEL_HELP, loadFromFlags } from './model-options.ts';

export interface TraceInputs {
  input_ids?: number[][];
  targets?: number[][];
  ignore_index?: number;
  padded?: { input_ids: number[][]; attention_mask: number[][] };
  generation?: { prompt: number[]; max_new_tokens: number };
}

/** Check the shape of an inputs.json object; every problem is one clear line naming the key. */
export function parseTraceInputs(json: unknown, where: string): TraceInputs {
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (!isObj(json)) throw new Error(`${where}: expected a JSON object`);
  const matrix = (x: unknown, key: string): number[][] => {
    if (!Array.isArray(x) || x.length === 0 || !x.every((r) => Array.isArray(r) && r.length > 0)) {
      throw new Error(`${where}: "${key}" must be a non-empty array of non-empty arrays of integers`);
    }
    const rows = x as unknown[][];
    if (rows.some((r) => r.length !== rows[0].length)) throw new Error(`${where}: "${key}" rows must all have the same length`);
    if (!rows.every((r) => r.every((v) => Number.isSafeInteger(v)))) throw new Error(`${where}: "${key}" must hold integers only`);
    return rows as number[][];
  };
  const out: TraceInputs = {};
  if (json.input_ids !== undefined) out.input_ids = matrix(json.input_ids, 'input_ids');
  if (json.targets !== undefined) {
    if (!out.input_ids) throw new Error(`${where}: "targets" needs "input_ids"`);
    out.targets = matrix(json.targets, 'targets');
    if (out.targets.length !== out.input_ids.length || out.targets[0].length !== out.input_ids[0].length) {
      throw new Error(`${where}: "targets" must have the shape of "input_ids"`);
    }
  }
  if (json.ignore_index !== undefined) {
    if (!Number.isSafeInteger(json.ignore_index)) throw new Error(`${where}: "ignore_index" must be an integer`);
    out.ignore_index = json.ignore_index as number;
  }
  if (json.padded !== undefined) {
    if (!isObj(json.padded)) throw new Error(`${where}: "padded" must be an object`);
    const ids = matrix(json.padded.input_ids, 'padded.input_ids');
    const mask = matrix(json.padded.attention_mask, 'padded.attention_mask');
    if (mask.length !== ids.length || mask[0].length !== ids[0].length) throw new Error(`${where}: "padded.attention_mask" must have the shape of "padded.input_ids"`);
    if (!mask.every((r) => r.every((v) => v === 0 || v === 1))) throw new Error(`${where}: "padded.attention_mask" must hold 0 and 1 only`);
    out.padded = { input_ids: ids, attention_mask: mask };
  }
  if (json.generation !== undefined) {
    const g = json.generation;
    if (!isObj(g)) throw new Error(`${where}: "generation" must be an object`);
    const prompt = matrix([g.prompt], 'generation.prompt')[0];
    if (!Number.isSafeInteger(g.max_new_tokens) || (g.max_new_tokens as number) < 1) throw new Error(`${where}: "generation.max_new_tokens" must be an integer ≥ 1`);
    if (g.strategy !== undefined && g.strategy !== 'greedy') throw new Error(`${where}: "generation.strategy" "${String(g.strategy)}" is not supported (greedy only)`);
    out.generation = { prompt, max_new_tokens: g.max_new_tokens as number };
  }
  if (!out.input_ids && !out.padded && !out.generation) throw new Error(`${where}: nothing to trace (give input_ids, padded or generation)`);
  return out;
}

export const traceCommand: Command = {
  name: 'trace',
  summary: 'dump every intermediate tensor for an inputs.json, for comparison with PyTorch',
  help: `Usage: gpt2ts trace --model PATH --inputs INPUTS.json --out OUT.safetensors [--backend B]

Runs the model on the inputs (the fixture format of test/fixtures/*/inputs.json) and writes a
safetensors file with the names, shapes and dtypes of the fixtures' expected.safetensors:
  input_ids   → logits, hidden.embeddings, hidden.block.{i}, hidden.ln_f
  targets     → loss, grad.<param>, grad_norm
  padded      → embed.mean, embed.last
  generation  → generate.prompt, generate.tokens, generate.logits (greedy)

Options:
${MODEL_HELP}
  --inputs PATH        the inputs.json
  --out PATH           the .safetensors file to write (written to a temporary name, then renamed)

Example:
  gpt2ts trace --model test/fixtures/gpt2-tiny --inputs test/fixtures/gpt2-tiny/inputs.json --out trace.safetensors`,
  async run(argv, io) {
    const flags = parseFlags(argv, { ...MODEL_FLAGS, inputs: { type: 'string' }, out: { type: 'string' } }, false);
    const inputsPath = str(flags, 'inputs');
    const outPath = str(flags, 'out');
    if (!inputsPath) throw new UsageError('--inputs is required');
    if (!outPath) throw new UsageError('--out is required');
    if (!outPath.endsWith('.safetensors')) throw new UsageError('--out must end in .safetensors');
    let raw: string;
    try {
      raw = readFileSync(inputsPath, 'utf8');
    } catch (e) {
      throw new Error(`cannot read ${inputsPath}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (e) {
      throw new Error(`${inputsPath}: not valid JSON (${e instanceof Error ? e.message : String(e)})`);
    }
    const inputs = parseTraceInputs(json, inputsPath);
    const model = await loadFromFlags(flags);
    try {
      const tensors = await traceModel(model, inputs);
      writeSafetensors(outPath, tensors, { format: 'pt', producer: 'gpt2ts trace', backend: model.backend.name });
      await write(io.stdout, `wrote ${Object.keys(tensors).length} tensors to ${outPath}\n`);
    } finally {
      model.dispose();
    }
  },
};

type ModelLike = Awaited<ReturnType<typeof loadFromFlags>>;

/** Every tensor the inputs allow, keyed as in expected.safetensors. */
export async function traceModel(model: ModelLike, inputs: TraceInputs): Promise<Record<string, TensorToWrite>> {
  const cfg = model.config;
  const C = cfg.nEmbd, V = cfg.vocabSize;
  const out: Record<string, TensorToWrite> = {};
  const f32 = (shape: number[], data: Float32Array): TensorToWrite => ({ dtype: 'F32', shape, data });
  const i64 = (shape: number[], data: number[]): TensorToWrite => ({ dtype: 'I64', shape, data: BigInt64Array.from(data, (x) => BigInt(x)) });
  if (inputs.input_ids) {
    const B = inputs.input_ids.length, T = inputs.input_ids[0].length;
    const r = await model.forward(inputs.input_ids, { hidden: true });
    out.logits = f32([B, T, V], r.logits);
    out['hidden.embeddings'] = f32([B, T, C], r.hidden[0]);
    for (let i = 0; i < cfg.nLayer; i++) out[`hidden.block.${i}`] = f32([B, T, C], r.hidden[i + 1]);
    out['hidden.ln_f'] = f32([B, T, C], r.lnf);
    if (inputs.targets) {
      const loss = crossEntropyLoss(r.logits, inputs.targets.flat(), V, inputs.ignore_index ?? -100);
      out.loss = f32([1], Float32Array.of(loss));
      // grad.<param> for every parameter and their global norm: the CPU backward (float32) on the
      // model's parameters, whatever backend ran the forward
      const { lossAndGradients } = await import('../train/step.ts');
      const g = await lossAndGradients(model.params, inputs.input_ids, inputs.targets, inputs.ignore_index ?? -100);
      for (const s of model.params.specs) {
        const grad = g.grads.get(s.name);
        if (grad) out[`grad.${s.name}`] = f32(s.shape, grad);
      }
      out.grad_norm = f32([1], Float32Array.of(g.gradNorm));
    }
  }
  if (inputs.padded) {
    const { input_ids, attention_mask } = inputs.padded;
    const B = input_ids.length, T = input_ids[0].length;
    const r = await model.forward(input_ids, { attentionMask: attention_mask });
    const mask = attention_mask.flat();
    out['embed.mean'] = f32([B, C], pool(r.lnf, mask, B, T, C, 'mean'));
    out['embed.last'] = f32([B, C], pool(r.lnf, mask, B, T, C, 'last'));
  }
  if (inputs.generation) {
    const { prompt, max_new_tokens } = inputs.generation;
    const g = await model.generate(prompt, { doSample: false, maxNewTokens: max_new_tokens, stopAtEos: false, returnLogits: true });
    const n = g.sequences[0].length;
    const logits = new Float32Array(n * V);
    g.logits.forEach((l, i) => logits.set(l.subarray(0, V), i * V));
    out['generate.prompt'] = i64([1, g.prompt.length], g.prompt);
    out['generate.tokens'] = i64([1, n], g.sequences[0]);
    out['generate.logits'] = f32([n, V], logits);
  }
  return out;
}
