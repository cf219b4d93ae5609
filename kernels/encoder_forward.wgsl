// encoder_forward.wgsl — token + position embedding, forward.
// Reference: src/cpu/encoder.ts; HF GPT2Model.forward `inputs_embeds + position_embeds`.
//
// Math:     out[b, t, c] = wte[ids[b, t], c] + wpe[pos0 + t, c]
// Shapes:   out (BT, C) and ids (BT): rows [first_row, first_row + BT) of the (B·T) tokens, so
//           t = (first_row + r) % T; wte rows [row0, row0 + nrows) as (nrows, C); wpe (P, C).
//           A wte larger than one storage binding (124M: 154 MB) is bound in row chunks, one dispatch
//           per chunk; each dispatch writes only the tokens whose id falls in its chunk, so every
//           output row is written exactly once over all chunks.
// Dispatch: one thread per output element, WG per workgroup; workgroups (gx, gy) flattened to
//           gy·gx + gx so that more than 65535 workgroups fit.
// Bindings: all storage read_write (one GPUBuffer holds many activations; see matmul_naive.wgsl).

override WG: u32 = 256;

struct Params {
  BT: u32,
  first_row: u32,
  T: u32,
  C: u32,
  pos0: u32,
  row0: u32,
  nrows: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>; // (BT, C)
@group(0) @binding(2) var<storage, read_write> ids: array<i32>; // (BT)
@group(0) @binding(3) var<storage, read_write> wte: array<f32>; // (nrows, C)
@group(0) @binding(4) var<storage, read_write> wpe: array<f32>; // (P, C)

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let e = (wid.y * nwg.x + wid.x) * WG + li;
  if (e >= p.BT * p.C) {
    return;
  }
  let r = e / p.C;
  let c = e % p.C;
  let id = u32(ids[r]) - p.row0; // wraps to a huge value when ids[r] < row0
  if (id >= p.nrows) {
    return;
  }
  let t = (p.first_row + r) % p.T;
  out[e] = wte[id * p.C + c] + wpe[(p.pos0 + t) * p.C + c];
}
