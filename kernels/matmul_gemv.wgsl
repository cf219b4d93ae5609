// matmul_gemv.wgsl — matrix multiply with fused bias for a few rows (decode: M = B, usually 1). Rung 6
// of the matmul ladder (made for real GPUs). One row of inp has no reuse of W to tile for: the work
// is streaming W once at memory bandwidth, which takes many loads in flight on every SM. So W is
// read as vec4s, coalesced, by narrow workgroups (many of them: N = 768 gives 48 workgroups with
// 4 column quads each), every thread summing a slice of k, the slices meeting in a tree reduction.
// Reference: src/cpu/matmul.ts; kernels/matvec.wgsl (the rung this one replaces on GPUs).
//
// Math:     out[m, n0 + n] = bias[n0 + n] + Σ_k inp[m, k] · W(k, n)
// Shapes:   out (M, ldo), columns [n0, n0 + N) written; inp (M, K); bias (≥ n0 + N) or a dummy.
//           inp and w are bound as vec4 arrays (bindings rounded up to 16 bytes). ALIGNED: whole
//           vec4 loads (gemv_w: N % 4 = 0; gemv_wt: K % 4 = 0); otherwise floats are gathered.
//
// gemv_w   W(k, n) = w[k·N + n], w (K, N) (Conv1D layout).
//   Workgroup (WG_Q, WG_K): thread (x, y) owns the column quad q = wid.x·WG_Q + x (columns 4q..4q+3)
//   and the k ≡ y (mod WG_K): acc += inp[m, k] · w[k, 4q..4q+3]. A warp reads 32/WG_Q rows of w,
//   16·WG_Q contiguous bytes each. The WG_K partial vec4s meet in a tree over y.
//   Dispatch: workgroups (ceil(N / (4·WG_Q)), M).
// gemv_wt  W(k, n) = w[n·K + k], w (N, K) (the tied lm-head: rows of wte).
//   Workgroup (WG_K, WG_N): thread (x, y) owns row n = wid.x·WG_N + y of w and the k quads
//   ≡ x (mod WG_K): acc += inp[m, 4j..4j+3] · w[n, 4j..4j+3]; a warp reads 16·WG_K contiguous
//   bytes of one row. The WG_K partial sums meet in a tree over x.
//   Dispatch: workgroups (ceil(N / WG_N), M).
// Memory:   4 · WG_Q · WG_K (gemv_w) or WG_N · WG_K (gemv_wt) floats of workgroup storage.
// Bindings: all storage read_write (one GPUBuffer holds many activations; see matmul_naive.wgsl).

override WG_Q: u32 = 4;  // gemv_w: column quads per workgroup
override WG_N: u32 = 8;  // gemv_wt: rows of w per workgroup
override WG_K: u32 = 64; // k lanes (a power of two)
override ALIGNED: bool = true;

struct Params {
  M: u32,
  K: u32,
  N: u32,
  ldo: u32,
  n0: u32,
  has_bias: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;        // (M, ldo)
@group(0) @binding(2) var<storage, read_write> inp: array<vec4<f32>>;  // (M, K)
@group(0) @binding(3) var<storage, read_write> w: array<vec4<f32>>;    // (K, N) or (N, K)
@group(0) @binding(4) var<storage, read_write> bias: array<f32>;       // (n0 + N)

var<workgroup> part4: array<vec4<f32>, WG_Q * WG_K>; // gemv_w: part4[y·WG_Q + x]
var<workgroup> part: array<f32, WG_N * WG_K>;        // gemv_wt: part[y·WG_K + x]

// float i of a vec4-bound array
fn inpAt(i: u32) -> f32 {
  return inp[i >> 2u][i & 3u];
}
fn wAt(i: u32) -> f32 {
  return w[i >> 2u][i & 3u];
}

fn store(m: u32, n: u32, s: f32) {
  var v = s;
  if (p.has_bias != 0u) {
    v += bias[p.n0 + n];
  }
  out[m * p.ldo + p.n0 + n] = v;
}

@compute @workgroup_size(WG_Q, WG_K)
fn gemv_w(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let m = wid.y;
  let n = 4u * (wid.x * WG_Q + lid.x); // first of this thread's 4 columns
  var acc = vec4<f32>(0.0);
  if (n < p.N) {
    for (var k = lid.y; k < p.K; k += WG_K) {
      let x = inpAt(m * p.K + k);
      var wv: vec4<f32>;
      if (ALIGNED) {
        wv = w[(k * p.N + n) / 4u];
      } else {
        for (var j = 0u; j < 4u; j++) {
          if (n + j < p.N) {
            wv[j] = wAt(k * p.N + n + j);
          }
        }
      }
      acc = fma(vec4<f32>(x), wv, acc);
    }
  }
  part4[lid.y * WG_Q + lid.x] = acc;
  for (var half = WG_K / 2u; half > 0u; half /= 2u) {
    workgroupBarrier();
    if (lid.y < half) {
      part4[lid.y * WG_Q + lid.x] += part4[(lid.y + half) * WG_Q + lid.x];
    }
  }
  if (lid.y == 0u) {
    let s = part4[lid.x];
    for (var j = 0u; j < 4u; j++) {
      if (n + j < p.N) {
        store(m, n + j, s[j]);
      }
    }
  }
}

@compute @workgroup_size(WG_K, WG_N)
fn gemv_wt(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let m = wid.y;
  let n = wid.x * WG_N + lid.y;
  var acc = vec4<f32>(0.0);
  if (n < p.N) {
    if (ALIGNED) {
      let K4 = p.K / 4u;
      for (var j = lid.x; j < K4; j += WG_K) {
        acc = fma(inp[m * K4 + j], w[n * K4 + j], acc);
      }
    } else {
      for (var k = lid.x; k < p.K; k += WG_K) {
        acc.x = fma(inpAt(m * p.K + k), wAt(n * p.K + k), acc.x);
      }
    }
  }
  part[lid.y * WG_K + lid.x] = (acc.x + acc.y) + (acc.z + acc.w);
  for (var half = WG_K / 2u; half > 0u; half /= 2u) {
    workgroupBarrier();
    if (lid.x < half) {
      part[lid.y * WG_K + lid.x] += part[lid.y * WG_K + lid.x + half];
    }
  }
  if (lid.x == 0u && n < p.N) {
    store(m, n, part[lid.y * WG_K]);
  }
}
