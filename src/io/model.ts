// Load a Hugging Face GPT-2 checkpoint into one flat Float32Array of parameters.
//
// Accepted model paths (DESIGN.md "Files the engine reads and writes"):
//   - a folder with config.json + model.safetensors
//   - a folder with config.json + model.safetensors.index.json and its shards
//   - a folder with only pytorch_model.bin, or pytorch_model.bin.index.json and its shards (safetensors
//     is preferred when a folder has both)
//   - a single .safetensors or PyTorch (.bin/.pt/.pth) file: config.json from its folder when present,
//     else inferred from shapes
//   - hf:owner/name[@revision]: that model's snapshot in the local Hugging Face cache (see src/hub/)
// Quirks of real GPT-2 files are handled here and only here (`normalizeName`):
//   - a `transformer.` prefix on every name (GPT2LMHeadModel.state_dict())
//   - `h.N.attn.bias` / `h.N.attn.masked_bias` buffers (the causal mask; ignored)
//   - an explicit `lm_head.weight`: tied when equal to `wte.weight`, its own matrix otherwise
// Every tensor is checked against the config's expected shape. Weights of any float dtype are
// upcast to float32 straight into the flat buffer (no second copy of the model in memory).

import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { type GPT2Config, configFromHF, makeConfig } from '../config.ts';
import { Params, expectedShapes, numelOf } from '../params.ts';
import { WEIGHT_LAYOUTS, resolveCachedModel } from '../hub/resolve-cached.ts';
import { SafetensorsFile } from './safetensors.ts';
import { TorchCheckpoint, isTorchCheckpoint } from './torch/checkpoint.ts';

export interface LoadedModel {
  params: Params;
  config: GPT2Config;
  /** what was read, for `inspect` and error messages */
  source: ModelSource;
}

export interface ModelSource {
  /** the path as given, resolved */
  path: string;
  /** the folder holding config.json / tokenizer files */
  dir: string;
  /** the weight files read (safetensors or PyTorch checkpoints) */
  files: string[];
  /** where the config came from: a config.json path, or 'inferred from tensor shapes' */
  configFrom: string;
  /** tensor name (as stored) → dtype and shape */
  tensors: { name: string; dtype: string; shape: number[]; file: string }[];
  /** stored names that were not parameters (mask buffers, extra heads) */
  ignored: string[];
  /** true when the file carried an lm_head.weight equal to wte (dropped: tied) */
  lmHeadTied: boolean;
}

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

/** What the loader needs from a weights file; SafetensorsFile and TorchCheckpoint both provide it. */
interface WeightFile {
  readonly path: string;
  names(): string[];
  info(name: string): TensorInfo;
  readF32(name: string): Float32Array;
  readF32Into(name: string, out: Float32Array): void;
  /** true when two names are one stored view (a tied lm_head in a .bin), so equal without reading */
  sameData?(a: string, b: string): boolean;
  close(): void;
}

interface TensorInfo {
  name: string;
  dtype: string;
  shape: number[];
}

/** PyTorch checkpoint file names (torch.save has no fixed extension; these are the usual ones) */
const TORCH_EXT = /\.(bin|pt|pth|ckpt)$/;

function openWeights(path: string): WeightFile {
  return TORCH_EXT.test(path) ? TorchCheckpoint.open(path) : SafetensorsFile.open(path);
}

/** Where the stored name points: a parameter (HF name without prefix), or null to ignore it. */
export function normalizeName(stored: string): string | null {
  const name = stored.startsWith('transformer.') ? stored.slice('transformer.'.length) : stored;
  if (/^h\.\d+\.attn\.(bias|masked_bias)$/.test(name)) return null;
  return name;
}

