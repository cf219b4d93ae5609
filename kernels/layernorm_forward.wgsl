// layernorm_forward.wgsl — LayerNorm over the channel dimension, forward.
// Reference: src/cpu/layernorm.ts; torch.nn.LayerNorm (biased variance, eps inside the sqrt).
//
// Math:     mean = Σ_c x[c] / C;  var = Σ_c (x[c] − mean)² / C;  rstd = 1 / sqrt(var + eps)
//           out[c] = (x[c] − mean) · rstd · w[c] + b[c]
//           Two passes over the row (mean first, then the centred squares), like the CPU, rather than
//           E[x²] − mean², which cancels badly when |mean| ≫ std.
// Shapes:   out (N, C); inp (N, C); w, b (C); mean, rstd (N), written when has_stats = 1.
// Dispatch: one workgroup of WG threads (a power of two) per row; workgroups (gx, gy) flattened.
//           Thread i sums c ≡ i (mod WG); the WG partial sums meet in a tree reduction.
// Bindings: all storage read_write (one GPUBuffer holds many activations; see matmul_naive.wgsl).

override WG: u32 = 256;

struct Params {
  N: u32,
  C: u32,
  has_stats: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;  // (N, C)
@group(0) @binding(2) var<storage, read_write> inp: array<f32>;  // (N, C)
@group(0) @binding(3) var<storage, read_write> w: array<f32>;    // (C)
@group(0) @binding(4) var<storage, read_write> b: array<f32>;    // (C)
@group(0) @binding(5) var<storage, read_write> mean: array<f32>; // (N)
@group(0) @binding(6) var<storage, read_write> rstd: array<f32>; // (N)

var<workgroup> red: array<f32, WG>;

// Σ over the workgroup of each thread's v (tree reduction); every thread gets the result.
fn sum_all(i: u32, v: f32) -> f32 {
  red[i] = v;
  for (var half = WG / 2u; half > 0u; half /= 2u) {
    workgroupBarrier();
    if (i < half) {
      red[i] += red[i + half];
    }
  }
  workgroupBarrier();
  let r = red[0];
  workgroupBarrier(); // red is reused by the next sum
  return r;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) i: u32) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.N) {
    return; // the whole workgroup leaves together (row is uniform)
  }
  let o = row * p.C;
  var s = 0.0;
  for (var c = i; c < p.C; c += WG) {
    s += inp[o + c];
  }
  let m = sum_all(i, s) / f32(p.C);
  var v = 0.0;
  for (var c = i; c < p.C; c += WG) {
    let d = inp[o + c] - m;
    v += d * d;
  }
  let rs = 1.0 / sqrt(sum_all(i, v) / f32(p.C) + p.eps);
  for (var c = i; c < p.C; c += WG) {
    out[o + c] = (inp[o + c] - m) * rs * w[c] + b[c];
  }
  if (i == 0u && p.has_stats != 0u) {
    mean[row] = m;
    rstd[row] = rs;
  }
}
