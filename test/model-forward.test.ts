// The whole forward pass on the CPU against the PyTorch reference fixtures (test/fixtures/*),
// at the tolerances of test/fixtures/README.md.

import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/cpu/backend.ts';
import { loadModelFiles } from '../src/io/model.ts';
import { GPT2Model } from '../src/model/model.ts';
import { FIXTURE_SETS, expectClose, fixtureDir, fixtureExpected, fixtureInputs } from './helpers/fixtures.ts';

function load(set: string, file = 'model.safetensors'): GPT2Model<Float32Array, Int32Array> {
  const { params, source } = loadModelFiles(fixtureDir(set) + file);
  return new GPT2Model(new CpuBackend(), params, source);
}

describe.each(FIXTURE_SETS)('forward on %s', (set) => {
  const inputs = fixtureInputs(set);
  const exp = fixtureExpected(set);

  it('logits and every hidden state match the reference', async () => {
    const model = load(set);
    const out = await model.forward(inputs.input_ids, { hidden: true });
    const L = model.config.nLayer;
    expectClose(out.logits, exp.readF32('logits'), 1e-4, 0, 'logits');
    expectClose(out.hidden[0], exp.readF32('hidden.embeddings'), 1e-5, 0, 'hidden.embeddings');
    for (let i = 0; i < L; i++) expectClose(out.hidden[i + 1], exp.readF32(`hidden.block.${i}`), 1e-5, 0, `hidden.block.${i}`);
    expectClose(out.lnf, exp.readF32('hidden.ln_f'), 1e-4, 0, 'hidden.ln_f');
    expect(out.hidden.length).toBe(L + 1);
  });

  it('F16 and BF16 files give logits_f16 / logits_bf16 (subnormals included)', async () => {
    for (const [file, key] of [['model.f16.safetensors', 'logits_f16'], ['model.bf16.safetensors', 'logits_bf16']]) {
      const out = await load(set, file).forward(inputs.input_ids);
      expectClose(out.logits, exp.readF32(key), 1e-4, 0, key);
    }
  });

  it('the file with h.N.attn.bias buffers gives the same logits', async () => {
    const model = load(set, 'model.with-attn-bias.safetensors');
    expect(model.source?.ignored.length).toBe(model.config.nLayer);
    const out = await model.forward(inputs.input_ids);
    expectClose(out.logits, exp.readF32('logits'), 1e-4, 0, 'logits (with attn.bias)');
  });

  it('a right-padded batch: real positions equal the rows run alone', async () => {
    const model = load(set);
    const { input_ids, attention_mask, lengths } = inputs.padded;
    const out = await model.forward(input_ids, { attentionMask: attention_mask });
    const C = model.config.nEmbd, T = input_ids[0].length;
    for (let b = 0; b < input_ids.length; b++) {
      const n = lengths[b];
      const alone = await model.forward([input_ids[b].slice(0, n)]);
      expectClose(out.lnf.subarray(b * T * C, (b * T + n) * C), alone.lnf, 1e-5, 0, `padded row ${b}`);
    }
  });

  it('greedy generation gives generate.tokens exactly and generate.logits', async () => {
    const model = load(set);
    const { prompt, max_new_tokens } = inputs.generation;
    const r = await model.generate(prompt, { doSample: false, maxNewTokens: max_new_tokens, stopAtEos: false, returnLogits: true });
    const tokens = Array.from(exp.read('generate.tokens') as BigInt64Array, Number);
    expect(r.sequences[0]).toEqual(tokens);
    const V = model.config.vocabSize;
    const logits = new Float32Array(r.logits.length * V);
    r.logits.forEach((l, i) => logits.set(l, i * V));
    expectClose(logits, exp.readF32('generate.logits'), 1e-4, 0, 'generate.logits');
    // the device-side argmax path (no logits kept) picks the same tokens
    const r2 = await model.generate(prompt, { doSample: false, maxNewTokens: max_new_tokens, stopAtEos: false });
    expect(r2.sequences[0]).toEqual(tokens);
  });
});