/** Which files hold the weights of a model path, and which config.json applies (if any). */
function resolveFiles(path: string): { dir: string; files: string[]; weightMap: Map<string, string> | null; configPath: string | null } {
  const abs = resolve(path);
  if (!existsSync(abs)) throw new Error(`model path ${path} does not exist`);
  const st = statSync(abs);
  if (st.isDirectory()) {
    const config = join(abs, 'config.json');
    const configPath = existsSync(config) ? config : null;
    for (const [singleName, indexName] of WEIGHT_LAYOUTS) {
      const single = join(abs, singleName);
      const index = join(abs, indexName);
      if (existsSync(single)) return { dir: abs, files: [single], weightMap: null, configPath };
      if (existsSync(index)) {
        const weightMap = readIndex(index);
        const files = [...new Set(weightMap.values())].sort().map((f) => join(abs, f));
        for (const f of files) if (!existsSync(f)) throw new Error(`${index}: shard ${basename(f)} is missing`);
        return { dir: abs, files, weightMap: new Map([...weightMap].map(([k, f]) => [k, join(abs, f)])), configPath };
      }
    }
    throw new Error(`model folder ${path} has no model.safetensors or model.safetensors.index.json (nor pytorch_model.bin or pytorch_model.bin.index.json)`);
  }
  if (!abs.endsWith('.safetensors') && !(TORCH_EXT.test(abs) && isTorchCheckpoint(abs))) {
    throw new Error(`model path ${path} is neither a folder nor a .safetensors file, nor a PyTorch checkpoint (.bin/.pt/.pth)`);
  }
  const config = join(dirname(abs), 'config.json');
  return { dir: dirname(abs), files: [abs], weightMap: null, configPath: existsSync(config) ? config : null };
}

function readIndex(path: string): Map<string, string> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  const wm = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof wm !== 'object' || wm === null || Array.isArray(wm)) throw new Error(`${path}: missing "weight_map" object`);
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(wm)) {
    if (typeof v !== 'string' || v.includes('/') || v.includes('\\') || v === '..') {
      throw new Error(`${path}: weight_map entry "${k}" must be a file name in the same folder, got ${JSON.stringify(v)}`);
    }
    out.set(k, v);
  }
  return out;
}

