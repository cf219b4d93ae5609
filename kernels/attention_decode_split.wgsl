// attention_decode_split.wgsl — causal attention of new queries over the KV cache, split over the
// cached positions (flash-decoding). Rung 4 of the attention ladder, for real GPUs: the single-pass
// decode kernel (attention_decode.wgsl) runs one workgroup per (query, head) — 12 for GPT-2 124M at
// B = 1, a tenth of an H100 — and walks the cache serially. Here each workgroup takes WG cached
// positions of one (query, head): every thread scores one position, and a second entry point
// combines the splits' partial softmax sums.
// Reference: src/cpu/attention.ts (attentionCached); kernels/attention_decode.wgsl (same Params).
//
// Math:     query t of this chunk sits at position pos0 + t and sees cache positions s < n = pos0 + t + 1
//           q = qkv[b, t, h·hs:(h+1)·hs];  x_s = (q · kcache[b, h, s]) · scale, or MASKED if mask[b, s] = 0
//           out[b, t, h·hs:(h+1)·hs] = Σ_s softmax_s(x) · vcache[b, h, s]
//           MASKED = -1e30 is finite: if every visible key is masked they tie and the row averages them
//           (the CPU's and HF's rule); otherwise their weights are exp(-1e30 − m) = 0.
// Split j:  positions s in [j·WG, min((j+1)·WG, n)); thread i scores s = j·WG + i;
//           m_j = max_s x_s;  l_j = Σ_s exp(x_s − m_j);  a_j = Σ_s exp(x_s − m_j) · v_s   (hs floats)
//           The weighted sum of v: thread i takes column quad i % HS4 and the positions ≡ i / HS4
//           (mod G), G = WG / HS4 groups, reading v as vec4 rows; the G partials meet in workgroup memory.
//           An empty split (j·WG ≥ n, for earlier queries of a chunk) has m_j = NEG_INIT, l_j = 0.
// Combine:  M = max_j m_j;  out = Σ_j exp(m_j − M) · a_j / Σ_j exp(m_j − M) · l_j
//           With one split (splits = 1) `partial` writes a_0 / l_0 straight to out (no combine).
// Shapes:   out (B, T, C); qkv (B, T, 3C); kc, vc (B, NH, cap, hs); mask (B, mask_stride) or a dummy;
//           part ((B·NH·T)·splits, hs + 2): [m_j, l_j, a_j]. C and hs multiples of 4, HS4 = hs/4 ≤ WG.
// Dispatch: partial: workgroups (splits, T, B·NH), WG threads (a power of two);
//           combine: workgroups (T, B·NH), WG threads.
// Memory:   (2·WG + 4·HS4 + 4·WG) floats of workgroup storage.
// Bindings: all storage read_write (one GPUBuffer holds many activations; see matmul_naive.wgsl).

override WG: u32 = 64;
override HS4: u32 = 16; // head size / 4 (set at pipeline creation)

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
  splits: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;        // (B, T, C)
@group(0) @binding(2) var<storage, read_write> qkv: array<vec4<f32>>;  // (B, T, 3C)
@group(0) @binding(3) var<storage, read_write> kc: array<vec4<f32>>;   // (B, NH, cap, hs)
@group(0) @binding(4) var<storage, read_write> vc: array<vec4<f32>>;   // (B, NH, cap, hs)
@group(0) @binding(5) var<storage, read_write> mask: array<i32>;       // (B, mask_stride)
@group(0) @binding(6) var<storage, read_write> part: array<f32>;       // (B·NH·T·splits, hs + 2)

var<workgroup> qs: array<vec4<f32>, HS4>; // the query, pre-scaled
var<workgroup> sc: array<f32, WG>;        // this split's exp weights
var<workgroup> red: array<f32, WG>;
var<workgroup> acc4: array<vec4<f32>, WG>; // partial weighted sums of v, [group·HS4 + quad]

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
fn partial(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) i: u32) {
  let j = wid.x;
  let t = wid.y;
  let bh = wid.z;
  let b = bh / p.NH;
  let h = bh % p.NH;
  let n = p.pos0 + t + 1u;          // visible cache positions
  let s0 = j * WG;
  var cnt = 0u;                     // positions in this split
  if (n > s0) {
    cnt = min(WG, n - s0);
  }
  let C4 = p.C / 4u;
  let crow = bh * p.cap;            // cache row of position 0 for (b, h)
  if (i < HS4) {
    qs[i] = qkv[(b * p.T + t) * 3u * C4 + h * HS4 + i] * p.scale;
  }
  workgroupBarrier();

  var x = NEG_INIT; // past the end: never the max, weight forced to 0 below
  if (i < cnt) {
    let s = s0 + i;
    if (p.has_mask != 0u && mask[b * p.mask_stride + s] == 0) {
      x = MASKED;
    } else {
      var d4 = vec4<f32>(0.0);
      for (var q = 0u; q < HS4; q++) {
        d4 = fma(qs[q], kc[(crow + s) * HS4 + q], d4);
      }
      x = (d4.x + d4.y) + (d4.z + d4.w);
    }
  }
  red[i] = x;
  let m = reduce(i, true);
  var e = 0.0;
  if (i < cnt) {
    e = exp(x - m);
  }
  sc[i] = e;
  red[i] = e;
  let l = reduce(i, false); // its barriers also publish sc

  // weighted sum of v: thread i = (group g, quad q)
  let G = WG / HS4;
  let q = i % HS4;
  let g = i / HS4;
  var a = vec4<f32>(0.0);
  if (g < G) {
    for (var s = g; s < cnt; s += G) {
      a = fma(vec4<f32>(sc[s]), vc[(crow + s0 + s) * HS4 + q], a);
    }
  }
  acc4[i] = a;
  workgroupBarrier();
  if (i < HS4) {
    var sum = vec4<f32>(0.0);
    for (var gg = 0u; gg < G; gg++) {
      sum += acc4[gg * HS4 + i];
    }
    if (p.splits == 1u) {
      let o = (b * p.T + t) * p.C + h * HS4 * 4u + 4u * i;
      let r = sum / l;
      out[o] = r.x;
      out[o + 1u] = r.y;
      out[o + 2u] = r.z;
      out[o + 3u] = r.w;
    } else {
      let base = ((bh * p.T + t) * p.splits + j) * (HS4 * 4u + 2u);
      if (i == 0u) {
        part[base] = m;
        part[base + 1u] = l;
      }
      part[base + 2u + 4u * i] = sum.x;
      part[base + 3u + 4u * i] = sum.y;
      part[base + 4u + 4u * i] = sum.z;
      part[base + 5u + 4u * i] = sum.w;
    }
  }
}

@compute @workgroup_size(WG)
fn combine(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) i: u32) {
  let t = wid.x;
  let bh = wid.y;
  let b = bh / p.NH;
  let h = bh % p.NH;
  let hs = HS4 * 4u;
  let row = (bh * p.T + t) * p.splits; // first split of this (query, head)
  var mx = NEG_INIT;
  for (var j = 0u; j < p.splits; j++) {
    mx = max(mx, part[(row + j) * (hs + 2u)]);
  }
  var l = 0.0;
  for (var j = 0u; j < p.splits; j++) {
    l += exp(part[(row + j) * (hs + 2u)] - mx) * part[(row + j) * (hs + 2u) + 1u];
  }
  for (var d = i; d < hs; d += WG) {
    var a = 0.0;
    for (var j = 0u; j < p.splits; j++) {
      let base = (row + j) * (hs + 2u);
      a += exp(part[base] - mx) * part[base + 2u + d];
    }
    out[(b * p.T + t) * p.C + h * hs + d] = a / l;
  }
}
