// matmul_naive.wgsl — matrix multiply with fused bias, forward. Rung 1 of the matmul ladder: the
// reference kernel, one thread per output element, every operand read straight from global memory.
// Reference: src/cpu/matmul.ts (matmulForwardNaive); HF Conv1D `addmm(bias, x, W)`.
//
// Math:     out[m, n0 + n] = bias[n0 + n] + Σ_k inp[m, k] · W(k, n)      (no bias term when has_bias = 0)
//           W(k, n) = w[k·N + n]      w (K, N)   Conv1D layout                      TRANS_W = false
//           W(k, n) = w[n·K + k]      w (N, K)   rows n0.. of wte (tied lm-head)    TRANS_W = true
// Shapes:   out (M, ldo) row-major; this dispatch writes its columns [n0, n0 + N)   (ldo ≥ n0 + N)
//           inp (M, K); bias (≥ n0 + N) or a dummy.  n0 > 0 only when the host splits a transposed
//           w that is larger than one storage binding into row chunks (see src/webgpu/split.ts).
// Dispatch: workgroups (ceil(N / WG_X), ceil(M / WG_Y)); thread (x, y) computes out[y, n0 + x].
// Bindings: every storage buffer is read_write, inputs included: activations share one GPUBuffer and
//           WebGPU forbids a read-only and a writable binding of one buffer in the same dispatch.

override WG_X: u32 = 16;
override WG_Y: u32 = 16;
override TRANS_W: bool = false;

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

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let n = gid.x;
  let m = gid.y;
  if (m >= p.M || n >= p.N) {
    return;
  }
  var s = 0.0;
  for (var k = 0u; k < p.K; k++) {
    var wkn: f32;
    if (TRANS_W) {
      wkn = w[n * p.K + k];
    } else {
      wkn = w[k * p.N + n];
    }
    s += inp[m * p.K + k] * wkn;
  }
  if (p.has_bias != 0u) {
    s += bias[p.n0 + n];
  }
  out[m * p.ldo + p.n0 + n] = s;
}
