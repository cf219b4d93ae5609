// matmul_tiled.wgsl — matrix multiply with fused bias, forward. Rung 2 of the matmul ladder:
// shared-memory tiling. A workgroup of TILE × TILE threads computes a TILE × TILE block of out; for
// each step of TILE along k it stages one tile of inp and one of W in workgroup memory, so every
// global value is read once per workgroup instead of once per output.
// Reference: src/cpu/matmul.ts; kernels/matmul_naive.wgsl (same math, same bindings).
//
// Math:     out[m, n0 + n] = bias[n0 + n] + Σ_k inp[m, k] · W(k, n)
//           W(k, n) = w[k·N + n] (w (K, N), TRANS_W = false) or w[n·K + k] (w (N, K), TRANS_W = true)
// Shapes:   out (M, ldo), columns [n0, n0 + N) written; inp (M, K); bias (≥ n0 + N) or a dummy.
//           Any M, K, N: tiles reaching past an edge are padded with zeros.
// Dispatch: workgroups (ceil(N / TILE), ceil(M / TILE)); thread (x, y) of workgroup (i, j) computes
//           out[j·TILE + y, n0 + i·TILE + x].
// Memory:   2 · TILE² floats of workgroup storage (2 KiB at TILE = 16).
// Bindings: all storage read_write (one GPUBuffer holds many activations; see matmul_naive.wgsl).

override TILE: u32 = 16;
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

var<workgroup> As: array<f32, TILE * TILE>; // As[r·TILE + k] = inp[mBase + r, k0 + k]
var<workgroup> Bs: array<f32, TILE * TILE>; // Bs[k·TILE + c] = W(k0 + k, nBase + c)

@compute @workgroup_size(TILE, TILE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let mBase = wid.y * TILE;
  let nBase = wid.x * TILE;
  let m = mBase + lid.y;
  let n = nBase + lid.x;
  var s = 0.0;
  for (var k0 = 0u; k0 < p.K; k0 += TILE) {
    // inp tile: thread (x, y) loads inp[m, k0 + x] (consecutive x read consecutive addresses)
    let ka = k0 + lid.x;
    var a = 0.0;
    if (m < p.M && ka < p.K) {
      a = inp[m * p.K + ka];
    }
    As[lid.y * TILE + lid.x] = a;
    // W tile, loaded so that consecutive x read consecutive addresses in either layout
    var b = 0.0;
    if (TRANS_W) {
      // thread (x, y) loads W(k0 + x, nBase + y) = w[(nBase + y)·K + k0 + x]
      let nb = nBase + lid.y;
      if (nb < p.N && ka < p.K) {
        b = w[nb * p.K + ka];
      }
      Bs[lid.x * TILE + lid.y] = b;
    } else {
      // thread (x, y) loads W(k0 + y, n) = w[(k0 + y)·N + n]
      let kb = k0 + lid.y;
      if (kb < p.K && n < p.N) {
        b = w[kb * p.N + n];
      }
      Bs[lid.y * TILE + lid.x] = b;
    }
    workgroupBarrier();
    for (var k = 0u; k < TILE; k++) {
      s += As[lid.y * TILE + k] * Bs[k * TILE + lid.x];
    }
    workgroupBarrier();
  }
  if (m < p.M && n < p.N) {
    if (p.has_bias != 0u) {
      s += bias[p.n0 + n];
    }
    out[m * p.ldo + p.n0 + n] = s;
  }
}
