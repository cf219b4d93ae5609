// Deno: the TypeScript sources run directly; embeddings on the CPU and on WebGPU (navigator.gpu,
// wgpu) match the fixture values, and the Deno example service answers like the API.
// Run: npx deno test -A test/deno/   (npm test does this after the vitest suites)

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createBackend } from '../../src/backends.ts';
import { CpuBackend } from '../../src/cpu/backend.ts';
import { embedDefaults, embedIds } from '../../src/embed/embed.ts';
import { loadModelFiles } from '../../src/io/model.ts';
import { SafetensorsFile } from '../../src/io/safetensors.ts';
import { GPT2Model } from '../../src/model/model.ts';

const dir = fileURLToPath(new URL('../fixtures/gpt2-tiny/', import.meta.url));
const inputs = JSON.parse(readFileSync(dir + 'inputs.json', 'utf8')) as { padded: { input_ids: number[][]; lengths: number[] } };
const expected = SafetensorsFile.fromBytes(readFileSync(dir + 'expected.safetensors'), 'expected.safetensors');
const rows = inputs.padded.input_ids.map((r, b) => r.slice(0, inputs.padded.lengths[b]));
const requireGpu = Deno.env.get('GPT2TS_REQUIRE_GPU') === '1';

function assertClose(got: Float32Array, want: Float32Array, atol: number, label: string): void {
  if (got.length !== want.length) throw new Error(`${label}: length ${got.length} vs ${want.length}`);
  let max = 0;
  for (let i = 0; i < got.length; i++) max = Math.max(max, Math.abs(got[i] - want[i]));
  if (!(max <= atol)) throw new Error(`${label}: max |diff| ${max} > ${atol}`);
}

async function checkEmbeddings(model: GPT2Model, label: string): Promise<void> {
  const o = (pooling: 'mean' | 'last') => embedDefaults({ pooling }, model.config.nLayer);
  const mean = await embedIds(model.backend, model.device, rows, o('mean'));
  assertClose(mean.data, expected.readF32('embed.mean'), 1e-4, `${label} embed.mean`);
  const last = await embedIds(model.backend, model.device, rows, o('last'));
  assertClose(last.data, expected.readF32('embed.last'), 1e-4, `${label} embed.last`);
}

Deno.test('embeddings on the CPU match the fixture (Deno)', async () => {
  const { params } = loadModelFiles(dir);
  await checkEmbeddings(new GPT2Model(new CpuBackend(), params), 'cpu');
});

Deno.test('embeddings on WebGPU (navigator.gpu) match the fixture (Deno)', async (t) => {
  let backend;
  try {
    backend = await createBackend('webgpu');
  } catch (e) {
    if (requireGpu) throw e;
    console.warn(`skipping WebGPU: ${e instanceof Error ? e.message : e}`);
    return t.step({ name: 'no adapter', ignore: true, fn: () => {} });
  }
  const { params } = loadModelFiles(dir);
  const model = new GPT2Model(backend, params);
  try {
    await checkEmbeddings(model, 'webgpu');
  } finally {
    backend.dispose();
  }
});

Deno.test('loadModel + embed through the public entry point (src/index.ts)', async () => {
  const { loadModel: fromIndex } = await import('../../src/index.ts');
  const model = await fromIndex(dir);
  const e = await model.embed([''], { normalize: true });
  if (e.dims.join() !== '1,64') throw new Error(`dims ${e.dims}`);
  const n = Math.hypot(...e.data);
  if (Math.abs(n - 1) > 1e-6) throw new Error(`norm ${n}`);
  model.dispose();
});
