// matmul_gemm.wgsl — matrix multiply with fused bias, forward. Rung 5 of the matmul ladder (made for
// real GPUs): large register-blocked tiles, vec4 global loads, double-buffered workgroup memory with
// one barrier per k step, a bank-conflict-free thread layout, and an optional split of the k sum
// across workgroups (for outputs too small to give every SM a tile).
// Reference: src/cpu/matmul.ts; kernels/matmul_naive.wgsl (same math and Params);
// kernels/matmul_regblock.wgsl (the 64-thread rung this one replaces on GPUs).
//
// Math:     out[m, n0 + n] = bias[n0 + n] + Σ_k inp[m, k] · W(k, n)
//           W(k, n) = w[k·N + n] (w (K, N), TRANS_W = false) or w[n·K + k] (w (N, K), TRANS_W = true)
// Shapes:   out (M, ldo), columns [n0, n0 + N) written; inp (M, K); bias (≥ n0 + N) or a dummy.
//           inp and w are bound as vec4 arrays (their bindings rounded up to 16 bytes). ALIGNED
//           (K % 4 = 0, and N % 4 = 0 unless TRANS_W) loads whole vec4s; otherwise each float is
//           gathered on its own. Any M, K, N: tiles reaching past an edge are padded with zeros.
// Blocking: a workgroup of WG_X × WG_Y threads owns a BM × BN block of out, BM = TM·WG_Y,
//           BN = TN·WG_X (TM, TN ∈ {4, 8}). The host picks 16 × 16 threads of 8 × 4: 128 × 64
//           (src/webgpu/ops/matmul-config.ts); 8 × 8 per thread (the defaults below) spills its
//           64 accumulators on an H100 through Dawn/Vulkan and runs at 1-2 TFLOP/s.
//           Thread (x, y) owns the rows 4·(i·WG_Y + y) + 0..3 for i < TM/4 and the columns
//           4·(j·WG_X + x) + 0..3 for j < TN/4 of the block: per k it reads TM/4 + TN/4 vec4s from
//           workgroup memory (neighbouring x read neighbouring vec4s: no bank conflicts; a warp
//           shares its one or two y: broadcasts) and does TM·TN multiply-adds.
//           Workgroup memory, two buffers of each, k-major:
//             As[k·BM/4 + r/4][r%4] = inp[mBase + r, k0 + k]      Bs[k·BN/4 + c/4][c%4] = W(k0 + k, nBase + c)
//           Step t computes from buffer t%2 while the tile of step t+1 waits in registers (loaded
//           before the compute, stored after it into the other buffer): one barrier per step.
// Split k:  workgroup z sums k in [z·k_chunk, min(K, (z+1)·k_chunk)) (k_chunk a multiple of BK).
//           With split_stride > 0 it writes its partial sum, without bias, to out[z·split_stride +
//           m·ldo + n] (a scratch (splits, M, N)); entry `reduce` then adds the splits and the bias.
// Dispatch: main: workgroups (ceil(N / BN), ceil(M / BM), splits).
//           reduce: one thread per output, workgroups (ceil(M·N / 256)) flattened as (gx, gy).
// Memory:   2 · BK · (BM + BN) floats of workgroup storage (12 KiB at 128 × 64, BK 8; 24 KiB at BK 16).
// Bindings: all storage read_write (one GPUBuffer holds many activations; see matmul_naive.wgsl).

override WG_X: u32 = 16;
override WG_Y: u32 = 16;
override TM: u32 = 8;
override TN: u32 = 8;
override BK: u32 = 8;
override TRANS_W: bool = false;
override ALIGNED: bool = true;

