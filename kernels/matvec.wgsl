// matvec.wgsl — matrix multiply with fused bias for a few rows (decode: M = B, usually 1). Rung 4 of
// the matmul ladder. With one row there is no reuse of W to tile for; the work is reading W once,
// so each entry point is laid out to read W with consecutive threads on consecutive addresses and
// to keep every thread busy by splitting the k sum and reducing it in workgroup memory.
// Reference: src/cpu/matmul.ts; kernels/matmul_naive.wgsl (same math, same bindings and Params).
//
// Math:     out[m, n0 + n] = bias[n0 + n] + Σ_k inp[m, k] · W(k, n)
// Shapes:   out (M, ldo), columns [n0, n0 + N) written; inp (M, K); bias (≥ n0 + N) or a dummy.
//
// matvec_w   W(k, n) = w[k·N + n], w (K, N) (Conv1D layout).
//   Workgroup (WG_N, WG_K): thread (x, y) takes column n = wid.x·WG_N + x and the k ≡ y (mod WG_K);
//   consecutive x read consecutive columns of one row of w. The WG_K partial sums meet in `part`.
//   Dispatch: workgroups (ceil(N / WG_N), M).
// matvec_wt  W(k, n) = w[n·K + k], w (N, K) (the tied lm-head: rows of wte).
//   Workgroup (WG_K, WG_N): thread (x, y) takes row n = wid.x·WG_N + y of w and the k ≡ x (mod WG_K);
//   consecutive x read consecutive k of one row. The WG_K partial sums meet in `part`.
//   Dispatch: workgroups (ceil(N / WG_N), M).
// Memory:   WG_N · WG_K floats of workgroup storage.
// Bindings: all storage read_write (one GPUBuffer holds many activations; see matmul_naive.wgsl).

override WG_N: u32 = 64;
override WG_K: u32 = 4;

struct Params {
  M: u32,
  K: u32,
  N: u32,
  ldo: u32,
  n0: u32,
  has_bias: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;  // (M, ldo)
@group(0) @binding(2) var<storage, read_write> inp: array<f32>;  // (M, K)
@group(0) @binding(3) var<storage, read_write> w: array<f32>;    // (K, N) or (N, K)
@group(0) @binding(4) var<storage, read_write> bias: array<f32>; // (n0 + N)

var<workgroup> part: array<f32, WG_N * WG_K>; // part[slice · WG_N + column]

// Sum the WG_K partial sums of column `c` (thread with slice 0), add the bias, store.
fn finish(m: u32, n: u32, c: u32) {
  var s = 0.0;
  for (var y = 0u; y < WG_K; y++) {
    s += part[y * WG_N + c];
  }
  if (p.has_bias != 0u) {
    s += bias[p.n0 + n];
  }
  out[m * p.ldo + p.n0 + n] = s;
}

@compute @workgroup_size(WG_N, WG_K)
fn matvec_w(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let m = wid.y;
  let n = wid.x * WG_N + lid.x;
  var s = 0.0;
  if (n < p.N) {
    for (var k = lid.y; k < p.K; k += WG_K) {
      s += inp[m * p.K + k] * w[k * p.N + n];
    }
  }
  part[lid.y * WG_N + lid.x] = s;
  workgroupBarrier();
  if (lid.y == 0u && n < p.N) {
    finish(m, n, lid.x);
  }
}

@compute @workgroup_size(WG_K, WG_N)
fn matvec_wt(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let m = wid.y;
  let n = wid.x * WG_N + lid.y;
  var s = 0.0;
  if (n < p.N) {
    for (var k = lid.x; k < p.K; k += WG_K) {
      s += inp[m * p.K + k] * w[n * p.K + k];
    }
  }
  part[lid.x * WG_N + lid.y] = s;
  workgroupBarrier();
  if (lid.x == 0u && n < p.N) {
    finish(m, n, lid.y);
  }
}
