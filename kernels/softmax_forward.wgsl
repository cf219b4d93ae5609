// softmax_forward.wgsl — row softmax over the vocabulary, forward.
// Reference: src/cpu/softmax.ts (softmaxForward); torch.softmax(logits, -1).
//
// Math:     probs[r, i] = exp(logits[r, i] − max_r) / Σ_j exp(logits[r, j] − max_r)
// Shapes:   probs, logits (rows, V)
// Dispatch: one workgroup of WG threads (a power of two) per row; workgroups (gx, gy) flattened.
//           Thread i covers columns ≡ i (mod WG); max and sum meet in tree reductions.
// Bindings: all storage read_write (one GPUBuffer holds many activations; see matmul_naive.wgsl).

override WG: u32 = 256;

struct Params {
  rows: u32,
  V: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> probs: array<f32>;  // (rows, V)
@group(0) @binding(2) var<storage, read_write> logits: array<f32>; // (rows, V)

var<workgroup> red: array<f32, WG>;

// max (is_max) or Σ over the workgroup of each thread's v; every thread gets the result.
fn reduce(i: u32, v: f32, is_max: bool) -> f32 {
  red[i] = v;
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    workgroupBarrier();
    if (i < half) {
      if (is_max) {
        red[i] = max(red[i], red[i + half]);
      } else {
        red[i] += red[i + half];
      }
    }
  }
  workgroupBarrier();
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) i: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.rows) {
    return; // uniform: the whole workgroup leaves
  }
  let o = row * p.V;
  var mx = -3.0e38;
  for (var c = i; c < p.V; c += WG) {
    mx = max(mx, logits[o + c]);
  }
  mx = reduce(i, mx, true);
  var s = 0.0;
  for (var c = i; c < p.V; c += WG) {
    let e = exp(logits[o + c] - mx);
    probs[o + c] = e;
    s += e;
  }
  let inv = 1.0 / reduce(i, s, false);
  for (var c = i; c < p.V; c += WG) {
    probs[o + c] *= inv;
  }
}
