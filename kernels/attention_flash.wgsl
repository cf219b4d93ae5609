// attention_flash.wgsl — causal multi-head attention, forward, fused (flash-attention style). Rung 2
// of the attention ladder: scores, softmax and the weighted sum in one pass over key tiles with an
// online softmax, so no T × T matrix ever reaches global memory. For prefill (keys = this chunk).
// Reference: src/cpu/attention.ts (attentionForward); kernels/attention_unfused.wgsl; Dao et al. 2022,
// "FlashAttention", Algorithm 1 (here one query row per thread, the running max updated per key).
//
// Math:     q, k, v = qkv[b, t, 0:C], qkv[b, t, C:2C], qkv[b, t, 2C:3C], each viewed (NH, hs)
//           out[b, t, h·hs:(h+1)·hs] = Σ_{s ≤ t} softmax_s((q_t · k_s) · scale) · v_s
// Online softmax, per query row, keys in order: running max m, running sum l, running acc (hs):
//           x = score(s);  if x > m { c = exp(m − x); l ·= c; acc ·= c; m = x }
//           e = exp(x − m); l += e; acc += e · v_s;      finally out = acc / l
// Padding:  a key with mask[b, s] = 0 gets the finite score MASKED = -1e30 instead of its own. Against
//           any real key its weight is exp(-1e30 − m) = 0; if every visible key is masked they tie
//           and the row averages them, the CPU's (and HF's finite mask value's) rule. m starts at
//           NEG_INIT = -1e38, below MASKED, and stays finite so no inf reaches exp.
// Shapes:   out (B, T, C); qkv (B, T, 3C); mask (B, mask_stride) of 1/0 or a dummy. Read as vec4:
//           the host picks this rung only when C and hs are multiples of 4 and hs ≤ 4·MAX_HS4.
// Dispatch: workgroups (ceil(T / BQ), B·NH). Thread i of workgroup (x, bh) owns query t = x·BQ + i.
//           The workgroup walks key tiles [k0, k0 + BK) up to its last query, staging each tile's
//           k, v (and mask bits) in workgroup memory for all BQ queries to share.
// Memory:   BK · (32·HS4 + 4) bytes of workgroup storage (16.1 KiB for BK = 32, hs = 64; the host
//           picks the largest BK ≤ 64 that fits the device limit).
// Bindings: all storage read_write (one GPUBuffer holds many activations; see matmul_naive.wgsl).

override BQ: u32 = 32;  // queries (threads) per workgroup
override BK: u32 = 32;  // keys per tile
override HS4: u32 = 16; // hs / 4 (set at pipeline creation; loops over it unroll)

const MAX_HS4 = 16u; // private q and acc hold up to hs = 64 (every GPT-2 size)
const MASKED = -1e30;
const NEG_INIT = -1e38;

struct Params {
  B: u32,
  T: u32,
  C4: u32, // C / 4
  NH: u32,
  mask_stride: u32,
  has_mask: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<vec4<f32>>; // (B, T, C/4)
@group(0) @binding(2) var<storage, read_write> qkv: array<vec4<f32>>; // (B, T, 3C/4)
@group(0) @binding(3) var<storage, read_write> mask: array<i32>;      // (B, mask_stride)

var<workgroup> Ks: array<vec4<f32>, BK * HS4>; // Ks[j·HS4 + d] = k_{k0+j}[4d .. 4d+3]
var<workgroup> Vs: array<vec4<f32>, BK * HS4>; // Vs[j·HS4 + d] = v_{k0+j}[4d .. 4d+3]
var<workgroup> Ms: array<u32, BK>;             // 1 where key k0 + j is padding

@compute @workgroup_size(BQ)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let bh = wid.y;
  let b = bh / p.NH;
  let h = bh % p.NH;
  let row3 = 3u * p.C4;         // vec4s per token in qkv
  let head = h * HS4;           // this head's first vec4 within q (and within k, v)
  let tBase = wid.x * BQ;
  let tLast = min(tBase + BQ, p.T) - 1u;
  let t = tBase + li;
  let live = t < p.T;

  var q: array<vec4<f32>, MAX_HS4>;
  var acc: array<vec4<f32>, MAX_HS4>;
  if (live) {
    for (var d = 0u; d < HS4; d++) {
      q[d] = qkv[(b * p.T + t) * row3 + head + d] * p.scale; // fold the scale into q once
    }
  }
  var m = NEG_INIT;
  var l = 0.0;

  for (var k0 = 0u; k0 <= tLast; k0 += BK) {
    // stage keys k0 .. k0 + BK − 1 (those < T) for the whole workgroup
    for (var e = li; e < BK * HS4; e += BQ) {
      let s = k0 + e / HS4;
      if (s < p.T) {
        let base = (b * p.T + s) * row3 + head + e % HS4;
        Ks[e] = qkv[base + p.C4];
        Vs[e] = qkv[base + 2u * p.C4];
      }
    }
    for (var j = li; j < BK; j += BQ) {
      let s = k0 + j;
      Ms[j] = select(0u, 1u, p.has_mask != 0u && s < p.T && mask[b * p.mask_stride + s] == 0);
    }
    workgroupBarrier();
    if (live) {
      let jEnd = min(BK, t + 1u - min(k0, t + 1u)); // keys k0 + j ≤ t of this tile
      for (var j = 0u; j < jEnd; j++) {
        var x = MASKED;
        if (Ms[j] == 0u) {
          var d4 = vec4<f32>(0.0);
          for (var d = 0u; d < HS4; d++) {
            d4 += q[d] * Ks[j * HS4 + d];
          }
          x = d4.x + d4.y + d4.z + d4.w;
        }
        if (x > m) {
          let c = exp(m - x);
          l *= c;
          for (var d = 0u; d < HS4; d++) {
            acc[d] *= c;
          }
          m = x;
        }
        let e = exp(x - m);
        l += e;
        for (var d = 0u; d < HS4; d++) {
          acc[d] += e * Vs[j * HS4 + d];
        }
      }
    }
    workgroupBarrier();
  }

  if (live) {
    let inv = 1.0 / l;
    for (var d = 0u; d < HS4; d++) {
      out[(b * p.T + t) * p.C4 + head + d] = acc[d] * inv;
    }
  }
}
