// The activations of one forward pass, as named views of one allocation (llm.c
// `malloc_and_point_activations`). Sized for a (B, T) capacity and reused while shapes fit.
//
// Inference keeps one set of per-layer scratch buffers and reuses it for every block; training
// (`perLayer`) keeps every layer's buffers, plus the LayerNorm statistics and attention
// probabilities the backward pass reads; with `dropout`, also the dropout masks. The gradients of
// the activations (`GradActivations`, at the end) need only one layer's worth, reused per block.

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
  /** dropout masks, when allocated with `dropout` (0 or 1/(1−p); see cpu/dropout.ts) */
  attDrop: F | null; // (B, NH, T, T) on the attention probabilities
  attprojDrop: F | null; // (BT, C)  on attn.c_proj's output (resid_pdrop)
  fcprojDrop: F | null; // (BT, C)  on mlp.c_proj's output (resid_pdrop)
}

/** Which dropouts the last forward applied (the backward reads this to mirror it). */
export interface DropoutUsed {
  embd: boolean;
  attn: boolean;
  resid: boolean;
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
  /** dropout mask on the embeddings (BT, C), when allocated with `dropout` */
  embdDrop: F | null;
  /** set by gpt2Forward: the dropouts it applied (all false outside training) */
  dropoutUsed: DropoutUsed;
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
  /** also keep dropout masks (training with dropout; needs perLayer) */
  dropout?: boolean;
}

const up = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;

export function allocActivations<F, I>(be: Backend<F, I>, cfg: GPT2Config, shape: ActivationShape): Activations<F> {
  const { B, T, perLayer, keepHidden, allLogits } = shape;
  const dropout = Boolean(shape.dropout);
  if (dropout && !perLayer) throw new Error('internal: dropout masks need perLayer activations');
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
    if (dropout) plan.push([p + 'attDrop', B * NH * T * T], [p + 'attprojDrop', BT * C], [p + 'fcprojDrop', BT * C]);
  }
  plan.push(['lnf', BT * C], ['lastRows', B * C], ['logits', logitRows * V]);
  if (perLayer) plan.push(['lnfMean', BT], ['lnfRstd', BT]);
  if (dropout) plan.push(['embdDrop', BT * C]);

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
      attDrop: opt(p + 'attDrop'), attprojDrop: opt(p + 'attprojDrop'), fcprojDrop: opt(p + 'fcprojDrop'),
    });
  }
  const residual: F[] = [];
  for (let i = 0; i < nRes; i++) residual.push(v(`residual.${i}`));
  return {
    B, T, logitRows, residual,
    layers: Array.from({ length: L }, (_, l) => layerSets[perLayer ? l : 0]),
    lnf: v('lnf'), lnfMean: opt('lnfMean'), lnfRstd: opt('lnfRstd'),
    lastRows: v('lastRows'), logits: v('logits'), embdDrop: opt('embdDrop'),
    dropoutUsed: { embd: false, attn: false, resid: false }, buffer,
  };
}

/**
 * The gradients of the activations for one backward pass (model/gpt2.ts gpt2Backward). Only the
 * residual stream's gradient crosses blocks, so one block's worth of buffers is kept and reused
 * (zeroed before each block); the backward ops accumulate into them.
 */
export interface GradActivations<F> {
  /** capacity the buffers were sized for */
  B: number;
  T: number;
  losses: F; // (BT)  per-position cross-entropy (crossEntropyForward)
  dlogits: F; // (BT, V)
  dlnf: F; // (BT, C)
  /** (BT, C) ×2: d(block output) and d(block input), swapped after each block */
  dres: [F, F];
  dembd: F; // (BT, C)  d(embeddings before dropout)
  layer: {
    dres2: F; // (BT, C)  d(x + attn(ln_1(x)))
    dln2: F; // (BT, C)
    dfch: F; // (BT, F)
    dfchGelu: F; // (BT, F)
    dfcproj: F; // (BT, C)  d(mlp.c_proj output after dropout)
    dfcprojPre: F; // (BT, C)  ... before dropout
    dattproj: F; // (BT, C)  d(attn.c_proj output after dropout)
    dattprojPre: F; // (BT, C)  ... before dropout
    datty: F; // (BT, C)
    dqkv: F; // (BT, 3C)
    dln1: F; // (BT, C)
  };
  /** the block buffers above as one range (one `zero` per block), and its length */
  layerBuffer: F;
  layerLength: number;
  /** the one allocation every view points into */
  buffer: F;
}

export function allocGradActivations<F, I>(be: Backend<F, I>, cfg: GPT2Config, B: number, T: number): GradActivations<F> {
  const C = cfg.nEmbd, Fi = cfg.nInner, V = cfg.vocabSize;
  const BT = B * T;
  // the block buffers first, so they form one contiguous range
  const layerPlan: [string, number][] = [
    ['dres2', BT * C], ['dln2', BT * C], ['dfch', BT * Fi], ['dfchGelu', BT * Fi], ['dfcproj', BT * C],
    ['dfcprojPre', BT * C], ['dattproj', BT * C], ['dattprojPre', BT * C], ['datty', BT * C], ['dqkv', BT * 3 * C],
    ['dln1', BT * C],
  ];
  const plan: [string, number][] = [...layerPlan,
    ['losses', BT], ['dlogits', BT * V], ['dlnf', BT * C], ['dres0', BT * C], ['dres1', BT * C], ['dembd', BT * C]];
  let total = 0;
  const offsets = new Map<string, [number, number]>();
  for (const [name, n] of plan) {
    offsets.set(name, [total, n]);
    total += up(n);
  }
  const layerLength = offsets.get('losses')?.[0] ?? 0;
  const buffer = be.allocF32(total);
  const v = (name: string): F => {
    const o = offsets.get(name);
    if (!o) throw new Error(`internal: no activation gradient ${name}`);
    return be.view(buffer, o[0], o[1]);
  };
  return {
    B, T, losses: v('losses'), dlogits: v('dlogits'), dlnf: v('dlnf'), dres: [v('dres0'), v('dres1')], dembd: v('dembd'),
    layer: {
      dres2: v('dres2'), dln2: v('dln2'), dfch: v('dfch'), dfchGelu: v('dfchGelu'), dfcproj: v('dfcproj'),
      dfcprojPre: v('dfcprojPre'), dattproj: v('dattproj'), dattprojPre: v('dattprojPre'), datty: v('datty'),
      dqkv: v('dqkv'), dln1: v('dln1'),
    },
    layerBuffer: be.view(buffer, 0, layerLength), layerLength, buffer,
  };
}
