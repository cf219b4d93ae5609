// The examples work as documented: the Node embedding service (through the package's public
// entry point, dist/) answers POST /embed with the same vectors as the API; bad requests get 400.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../src/model/model.ts';
import { expectClose } from './helpers/fixtures.ts';
import { writeRandomModel } from './helpers/models.ts';

const tmp = mkdtempSync(join(tmpdir(), 'gpt2ts-examples-'));
const model = writeRandomModel(join(tmp, 'rand'));

interface Server { port: number; close(): Promise<void> }
let server: Server;

beforeAll(async () => {
  // the example imports 'gpt2ts' (the built package, dist/): a user's view of it
  const spec = '../examples/embed-server.mjs'; // plain JS, as a user writes it (no types)
  const mod = (await import(spec)) as { startEmbedServer(o: object): Promise<Server> };
  server = await mod.startEmbedServer({ model, port: 0 });
});
afterAll(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

const post = async (body: string): Promise<{ status: number; json: { dims?: number[]; embeddings?: number[][]; error?: string } }> => {
  const r = await fetch(`http://127.0.0.1:${server.port}/embed`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  return { status: r.status, json: (await r.json()) as { dims?: number[]; embeddings?: number[][]; error?: string } };
};

describe('examples/embed-server.mjs', () => {
  it('embeds posted texts like model.embed', async () => {
    const texts = ['a cat sat on the mat', 'dogs bark'];
    const r = await post(JSON.stringify(texts));
    expect(r.status).toBe(200);
    expect(r.json.dims).toEqual([2, 32]);
    const m = await loadModel(model);
    const want = await m.embed(texts, { pooling: 'mean', normalize: true });
    m.dispose();
    expectClose(Float32Array.from((r.json.embeddings ?? []).flat()), want.data, 1e-6, 0, 'service vs API');
  });

  it('answers bad requests with 400 and a message', async () => {
    expect((await post('not json')).status).toBe(400);
    const r = await post(JSON.stringify({ texts: [1, 2] }));
    expect(r.status).toBe(400);
    expect(r.json.error).toMatch(/array of strings/);
    const long = await post(JSON.stringify(['word '.repeat(200)]));
    expect(long.status).toBe(400);
    expect(long.json.error).toMatch(/more than n_positions 64/);
  });
});