function readConfig(path: string): GPT2Config {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${e instanceof Error ? e.message : String(e)})`);
  }
  return configFromHF(json, path);
}

/** GPT-2 family head counts by width; otherwise 64-wide heads. Shapes cannot tell n_head. */
const KNOWN_HEADS: Record<number, number> = { 768: 12, 1024: 16, 1280: 20, 1600: 25 };

/** Infer a config from tensor shapes (no config.json). n_head: the GPT-2 family's, else C / 64. */
export function inferConfig(shapes: Map<string, number[]>, where: string): GPT2Config {
  const need = (name: string, rank: number): number[] => {
    const s = shapes.get(name);
    if (!s) throw new Error(`${where}: no config.json and no "${name}" tensor to infer the model shape from`);
    if (s.length !== rank) throw new Error(`${where}: ${name} has shape [${s.join(', ')}], expected ${rank} dimensions`);
    return s;
  };
  const [V, C] = need('wte.weight', 2);
  const [P] = need('wpe.weight', 2);
  let L = 0;
  while (shapes.has(`h.${L}.ln_1.weight`)) L++;
  if (L === 0) throw new Error(`${where}: no transformer blocks (h.0.*) found`);
  const fc = need('h.0.mlp.c_fc.weight', 2);
  const NH = KNOWN_HEADS[C] ?? (C % 64 === 0 ? C / 64 : 0);
  if (!NH) throw new Error(`${where}: cannot infer n_head for n_embd ${C}; put a config.json next to the weights`);
  return makeConfig({ vocabSize: V, nPositions: P, nEmbd: C, nLayer: L, nHead: NH, nInner: fc[1], embdPdrop: 0.1, attnPdrop: 0.1, residPdrop: 0.1 });
}

/** Load a model path (see the header comment) into flat float32 parameters. */
export function loadModelFiles(pathIn: string): LoadedModel {
  // hf:owner/name[@revision] → its cached snapshot folder (downloading is async: see src/hub/)
  const path = pathIn.startsWith('hf:') ? resolveCachedModel(pathIn) : pathIn;
  const { dir, files, weightMap, configPath } = resolveFiles(path);
  const opened: WeightFile[] = [];
  try {
    // 1. open every file (headers only) and map normalized names to where they live
    const where = new Map<string, Stored>();
    const ignored: string[] = [];
    const tensors: ModelSource['tensors'] = [];
    for (const f of files) {
      const st = openWeights(f);
      opened.push(st);
      for (const stored of st.names()) {
        const info = st.info(stored);
        tensors.push({ name: stored, dtype: info.dtype, shape: info.shape, file: f });
        if (weightMap && weightMap.get(stored) !== f) {
          throw new Error(`${f}: holds "${stored}", which the index assigns to ${weightMap.get(stored) ? basename(weightMap.get(stored) ?? '') : 'no shard'}`);
        }
        const name = normalizeName(stored);
        if (name === null) {
          ignored.push(stored);
          continue;
        }
        const prev = where.get(name);
        if (prev) throw new Error(`${f}: "${stored}" duplicates "${prev.info.name}" in ${prev.file.path}`);
        where.set(name, { file: st, info });
      }
    }
    const shapes = new Map([...where].map(([k, v]) => [k, v.info.shape]));
    const label = files.length === 1 ? files[0] : dir;
    const config = configPath ? readConfig(configPath) : inferConfig(shapes, label);

    // 2. decide whether the lm-head is its own matrix
    const head = where.get('lm_head.weight');
    let untied = false;
    let lmHeadTied = false;
    if (head) {
      untied = !sameValues(head, where.get('wte.weight'));
      lmHeadTied = !untied;
      if (!untied) where.delete('lm_head.weight');
    } else if (!config.tieWordEmbeddings) {
      throw new Error(`${label}: config has tie_word_embeddings false but there is no lm_head.weight`);
    }
    const cfg: GPT2Config = untied ? { ...config, tieWordEmbeddings: false } : config;

    // 3. every expected tensor present with its shape and a float dtype; nothing unknown left over
    const expected = expectedShapes(cfg, untied);
    const expectedNames = new Set(expected.map(([n]) => n));
    for (const [name, shape] of expected) {
      const t = where.get(name);
      if (!t) throw new Error(`${label}: missing tensor "${name}" (expected shape [${shape.join(', ')}])`);
      if (t.info.shape.length !== shape.length || t.info.shape.some((d, i) => d !== shape[i])) {
        throw new Error(`${t.file.path}: tensor "${t.info.name}" has shape [${t.info.shape.join(', ')}], the config expects [${shape.join(', ')}]`);
      }
      if (!FLOAT_DTYPES.has(t.info.dtype)) {
        throw new Error(`${t.file.path}: tensor "${t.info.name}" has dtype ${t.info.dtype}; weights must be F32, F16, BF16 or F64`);
      }
    }
    for (const [name, t] of where) {
      if (!expectedNames.has(name)) {
        if (name === 'lm_head.weight') continue;
        throw new Error(`${t.file.path}: unexpected tensor "${t.info.name}" for a GPT-2 with ${cfg.nLayer} layers`);
      }
    }

    // 4. read each tensor straight into its view of the flat buffer
    const params = new Params(cfg, untied);
    for (const spec of params.specs) {
      const t = where.get(spec.name);
      if (!t) throw new Error(`internal: ${spec.name} vanished`);
      if (numelOf(t.info.shape) !== spec.numel) throw new Error(`internal: ${spec.name} size mismatch`);
      t.file.readF32Into(t.info.name, params.view(spec.name));
    }
    return {
      params, config: cfg,
      source: { path: resolve(path), dir, files, configFrom: configPath ?? 'inferred from tensor shapes', tensors, ignored, lmHeadTied },
    };
  } finally {
    for (const f of opened) f.close();
  }
}

interface Stored { file: WeightFile; info: TensorInfo }

/** Whether two stored tensors hold the same values (after upcasting). */
function sameValues(a: Stored, b: Stored | undefined): boolean {
  if (!b) return false;
  if (a.info.shape.length !== b.info.shape.length || a.info.shape.some((d, i) => d !== b.info.shape[i])) return false;
  if (a.file === b.file && a.file.sameData?.(a.info.name, b.info.name)) return true;
  const x = a.file.readF32(a.info.name);
  const y = b.file.readF32(b.info.name);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i] && !(Number.isNaN(x[i]) && Number.isNaN(y[i]))) return false;
  return true;
}
