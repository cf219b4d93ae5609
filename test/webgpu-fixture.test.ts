// The whole model on WebGPU against the PyTorch reference fixtures (gpt2-tiny, odd-3head with
// vocab 777, odd-6head with C 96 / T 33), at the tolerances of test/fixtures/README.md: logits,
// hidden states, ln_f, the F16 / BF16 files, a right-padded batch, greedy generation (tokens exact,
// logits), pooled embeddings; and `gpt2ts trace --backend webgpu` writing the fixture's tensors.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { embedDefaults, embedIds } from '../src/embed/embed.ts';
import { loadModelFiles } from '../src/io/model.ts';
import { SafetensorsFile } from '../src/io/safetensors.ts';
import { GPT2Model } from '../src/model/model.ts';
import { describeBackends, requireGpu, webgpuUnavailable } from './helpers/backends.ts';
import { runCli } from './helpers/cli.ts';
import { FIXTURE_SETS, expectClose, fixtureDir, fixtureExpected, fixtureInputs } from './helpers/fixtures.ts';

const tmp = mkdtempSync(join(tmpdir(), 'gpt2ts-webgpu-fixture-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

for (const set of FIXTURE_SETS) {
  describeBackends(`fixture ${set}`, ({ be }) => {
    const inputs = fixtureInputs(set);
    const exp = fixtureExpected(set);
    const load = (file = 'model.safetensors'): GPT2Model => {
      const { params, source } = loadModelFiles(fixtureDir(set) + file);
      return new GPT2Model(be(), params, source);
    };

    it('logits, every hidden state and ln_f', async () => {
      const model = load();
      const out = await model.forward(inputs.input_ids, { hidden: true });
      expectClose(out.logits, exp.readF32('logits'), 1e-4, 0, 'logits');
      expectClose(out.hidden[0], exp.readF32('hidden.embeddings'), 1e-5, 0, 'hidden.embeddings');
      for (let i = 0; i < model.config.nLayer; i++) expectClose(out.hidden[i + 1], exp.readF32(`hidden.block.${i}`), 1e-5, 0, `hidden.block.${i}`);
      expectClose(out.lnf, exp.readF32('hidden.ln_f'), 1e-4, 0, 'hidden.ln_f');
      model.dispose();
    });

    it('the F16 and BF16 files give logits_f16 / logits_bf16', async () => {
      for (const [file, key] of [['model.f16.safetensors', 'logits_f16'], ['model.bf16.safetensors', 'logits_bf16']]) {
        const model = load(file);
        expectClose((await model.forward(inputs.input_ids)).logits, exp.readF32(key), 1e-4, 0, key);
        model.dispose();
      }
    });

    it('a right-padded batch: real positions equal the rows run alone', async () => {
      const model = load();
      const { input_ids, attention_mask, lengths } = inputs.padded;
      const out = await model.forward(input_ids, { attentionMask: attention_mask });
      const C = model.config.nEmbd, T = input_ids[0].length;
      for (let b = 0; b < input_ids.length; b++) {
        const alone = await model.forward([input_ids[b].slice(0, lengths[b])]);
        expectClose(out.lnf.subarray(b * T * C, (b * T + lengths[b]) * C), alone.lnf, 1e-5, 0, `padded row ${b}`);
      }
      model.dispose();
    });

    it('greedy generation: generate.tokens exactly, generate.logits, and the device-argmax path', async () => {
      const model = load();
      const { prompt, max_new_tokens } = inputs.generation;
      const opts = { doSample: false, maxNewTokens: max_new_tokens, stopAtEos: false } as const;
      const r = await model.generate(prompt, { ...opts, returnLogits: true });
      const tokens = Array.from(exp.read('generate.tokens') as BigInt64Array, Number);
      expect(r.sequences[0]).toEqual(tokens);
      const V = model.config.vocabSize;
      const logits = new Float32Array(r.logits.length * V);
      r.logits.forEach((l, i) => logits.set(l, i * V));
      expectClose(logits, exp.readF32('generate.logits'), 1e-4, 0, 'generate.logits');
      expect((await model.generate(prompt, opts)).sequences[0]).toEqual(tokens);
      model.dispose();
    });

    it('embed.mean and embed.last of the padded batch', async () => {
      const model = load();
      const rows = inputs.padded.input_ids.map((r, b) => r.slice(0, inputs.padded.lengths[b]));
      const o = (x: Parameters<typeof embedDefaults>[0]) => embedDefaults(x, model.config.nLayer);
      const mean = await embedIds(model.backend, model.device, rows, o({ pooling: 'mean' }));
      expectClose(mean.data, exp.readF32('embed.mean'), 1e-4, 0, 'embed.mean');
      const last = await embedIds(model.backend, model.device, rows, o({ pooling: 'last', batchSize: 1 }));
      expectClose(last.data, exp.readF32('embed.last'), 1e-4, 0, 'embed.last');
      model.dispose();
    });
  }, ['webgpu']);
}

describe.skipIf(webgpuUnavailable !== null && !requireGpu)('gpt2ts trace --backend webgpu', () => {
  it('writes the fixture tensors of gpt2-tiny (names, dtypes, shapes, values)', async () => {
    const set = 'gpt2-tiny';
    const out = join(tmp, 'trace-webgpu.safetensors');
    const r = await runCli(['trace', '--model', fixtureDir(set), '--inputs', fixtureDir(set) + 'inputs.json', '--out', out, '--backend', 'webgpu']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const got = SafetensorsFile.open(out);
    const exp = fixtureExpected(set);
    for (const n of ['logits', 'hidden.embeddings', 'hidden.ln_f', 'embed.mean', 'generate.tokens', 'generate.logits']) expect(got.names()).toContain(n);
    for (const name of got.names()) {
      const e = exp.info(name), g = got.info(name);
      expect([g.dtype, g.shape]).toEqual([e.dtype, e.shape]);
      const tol = name.startsWith('hidden.block') || name === 'hidden.embeddings' || name === 'loss' ? 1e-5 : 1e-4;
      if (g.dtype === 'I64') expect(Array.from(got.read(name) as BigInt64Array)).toEqual(Array.from(exp.read(name) as BigInt64Array));
      else expectClose(got.readF32(name), exp.readF32(name), tol, 0, name);
    }
    got.close();
  });
});
