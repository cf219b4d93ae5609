// matmul_regblock.wgsl — matrix multiply with fused bias, forward. Rung 3 of the matmul ladder:
// shared-memory tiles plus register blocking. Each thread computes a 4 × 4 block of out held in four
// vec4 registers, so each value it loads from workgroup memory feeds 4 multiply-adds instead of 1.
// Reference: src/cpu/matmul.ts; kernels/matmul_naive.wgsl (same math, same bindings).
//
// Math:     out[m, n0 + n] = bias[n0 + n] + Σ_k inp[m, k] · W(k, n)
//           W(k, n) = w[k·N + n] (w (K, N), TRANS_W = false) or w[n·K + k] (w (N, K), TRANS_W = true)
// Shapes:   out (M, ldo), columns [n0, n0 + N) written; inp (M, K); bias (≥ n0 + N) or a dummy.
//           Any M, K, N: tiles reaching past an edge are padded with zeros.
// Blocking: a workgroup of WG_X × WG_Y threads owns a BM × BN block of out, BM = 4·WG_Y, BN = 4·WG_X
//           (64 × 64 by default). Thread (x, y) owns rows mBase + 4y .. 4y+3 and columns
//           nBase + 4x .. 4x+3. k advances BK at a time through workgroup memory:
//             As[k·WG_Y + y] = inp[mBase + 4y .. 4y+3, k0 + k]      (vec4 over 4 rows)
//             Bs[k·WG_X + x] = W(k0 + k, nBase + 4x .. 4x+3)        (vec4 over 4 columns)
//           acc[i] += As[..][i] · Bs[..]: an outer product of two vec4s per k.
// Dispatch: workgroups (ceil(N / BN), ceil(M / BM)).
// Memory:   16 · BK · (WG_X + WG_Y) bytes of workgroup storage (8 KiB by default).
// Bindings: all storage read_write (one GPUBuffer holds many activations; see matmul_naive.wgsl).

override WG_X: u32 = 16;
override WG_Y: u32 = 16;
override BK: u32 = 16;
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

var<workgroup> As: array<vec4<f32>, BK * WG_Y>;
var<workgroup> Bs: array<vec4<f32>, BK * WG_X>;

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let BM = 4u * WG_Y;
  let BN = 4u * WG_X;
  let NT = WG_X * WG_Y;
  let mBase = wid.y * BM;
  let nBase = wid.x * BN;
  var acc: array<vec4<f32>, 4>; // acc[i][j] = out[mBase + 4y + i, nBase + 4x + j], zero-initialised

  for (var k0 = 0u; k0 < p.K; k0 += BK) {
    // inp tile, BM × BK scalars: consecutive threads walk k (contiguous in a row of inp)
    for (var e = li; e < BM * BK; e += NT) {
      let r = e / BK;
      let c = e % BK;
      let gm = mBase + r;
      let gk = k0 + c;
      var a = 0.0;
      if (gm < p.M && gk < p.K) {
        a = inp[gm * p.K + gk];
      }
      As[c * WG_Y + r / 4u][r % 4u] = a;
    }
    // W tile, BK × BN scalars: consecutive threads walk the contiguous axis of w in either layout
    for (var e = li; e < BK * BN; e += NT) {
      var r: u32; // k within the tile
      var c: u32; // n within the tile
      if (TRANS_W) {
        c = e / BK;
        r = e % BK;
      } else {
        r = e / BN;
        c = e % BN;
      }
      let gk = k0 + r;
      let gn = nBase + c;
      var b = 0.0;
      if (gk < p.K && gn < p.N) {
        if (TRANS_W) {
          b = w[gn * p.K + gk];
        } else {
          b = w[gk * p.N + gn];
        }
      }
      Bs[r * WG_X + c / 4u][c % 4u] = b;
    }
    workgroupBarrier();
    for (var k = 0u; k < BK; k++) {
      let a = As[k * WG_Y + lid.y];
      let b = Bs[k * WG_X + lid.x];
      acc[0] += a.x * b;
      acc[1] += a.y * b;
      acc[2] += a.z * b;
      acc[3] += a.w * b;
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < 4u; i++) {
    let m = mBase + 4u * lid.y + i;
    if (m >= p.M) {
      break;
    }
    for (var j = 0u; j < 4u; j++) {
      let n = nBase + 4u * lid.x + j;
      if (n < p.N) {
        var s = acc[i][j];
        if (p.has_bias != 0u) {
          s += bias[p.n0 + n];
        }
        out[m * p.ldo + p.n0 + n] = s;
      }
    }
  }
}
