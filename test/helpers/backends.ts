// "One test body, every backend" (DESIGN.md principle 7, candle's `test_device!`): a suite written
// once runs on the CPU backend and on the WebGPU backend.
//
//   describeBackends('layernorm', ({ be, name }) => { it('...', async () => { const b = be(); ... }) })
//
// WebGPU without an adapter: a visible skip (the reason in the skipped test's name) locally, and a
// failing test when GPT2TS_REQUIRE_GPU=1 (CI sets it). One WebGPU device per test file (process):
// vitest runs each file in its own fork, and Dawn on lavapipe prefers devices not to come and go.

import { afterAll, describe, it } from 'vitest';
import type { Backend } from '../../src/backend.ts';
import { CpuBackend } from '../../src/cpu/backend.ts';
import { type WebGPUBackend, type WebGPUBackendOptions, createWebGPUBackend } from '../../src/webgpu/index.ts';

export type AnyBackend = Backend<unknown, unknown>;
export type BackendName = 'cpu' | 'webgpu';

export interface BackendContext {
  name: BackendName;
  /** the backend (valid inside tests and hooks) */
  be: () => AnyBackend;
  /** the same backend as a WebGPUBackend, or null on the CPU (rung switches, stats) */
  gpu: () => WebGPUBackend | null;
}

export const requireGpu = process.env.GPT2TS_REQUIRE_GPU === '1';

let shared: WebGPUBackend | null = null;
const extra: WebGPUBackend[] = [];

/** Why WebGPU cannot run here, or null when it can (probed once per file, keeping the device). */
async function probe(): Promise<string | null> {
  try {
    shared = await createWebGPUBackend();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** null when a WebGPU adapter was found, else the reason (decided before any suite is collected). */
export const webgpuUnavailable: string | null = await probe();

afterAll(() => {
  for (const b of extra) b.dispose();
  shared?.dispose();
});

/** A second WebGPU backend with its own options (e.g. a small binding limit), disposed after the file. */
export async function extraWebGPU(opts: WebGPUBackendOptions): Promise<WebGPUBackend> {
  const b = await createWebGPUBackend(opts);
  extra.push(b);
  return b;
}

/**
 * Run `suite` once per backend, inside `describe('<title> [cpu]')` and `describe('<title> [webgpu]')`.
 * `only` restricts the backends (e.g. WebGPU-only suites such as rung ladders or buffer counts).
 */
export function describeBackends(title: string, suite: (ctx: BackendContext) => void, only?: readonly BackendName[]): void {
  const names: BackendName[] = (only ?? ['cpu', 'webgpu']).slice();
  for (const name of names) {
    if (name === 'cpu') {
      const cpu = new CpuBackend();
      describe(`${title} [cpu]`, () => suite({ name, be: () => cpu, gpu: () => null }));
      continue;
    }
    if (webgpuUnavailable !== null) {
      describe(`${title} [webgpu]`, () => {
        if (requireGpu) {
          it('has a WebGPU adapter (GPT2TS_REQUIRE_GPU=1)', () => {
            throw new Error(webgpuUnavailable ?? '');
          });
        } else {
          it.skip(`skipped: ${webgpuUnavailable}`, () => {});
        }
      });
      continue;
    }
    const get = (): WebGPUBackend => {
      if (!shared) throw new Error('internal: no WebGPU backend');
      return shared;
    };
    describe(`${title} [webgpu]`, () => suite({ name, be: get, gpu: get }));
  }
}

// ---- small helpers shared by the op tests -------------------------------------------------------

/** A backend buffer holding a copy of `data`. */
export function put(be: AnyBackend, data: Float32Array): unknown {
  const buf = be.allocF32(data.length);
  be.writeF32(buf, data);
  return buf;
}

/** A backend int buffer holding a copy of `data`. */
export function putI32(be: AnyBackend, data: Int32Array | number[]): unknown {
  const src = data instanceof Int32Array ? data : Int32Array.from(data);
  const buf = be.allocI32(src.length);
  be.writeI32(buf, src);
  return buf;
}

/** Deterministic pseudo-random floats, uniform in [-scale, scale) (xorshift32). */
export function uniform(n: number, seed: number, scale = 1): Float32Array {
  let x = (seed * 2654435761) >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = ((x / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}
