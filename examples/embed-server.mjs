// A small embedding service for Node: POST a JSON array of texts (or {"texts": [...]}) to
// http://127.0.0.1:PORT/embed and get {"dims": [N, C], "embeddings": [[...], ...]} back.
//
//   node examples/embed-server.mjs [--model PATH] [--port 8787] [--backend cpu|webgpu]
//
// It uses the package's public API only: loadModel(path, { backend }) and model.embed(texts).
// Requests are handled one at a time (the model is not reentrant); bodies are capped at 1 MB.

import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { loadModel } from 'gpt2ts';

const MAX_BODY = 1 << 20;

/** Start the service; resolves with the server and its port once it listens. */
export async function startEmbedServer({ model: modelPath, port = 8787, backend = 'cpu', host = '127.0.0.1' } = {}) {
  const model = await loadModel(modelPath, { backend });
  let queue = Promise.resolve();
  const server = createServer((req, res) => {
    const reply = (status, obj) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(obj));
    };
    if (req.method !== 'POST' || req.url !== '/embed') return reply(404, { error: 'POST /embed' });
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        reply(413, { error: 'body over 1 MB' });
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      if (size > MAX_BODY) return;
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return reply(400, { error: 'the body must be JSON: an array of strings or {"texts": [...]}' });
      }
      const texts = Array.isArray(body) ? body : body?.texts;
      if (!Array.isArray(texts) || !texts.every((t) => typeof t === 'string')) {
        return reply(400, { error: 'expected an array of strings or {"texts": [...]}' });
      }
      const pooling = body?.pooling ?? 'mean';
      const normalize = body?.normalize ?? true;
      // one embed at a time, in arrival order
      queue = queue.then(async () => {
        try {
          const e = await model.embed(texts, { pooling, normalize });
          reply(200, { dims: e.dims, embeddings: e.toArray() });
        } catch (err) {
          reply(400, { error: err instanceof Error ? err.message : String(err) });
        }
      });
    });
  });
  await new Promise((resolve) => server.listen(port, host, resolve));
  const close = () => new Promise((resolve) => server.close(() => { model.dispose(); resolve(); }));
  return { server, port: server.address().port, close };
}

// run as a script
if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { model: { type: 'string' }, port: { type: 'string' }, backend: { type: 'string' } } });
  const { port } = await startEmbedServer({ model: values.model, port: Number(values.port ?? 8787), backend: values.backend ?? 'cpu' });
  console.error(`gpt2ts embedding service on http://127.0.0.1:${port}/embed`);
}
