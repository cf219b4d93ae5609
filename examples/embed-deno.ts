// The same embedding service for Deno, run straight from the TypeScript sources:
//
//   deno run -A examples/embed-deno.ts [--model PATH] [--port 8788] [--backend cpu|webgpu]
//   curl -s localhost:8788/embed -d '["a cat", "a dog"]'
//
// WebGPU comes from Deno's built-in navigator.gpu.

import { parseArgs } from 'node:util';
import { loadModel } from '../src/index.ts';

const { values } = parseArgs({ options: { model: { type: 'string' }, port: { type: 'string' }, backend: { type: 'string' } } });
const backend = values.backend === 'webgpu' ? 'webgpu' : 'cpu';
const model = await loadModel(values.model, { backend });
const port = Number(values.port ?? 8788);

Deno.serve({ hostname: '127.0.0.1', port }, async (req: Request): Promise<Response> => {
  const url = new URL(req.url);
  if (req.method !== 'POST' || url.pathname !== '/embed') return Response.json({ error: 'POST /embed' }, { status: 404 });
  let body: unknown;
  try {
    body = await req.json();
  } catch {
    return Response.json({ error: 'the body must be JSON: an array of strings' }, { status: 400 });
  }
  const texts = Array.isArray(body) ? body : (body as { texts?: unknown })?.texts;
  if (!Array.isArray(texts) || !texts.every((t) => typeof t === 'string')) {
    return Response.json({ error: 'expected an array of strings or {"texts": [...]}' }, { status: 400 });
  }
  try {
    const e = await model.embed(texts as string[], { pooling: 'mean', normalize: true });
    return Response.json({ dims: e.dims, embeddings: e.toArray() });
  } catch (err) {
    return Response.json({ error: err instanceof Error ? err.message : String(err) }, { status: 400 });
  }
});
