// attention_decode.wgsl — causal multi-head attention of new queries over the KV cache (incremental
// decoding: usually one query per row). Rung 3 of the attention ladder. The cache stays on the GPU
// between steps; keys are processed WG at a time with an online softmax, so any cache length works.
// Reference: src/cpu/attention.ts (attentionCached).
//
// Math:     query t of this chunk sits at position pos0 + t and sees cache positions s < n = pos0 + t + 1
//           q = qkv[b, t, h·hs:(h+1)·hs];  x_s = (q · kcache[b, h, s]) · scale, or MASKED if mask[b, s] = 0
//           out[b, t, h·hs:(h+1)·hs] = Σ_s softmax_s(x) · vcache[b, h, s]
//           MASKED = -1e30 is finite: if every visible key is masked they tie and the row averages them
//           (the CPU's and HF's rule); otherwise their weights are exp(-1e30 − m) = 0.
// Chunk step (keys s = c0 .. c0 + WG − 1, all threads of the workgroup together):
//           thread i scores key c0 + i into sc[i];  cm = max_i sc[i];  m' = max(m, cm)
//           sc[i] = exp(sc[i] − m');  l = l·exp(m − m') + Σ_i sc[i]
//           thread i, for its dims d = i, i + WG, ..: acc_d = acc_d·exp(m − m') + Σ_j sc[j]·v[c0 + j, d]
// Shapes:   out (B, T, C); qkv (B, T, 3C); kc, vc (B, NH, cap, hs); mask (B, mask_stride) or a dummy.
// Dispatch: workgroups (T, B·NH), WG threads each (a power of two, WG·4 ≥ hs).
// Memory:   (2·WG + HS) floats of workgroup storage.
// Bindings: all storage read_write (one GPUBuffer holds many activations; see matmul_naive.wgsl).

override WG: u32 = 64;
override HS: u32 = 64; // head size (set at pipeline creation)

const MASKED = -1e30;
const NEG_INIT = -1e38;

struct Params {
  B: u32,
  T: u32,
  C: u32,
  NH: u32,
  pos0: u32,
  cap: u32,
  mask_stride: u32,
  has_mask: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;  // (B, T, C)
@group(0) @binding(2) var<storage, read_write> qkv: array<f32>;  // (B, T, 3C)
@group(0) @binding(3) var<storage, read_write> kc: array<f32>;   // (B, NH, cap, hs)
@group(0) @binding(4) var<storage, read_write> vc: array<f32>;   // (B, NH, cap, hs)
@group(0) @binding(5) var<storage, read_write> mask: array<i32>; // (B, mask_stride)

var<workgroup> qs: array<f32, HS>; // the query, pre-scaled
var<workgroup> sc: array<f32, WG>; // this chunk's scores, then their exp weights
var<workgroup> red: array<f32, WG>;

// Tree reduction of red[0 .. WG) (max when is_max, else sum); every thread gets the result.
fn reduce(i: u32, is_max: bool) -> f32 {
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
  workgroupBarrier(); // red is reused by the next reduction
  return r;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) i: u32) {
  let t = wid.x;
  let bh = wid.y;
  let b = bh / p.NH;
  let h = bh % p.NH;
  let n = p.pos0 + t + 1u;            // visible cache positions
  let cbase = bh * p.cap * HS;        // (b, h) in the cache
  for (var d = i; d < HS; d += WG) {
    qs[d] = qkv[(b * p.T + t) * 3u * p.C + h * HS + d] * p.scale;
  }
  var m = NEG_INIT;
  var l = 0.0;
  var acc: array<f32, 4>;             // dims i, i + WG, i + 2·WG, i + 3·WG

  for (var c0 = 0u; c0 < n; c0 += WG) {
    workgroupBarrier(); // qs written / previous chunk's sc consumed
    let s = c0 + i;
    var x = NEG_INIT;   // past the end: never the max, weight forced to 0 below
    if (s < n) {
      if (p.has_mask != 0u && mask[b * p.mask_stride + s] == 0) {
        x = MASKED;
      } else {
        var dot = 0.0;
        for (var d = 0u; d < HS; d++) {
          dot += qs[d] * kc[cbase + s * HS + d];
        }
        x = dot;
      }
    }
    red[i] = x;
    let mNew = max(m, reduce(i, true));
    let c = exp(m - mNew);
    var e = 0.0;
    if (s < n) {
      e = exp(x - mNew);
    }
    sc[i] = e;
    red[i] = e;
    l = l * c + reduce(i, false);
    m = mNew;
    let jEnd = min(WG, n - c0);
    for (var r = 0u; r < 4u; r++) {
      let d = i + r * WG;
      if (d < HS) {
        var a = acc[r] * c;
        for (var j = 0u; j < jEnd; j++) {
          a += sc[j] * vc[cbase + (c0 + j) * HS + d];
        }
        acc[r] = a;
      }
    }
  }
  let inv = 1.0 / l;
  for (var r = 0u; r < 4u; r++) {
    let d = i + r * WG;
    if (d < HS) {
      out[(b * p.T + t) * p.C + h * HS + d] = acc[r] * inv;
    }
  }
}
