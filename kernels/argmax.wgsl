// argmax.wgsl — index of the largest logit in each row (greedy decoding reads back one id per row
// instead of V logits). Reference: src/cpu/softmax.ts (argmax); torch.argmax (the first maximum).
//
// Math:     out[r] = min { i : logits[r, i] = max_j logits[r, j] }   (the first index of the maximum)
//           A NaN never wins (every comparison with it is false), as on the CPU.
// Shapes:   out (rows) int32; logits (rows, V)
// Dispatch: one workgroup of WG threads (a power of two) per row; workgroups (gx, gy) flattened.
//           Thread i scans columns ≡ i (mod WG) in order keeping its first maximum; the WG
//           candidates meet in a tree reduction that keeps the larger value, then the smaller index.
// Bindings: all storage read_write (one GPUBuffer holds many activations; see matmul_naive.wgsl).

override WG: u32 = 256;

struct Params {
  rows: u32,
  V: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<i32>;    // (rows)
@group(0) @binding(2) var<storage, read_write> logits: array<f32>; // (rows, V)

var<workgroup> bestV: array<f32, WG>;
var<workgroup> bestI: array<u32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) i: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.rows) {
    return; // uniform: the whole workgroup leaves
  }
  let o = row * p.V;
  var bv = -0x1.fffffep+127f; // the lowest finite float32
  var bi = 0xffffffffu; // "none yet": loses every index comparison below
  for (var c = i; c < p.V; c += WG) {
    let v = logits[o + c];
    if (v > bv || (bi == 0xffffffffu && v == bv)) {
      bv = v;
      bi = c;
    }
  }
  bestV[i] = bv;
  bestI[i] = bi;
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    workgroupBarrier();
    if (i < half) {
      let v = bestV[i + half];
      let j = bestI[i + half];
      if (v > bestV[i] || (v == bestV[i] && j < bestI[i])) {
        bestV[i] = v;
        bestI[i] = j;
      }
    }
  }
  if (i == 0u) {
    // every logit NaN (or V = 0): index 0, like the CPU's initial best
    out[row] = select(0, i32(bestI[0]), bestI[0] != 0xffffffffu);
  }
}