struct Params {
  M: u32,
  K: u32,
  N: u32,
  ldo: u32,
  n0: u32,
  has_bias: u32,
  k_chunk: u32,      // k per split (K when not split)
  split_stride: u32, // floats between the partial sums of two splits; 0: write out (+ bias)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;        // (M, ldo), or partials (splits, M, N)
@group(0) @binding(2) var<storage, read_write> inp: array<vec4<f32>>;  // (M, K); reduce: the partials
@group(0) @binding(3) var<storage, read_write> w: array<vec4<f32>>;    // (K, N) or (N, K)
@group(0) @binding(4) var<storage, read_write> bias: array<f32>;       // (n0 + N)

var<workgroup> As: array<vec4<f32>, 2u * BK * TM * WG_Y / 4u>; // [buffer][k][BM/4]
var<workgroup> Bs: array<vec4<f32>, 2u * BK * TN * WG_X / 4u>; // [buffer][k][BN/4]

// The tile of the next step, in flight in registers: up to 4 vec4s of inp and of W per thread.
var<private> ra: array<vec4<f32>, 4>;
var<private> rb: array<vec4<f32>, 4>;

// float i of a vec4-bound array (the unaligned path)
fn inpAt(i: u32) -> f32 {
  return inp[i >> 2u][i & 3u];
}
fn wAt(i: u32) -> f32 {
  return w[i >> 2u][i & 3u];
}

// Load the BM × BK tile of inp and the BK × BN tile of W at k0 into ra, rb (zeros past M, N, kEnd).
// inp: vec4 e of the tile holds row e / (BK/4), k 4·(e % (BK/4)) .. +3 (4 threads read 64 bytes of a row).
// W (K, N): vec4 e holds k e / (BN/4), columns 4·(e % (BN/4)) .. +3 (a warp reads 512 bytes of a row).
// W (N, K): vec4 e holds column e / (BK/4), k 4·(e % (BK/4)) .. +3 (like inp).
fn loadTiles(k0: u32, kEnd: u32, mBase: u32, nBase: u32, li: u32) {
  let NT = WG_X * WG_Y;
  let BM = TM * WG_Y;
  let BN = TN * WG_X;
  let KQ = BK / 4u;
  for (var r = 0u; r < 4u; r++) {
    let e = li + r * NT;
    if (e < BM * KQ) {
      let m = mBase + e / KQ;
      let k = k0 + 4u * (e % KQ);
      var v = vec4<f32>(0.0);
      if (m < p.M) {
        if (ALIGNED) {
          if (k < kEnd) {
            v = inp[(m * p.K + k) / 4u];
          }
        } else {
          for (var j = 0u; j < 4u; j++) {
            if (k + j < kEnd) {
              v[j] = inpAt(m * p.K + k + j);
            }
          }
        }
      }
      ra[r] = v;
    }
    if (e < BN * KQ) {
      var v = vec4<f32>(0.0);
      if (TRANS_W) {
        let n = nBase + e / KQ;
        let k = k0 + 4u * (e % KQ);
        if (n < p.N) {
          if (ALIGNED) {
            if (k < kEnd) {
              v = w[(n * p.K + k) / 4u];
            }
          } else {
            for (var j = 0u; j < 4u; j++) {
              if (k + j < kEnd) {
                v[j] = wAt(n * p.K + k + j);
              }
            }
          }
        }
      } else {
        let k = k0 + e / (BN / 4u);
        let n = nBase + 4u * (e % (BN / 4u));
        if (k < kEnd) {
          if (ALIGNED) {
            if (n < p.N) {
              v = w[(k * p.N + n) / 4u];
            }
          } else {
            for (var j = 0u; j < 4u; j++) {
              if (n + j < p.N) {
                v[j] = wAt(k * p.N + n + j);
              }
            }
          }
        }
      }
      rb[r] = v;
    }
  }
}

// Store ra, rb into workgroup buffer `buf` (the layouts in the header).
fn storeTiles(buf: u32, li: u32) {
  let NT = WG_X * WG_Y;
  let BM = TM * WG_Y;
  let BN = TN * WG_X;
  let KQ = BK / 4u;
  let aBase = buf * BK * (BM / 4u);
  let bBase = buf * BK * (BN / 4u);
  for (var r = 0u; r < 4u; r++) {
    let e = li + r * NT;
    if (e < BM * KQ) {
      let row = e / KQ;
      let k = 4u * (e % KQ);
      for (var j = 0u; j < 4u; j++) {
        As[aBase + (k + j) * (BM / 4u) + row / 4u][row % 4u] = ra[r][j];
      }
    }
    if (e < BN * KQ) {
      if (TRANS_W) {
        let col = e / KQ;
        let k = 4u * (e % KQ);
        for (var j = 0u; j < 4u; j++) {
          Bs[bBase + (k + j) * (BN / 4u) + col / 4u][col % 4u] = rb[r][j];
        }
      } else {
        Bs[bBase + e] = rb[r]; // k = e / (BN/4), column quad e % (BN/4): the layout itself
      }
    }
  }
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let BM = TM * WG_Y;
  let BN = TN * WG_X;
  let mBase = wid.y * BM;
  let nBase = wid.x * BN;
  let kStart = wid.z * p.k_chunk;
  let kEnd = min(p.K, kStart + p.k_chunk);
  var steps = 0u;
  if (kEnd > kStart) {
    steps = (kEnd - kStart + BK - 1u) / BK;
  }
  // acc[i·TN/4 + j][c] = out[row 4·(i4·WG_Y + y) + i%4 (i4 = i/4), column 4·(j·WG_X + x) + c]
  var acc: array<vec4<f32>, 16>;

  if (steps > 0u) {
    loadTiles(kStart, kEnd, mBase, nBase, li);
    storeTiles(0u, li);
  }
  workgroupBarrier();
  for (var t = 0u; t < steps; t++) {
    let cur = t % 2u;
    if (t + 1u < steps) {
      loadTiles(kStart + (t + 1u) * BK, kEnd, mBase, nBase, li); // global loads in flight
    }
    let aBase = cur * BK * (BM / 4u);
    let bBase = cur * BK * (BN / 4u);
    for (var k = 0u; k < BK; k++) {
      var a: array<vec4<f32>, 2>;
      var b: array<vec4<f32>, 2>;
      for (var i4 = 0u; i4 < TM / 4u; i4++) {
        a[i4] = As[aBase + k * (BM / 4u) + i4 * WG_Y + lid.y];
      }
      for (var j = 0u; j < TN / 4u; j++) {
        b[j] = Bs[bBase + k * (BN / 4u) + j * WG_X + lid.x];
      }
      for (var i = 0u; i < TM; i++) {
        let av = vec4<f32>(a[i / 4u][i % 4u]);
        for (var j = 0u; j < TN / 4u; j++) {
          acc[i * (TN / 4u) + j] = fma(av, b[j], acc[i * (TN / 4u) + j]);
        }
      }
    }
    if (t + 1u < steps) {
      storeTiles(1u - cur, li); // buffer 1 - cur was last read in step t - 1, before its barrier
    }
    workgroupBarrier();
  }

  let split = p.split_stride != 0u;
  let base = select(p.n0, wid.z * p.split_stride, split);
  for (var i = 0u; i < TM; i++) {
    let m = mBase + 4u * ((i / 4u) * WG_Y + lid.y) + i % 4u;
    if (m < p.M) {
      for (var j = 0u; j < TN; j++) {
        let n = nBase + 4u * ((j / 4u) * WG_X + lid.x) + j % 4u;
        if (n < p.N) {
          var s = acc[i * (TN / 4u) + j / 4u][j % 4u];
          if (!split && p.has_bias != 0u) {
            s += bias[p.n0 + n];
          }
          out[base + m * p.ldo + n] = s;
        }
      }
    }
  }
}

// out[m, n0 + n] = bias[n0 + n] + Σ_z part[z·split_stride + m·N + n], part bound at `inp`;
// k_chunk holds the number of splits here.
@compute @workgroup_size(256)
fn reduce(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
          @builtin(local_invocation_index) li: u32) {
  let e = (wid.y * nwg.x + wid.x) * 256u + li;
  if (e >= p.M * p.N) {
    return;
  }
  let m = e / p.N;
  let n = e % p.N;
  var s = 0.0;
  for (var z = 0u; z < p.k_chunk; z++) {
    s += inpAt(z * p.split_stride + e);
  }
  if (p.has_bias != 0u) {
    s += bias[p.n0 + n];
  }
  out[m * p.ldo + p.n0 + n] = s;
}
