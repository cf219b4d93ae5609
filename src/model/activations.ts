// The activations of one forward pass, as named views of one allocation (llm.c
// `malloc_and_point_activations`). Sized for a (B, T) capacity and reused while shapes fit.
//
// Inference keeps one set of per-layer scratch buffers and reuses it for every block; training
// (`perLayer`) keeps every layer's buffers, plus the LayerNorm statistics and attention
// probabilities the backward pass reads.

import type { Backend } from '../backend.ts';
import type { GPT2Config } from '../config.ts';
import { ALIGN } from '../params.ts';

export interface LayerActs<F> {
  ln1: F; // (BT, C)  ln_1 output
  ln1Mean: F | null; // (BT)
  ln1Rstd: F | null; // (BT)
  qkv: F; // (BT, 3C)
  atty: F; // (BT, C)  attention output, heads merged
  att: F | null; // (B, NH, T, T) attention probabilities
  attproj: F; // (BT, C)  attn.c_proj output
  residual2: F; // (BT, C)  x + attn(ln_1(x))
  ln2: F; // (BT, C)
  ln2Mean: F | null; // (BT)
  ln2Rstd: F | null; // (BT)
  fch: F; // (BT, F)  mlp.c_fc output
  fchGelu: F; // (BT, F)  gelu_new(fch)
  fcproj: F; // (BT, C)  mlp.c_proj output
}

export interface Activations<F> {
  /** capacity the buffers were sized for */
  B: number;
  T: number;
  /** rows of logits the buffer holds: B·T, or B when only last positions are kept */
  logitRows: number;
  /** residual[0] = embeddings (BT, C); residual[i + 1] = output of block i. L + 1 entries when
   * hidden states are kept, otherwise 2 buffers used in turn (index with `% residual.length`). */
  residual: F[];
  /** L entries; in inference mode they are all the same object */
  layers: LayerActs<F>[];
  lnf: F; // (BT, C)  ln_f output (HF last_hidden_state)
  lnfMean: F | null; // (BT)
  lnfRstd: F | null; // (BT)
  lastRows: F; // (B, C)  ln_f rows of the positions whose logits are wanted, when not all
  logits: F; // (logitRows, V)
  /** the one allocation every view points into */
  buffer: F;
}

export interface ActivationShape {
  B: number;
  T: number;
  /** keep every layer's buffers, LayerNorm stats and attention probabilities (training) */
  perLayer: boolean;
  /** keep the residual stream after every block (hidden states) */
  keepHidden: boolean;
  /** logits for every position (true) or one per row (false) */
  allLogits: boolean;
}

const up = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

export function allocActivations<F, I>(be: Backend<F, I>, cfg: GPT2Config, shape: ActivationShape): Activations<F> {
  const { B, T, perLayer, keepHidden, allLogits } = shape;
  const C = cfg.nEmbd, NH = cfg.nHead, Fi = cfg.nInner, V = cfg.vocabSize, L = cfg.nLayer;
  const BT = B * T;
  const logitRows = allLogits ? BT : B;
  // First pass computes offsets, second cuts views out of the one buffer.
  const plan: [string, number][] = [];
  const nRes = keepHidden || perLayer ? L + 1 : 2;
  for (let i = 0; i < nRes; i++) plan.push([`residual.${i}`, BT * C]);
  const nLayerSets = perLayer ? L : 1;
  for (let l = 0; l < nLayerSets; l++) {
    const p = `layer.${l}.`;
    plan.push([p + 'ln1', BT * C], [p + 'qkv', BT * 3 * C], [p + 'atty', BT * C], [p + 'attproj', BT * C],
      [p + 'residual2', BT * C], [p + 'ln2', BT * C], [p + 'fch', BT * Fi], [p + 'fchGelu', BT * Fi], [p + 'fcproj', BT * C]);
    if (perLayer) {
      plan.push([p + 'ln1Mean', BT], [p + 'ln1Rstd', BT], [p + 'ln2Mean', BT], [p + 'ln2Rstd', BT], [p + 'att', B * NH * T * T]);
    }
  }
  plan.push(['lnf', BT * C], ['lastRows', B * C], ['logits', logitRows * V]);
  if (perLayer) plan.push(['lnfMean', BT], ['lnfRstd', BT]);

  let total = 0;
  const offsets = new Map<string, [number, number]>();
  for (const [name, n] of plan) {
    offsets.set(name, [total, n]);
    total += up(n);
  }
  const buffer = be.allocF32(total);
  const v = (name: string): F => {
    const o = offsets.get(name);
    if (!o) throw new Error(`internal: no activation ${name}`);
    return be.view(buffer, o[0], o[1]);
  };
  const opt = (name: string): F | null => (offsets.has(name) ? v(name) : null);

  const layerSets: LayerActs<F>[] = [];
  for (let l = 0; l < nLayerSets; l++) {
    const p = `layer.${l}.`;
    layerSets.push({
      ln1: v(p + 'ln1'), ln1Mean: opt(p + 'ln1Mean'), ln1Rstd: opt(p + 'ln1Rstd'), qkv: v(p + 'qkv'),
      atty: v(p + 'atty'), att: opt(p + 'att'), attproj: v(p + 'attproj'), residual2: v(p + 'residual2'),
      ln2: v(p + 'ln2'), ln2Mean: opt(p + 'ln2Mean'), ln2Rstd: opt(p + 'ln2Rstd'), fch: v(p + 'fch'),
      fchGelu: v(p + 'fchGelu'), fcproj: v(p + 'fcproj'),
    });
  }
  const residual: F[] = [];
  for (let i = 0; i < nRes; i++) residual.push(v(`residual.${i}`));
  return {
    B, T, logitRows, residual,
    layers: Array.from({ length: L }, (_, l) => layerSets[perLayer ? l : 0]),
    lnf: v('lnf'), lnfMean: opt('lnfMean'), lnfRstd: opt('lnfRstd'),
    lastRows: v('lastRows'), logits: v('logits'), buffer,
  };
}
