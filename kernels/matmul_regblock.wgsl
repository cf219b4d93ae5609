// matmul_regblock.wgsl — matrix multiply with fused bias, forward. Rung 3 of the matmul ladder:
// shared-memory tiles plus register blocking. Each thread computes an 8 × 8 block of out held in
// sixteen vec4 registers, so the four vec4s it reads from workgroup memory per k feed 64
// multiply-adds (the tiled rung: 2 reads per multiply-add).
// Reference: src/cpu/matmul.ts; kernels/matmul_naive.wgsl (same math, same bindings).
//
// Math:     out[m, n0 + n] = bias[n0 + n] + Σ_k inp[m, k] · W(k, n)
//           W(k, n) = w[k·N + n] (w (K, N), TRANS_W = false) or w[n·K + k] (w (N, K), TRANS_W = true)
// Shapes:   out (M, ldo), columns [n0, n0 + N) written; inp (M, K); bias (≥ n0 + N) or a dummy.
//           Any M, K, N: tiles reaching past an edge are padded with zeros.
// Blocking: a workgroup of WG_X × WG_Y threads owns a BM × BN block of out, BM = 8·WG_Y, BN = 8·WG_X
//           (64 × 64 by default). Thread (x, y) owns rows mBase + 8y .. 8y+7 and columns
//           nBase + 8x .. 8x+7. k advances BK at a time through workgroup memory, as vec4s:
//             As[k·BM/4 + r/4][r%4] = inp[mBase + r, k0 + k]       (4 consecutive rows per vec4)
//             Bs[k·BN/4 + c/4][c%4] = W(k0 + k, nBase + c)         (4 consecutive columns per vec4)
//           per k: a0, a1 = the thread's 8 rows, b0, b1 = its 8 columns;
//             acc[2i + j] += a[i] · b_j      (an outer product: 16 vec4 multiply-adds)
// Dispatch: workgroups (ceil(N / BN), ceil(M / BM)).
// Memory:   32 · BK · (WG_X + WG_Y) bytes of workgroup storage (8 KiB by default).
// Bindings: all storage read_write (one GPUBuffer holds many activations; see matmul_naive.wgsl).

override WG_X: u32 = 8;
override WG_Y: u32 = 8;
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

var<workgroup> As: array<vec4<f32>, BK * WG_Y * 2u>; // BK × BM/4
var<workgroup> Bs: array<vec4<f32>, BK * WG_X * 2u>; // BK × BN/4

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let BM = 8u * WG_Y;
  let BN = 8u * WG_X;
  let NT = WG_X * WG_Y;
  let mBase = wid.y * BM;
  let nBase = wid.x * BN;
  var acc: array<vec4<f32>, 16>; // acc[2i + j/4][j%4] = out[mBase + 8y + i, nBase + 8x + j]; zeroed

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
      As[c * (BM / 4u) + r / 4u][r % 4u] = a;
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
      Bs[r * (BN / 4u) + c / 4u][c % 4u] = b;
    }
    workgroupBarrier();
    for (var k = 0u; k < BK; k++) {
      let a0 = As[k * (BM / 4u) + 2u * lid.y];      // rows 8y .. 8y+3
      let a1 = As[k * (BM / 4u) + 2u * lid.y + 1u]; // rows 8y+4 .. 8y+7
      let b0 = Bs[k * (BN / 4u) + 2u * lid.x];      // columns 8x .. 8x+3
      let b1 = Bs[k * (BN / 4u) + 2u * lid.x + 1u]; // columns 8x+4 .. 8x+7
      acc[0] += a0.x * b0;
      acc[1] += a0.x * b1;
      acc[2] += a0.y * b0;
      acc[3] += a0.y * b1;
      acc[4] += a0.z * b0;
      acc[5] += a0.z * b1;
      acc[6] += a0.w * b0;
      acc[7] += a0.w * b1;
      acc[8] += a1.x * b0;
      acc[9] += a1.x * b1;
      acc[10] += a1.y * b0;
      acc[11] += a1.y * b1;
      acc[12] += a1.z * b0;
      acc[13] += a1.z * b1;
      acc[14] += a1.w * b0;
      acc[15] += a1.w * b1;
    }
    workgroupBarrier();
  }

  for (var i = 0u; i < 8u; i++) {
    let m = mBase + 8u * lid.y + i;
    if (m >= p.M) {
      break;
    }
    for (var j = 0u; j < 8u; j++) {
      let n = nBase + 8u * lid.x + j;
      if (n < p.N) {
        var s = acc[2u * i + j / 4u][j % 4u];
        if (p.has_bias != 0u) {
          s += bias[p.n0 + n];
        }
        out[m * p.ldo + p.n0 + n] = s;
      }
    }
  }
}
