// All parameters of a GPT-2 in one flat Float32Array, with named views in Hugging Face names
// (llm.c `malloc_and_point_parameters`). Gradients and AdamW m/v use the same layout, so the
// optimizer is one loop over one array and an upload is one `writeBuffer`.
//
// Every tensor starts at a multiple of ALIGN floats (256 bytes): that is WebGPU's
// `minStorageBufferOffsetAlignment`, so a GPU backend can bind each view of one big buffer
// directly. The few padding floats between tensors are zero and stay zero.

import type { GPT2Config } from './config.ts';
import { allocShared } from './wasm/heap.ts';

/** Tensor start alignment in floats (256 bytes). */
export const ALIGN = 64;

export interface ParamSpec {
  /** Hugging Face name without the `transformer.` prefix, e.g. `h.0.attn.c_attn.weight` */
  name: string;
  shape: number[];
  /** start in floats within the flat buffer */
  offset: number;
  numel: number;
  /** AdamW decays 2-D weights only (embeddings and Conv1D weights) */
  decay: boolean;
}

/** The block-level names in HF order, with their shapes for a config. */
function blockShapes(cfg: GPT2Config, i: number): [string, number[]][] {
  const C = cfg.nEmbd, F = cfg.nInner, h = `h.${i}.`;
  return [
    [h + 'ln_1.weight', [C]], [h + 'ln_1.bias', [C]],
    [h + 'attn.c_attn.weight', [C, 3 * C]], [h + 'attn.c_attn.bias', [3 * C]],
    [h + 'attn.c_proj.weight', [C, C]], [h + 'attn.c_proj.bias', [C]],
    [h + 'ln_2.weight', [C]], [h + 'ln_2.bias', [C]],
    [h + 'mlp.c_fc.weight', [C, F]], [h + 'mlp.c_fc.bias', [F]],
    [h + 'mlp.c_proj.weight', [F, C]], [h + 'mlp.c_proj.bias', [C]],
  ];
}

/**
 * The expected parameter names and shapes in HF order. `untiedHead` adds `lm_head.weight` [V, C]
 * (a checkpoint whose lm-head differs from `wte`).
 */
export function expectedShapes(cfg: GPT2Config, untiedHead = false): [string, number[]][] {
  const V = cfg.vocabSize, P = cfg.nPositions, C = cfg.nEmbd;
  const out: [string, number[]][] = [['wte.weight', [V, C]], ['wpe.weight', [P, C]]];
  for (let i = 0; i < cfg.nLayer; i++) out.push(...blockShapes(cfg, i));
  out.push(['ln_f.weight', [C]], ['ln_f.bias', [C]]);
  if (untiedHead) out.push(['lm_head.weight', [V, C]]);
  return out;
}

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Specs with aligned offsets, and the total length of the flat buffer. */
export function layoutParams(cfg: GPT2Config, untiedHead = false): { specs: ParamSpec[]; length: number } {
  const specs: ParamSpec[] = [];
  let offset = 0;
  for (const [name, shape] of expectedShapes(cfg, untiedHead)) {
    const numel = numelOf(shape);
    specs.push({ name, shape, offset, numel, decay: shape.length === 2 });
    offset += Math.ceil(numel / ALIGN) * ALIGN;
  }
  return { specs, length: offset };
}

/** One transformer block's parameters, as views of some buffer type (Float32Array, GPU range). */
export interface BlockViews<Buf> {
  ln1w: Buf; // ln_1.weight (C)
  ln1b: Buf; // ln_1.bias (C)
  qkvw: Buf; // attn.c_attn.weight (C, 3C)
  qkvb: Buf; // attn.c_attn.bias (3C)
  attprojw: Buf; // attn.c_proj.weight (C, C)
  attprojb: Buf; // attn.c_proj.bias (C)
  ln2w: Buf; // ln_2.weight (C)
  ln2b: Buf; // ln_2.bias (C)
  fcw: Buf; // mlp.c_fc.weight (C, F)
  fcb: Buf; // mlp.c_fc.bias (F)
  fcprojw: Buf; // mlp.c_proj.weight (F, C)
  fcprojb: Buf; // mlp.c_proj.bias (C)
}

export interface ParamViews<Buf> {
  wte: Buf; // wte.weight (V, C)
  wpe: Buf; // wpe.weight (P, C)
  blocks: BlockViews<Buf>[]; // L of them
  lnfw: Buf; // ln_f.weight (C)
  lnfb: Buf; // ln_f.bias (C)
  /** (V, C): `wte` itself when tied, `lm_head.weight` otherwise; logits = ln_f(x) · lmHeadᵀ */
  lmHead: Buf;
}

/** Build the named views from a layout; `view(offset, numel)` cuts one tensor out of the flat buffer. */
export function makeViews<Buf>(specs: readonly ParamSpec[], view: (offset: number, numel: number) => Buf): ParamViews<Buf> {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const get = (name: string): Buf => {
    const s = byName.get(name);
    if (!s) throw new Error(`internal: no parameter named ${name}`);
    return view(s.offset, s.numel);
  };
  const blocks: BlockViews<Buf>[] = [];
  for (let i = 0; byName.has(`h.${i}.ln_1.weight`); i++) {
    const h = `h.${i}.`;
    blocks.push({
      ln1w: get(h + 'ln_1.weight'), ln1b: get(h + 'ln_1.bias'),
      qkvw: get(h + 'attn.c_attn.weight'), qkvb: get(h + 'attn.c_attn.bias'),
      attprojw: get(h + 'attn.c_proj.weight'), attprojb: get(h + 'attn.c_proj.bias'),
      ln2w: get(h + 'ln_2.weight'), ln2b: get(h + 'ln_2.bias'),
      fcw: get(h + 'mlp.c_fc.weight'), fcb: get(h + 'mlp.c_fc.bias'),
      fcprojw: get(h + 'mlp.c_proj.weight'), fcprojb: get(h + 'mlp.c_proj.bias'),
    });
  }
  const wte = get('wte.weight');
  return {
    wte, wpe: get('wpe.weight'), blocks, lnfw: get('ln_f.weight'), lnfb: get('ln_f.bias'),
    lmHead: byName.has('lm_head.weight') ? get('lm_head.weight') : wte,
  };
}

/** The parameters of one model: config, layout, the flat buffer and its named CPU views. */
export class Params {
  readonly config: GPT2Config;
  readonly specs: readonly ParamSpec[];
  /** the one allocation holding every parameter */
  readonly data: Float32Array;
  readonly views: ParamViews<Float32Array>;
  private readonly byName: Map<string, ParamSpec>;

  constructor(config: GPT2Config, untiedHead = false, data?: Float32Array) {
    const { specs, length } = layoutParams(config, untiedHead);
    if (data && data.length !== length) {
      throw new Error(`internal: parameter buffer has ${data.length} floats, layout needs ${length}`);
    }
    this.config = config;
    this.specs = specs;
    // in the wasm heap (shared memory) where there is one, so the CPU kernels and their worker
    // threads read the weights in place; a loader fills it with fs reads (never a second copy)
    this.data = data ?? allocShared(length);
    this.byName = new Map(specs.map((s) => [s.name, s]));
    this.views = makeViews(specs, (o, n) => this.data.subarray(o, o + n));
  }

  /** True when the lm-head is its own matrix (`lm_head.weight` differs from `wte`). */
  get untiedHead(): boolean {
    return this.byName.has('lm_head.weight');
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  spec(name: string): ParamSpec {
    const s = this.byName.get(name);
    if (!s) throw new Error(`no parameter named "${name}"`);
    return s;
  }

  /** The named tensor as a view (no copy) of the flat buffer. */
  view(name: string): Float32Array {
    const s = this.spec(name);
    return this.data.subarray(s.offset, s.offset + s.numel);
  }

  /** Number of parameters (wte counted once when tied; padding not counted). */
  get count(): number {
    let n = 0;
    for (const s of this.specs) n += s.numel;
    return n;
  }

  /** A buffer of the same layout (gradients, AdamW m and v). */
  zerosLike(): Float32Array {
    return new Float32Array(this.data.length);
  }
}

/**
 * GPT-2-style random initialisation (N(0, 0.02²) weights, residual projections scaled by 1/sqrt(2L),
 * LayerNorm weight 1, biases 0) from a seeded generator. For benchmarks and tests: no pretrained
 * weights are available offline.
 */
export function randomParams(cfg: GPT2Config, seed: number): Params {
  const p = new Params(cfg);
  let s = BigInt.asUintN(64, BigInt(seed) * 0x9e3779b97f4a7c15n + 1n);
  const next = (): number => {
    // splitmix64
    s = BigInt.asUintN(64, s + 0x9e3779b97f4a7c15n);
    let z = s;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    z ^= z >> 31n;
    return Number(z >> 11n) / 2 ** 53;
  };
  // Box-Muller over a cheap xorshift seeded from splitmix (BigInt per element would be slow at 124M).
  let x = (Math.floor(next() * 2 ** 32) | 1) >>> 0;
  const uni = (): number => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return (x + 0.5) / 2 ** 32;
  };
  const normal = (): number => Math.sqrt(-2 * Math.log(uni())) * Math.cos(2 * Math.PI * uni());
  const projStd = 0.02 / Math.sqrt(2 * cfg.nLayer);
  for (const spec of p.specs) {
    const v = p.data.subarray(spec.offset, spec.offset + spec.numel);
    if (/ln_[12f]\.weight$|^ln_f\.weight$/.test(spec.name)) v.fill(1);
    else if (spec.shape.length === 1) v.fill(0);
    else {
      const std = spec.name.endsWith('c_proj.weight') ? projStd : 0.02;
      for (let i = 0; i < v.length; i++) v[i] = normal() * std;
    }
  }
  return p;
}
