// attention_unfused.wgsl — causal multi-head attention, forward. Rung 1 of the attention ladder: the
// reference, in three passes through a (B, NH, T, T) probability matrix in global memory, which is also
// the `att` buffer the backward pass reads. Reference: src/cpu/attention.ts (attentionForward);
// HF GPT2Attention._attn (eager).
//
// Math:     q, k, v = qkv[b, t, 0:C], qkv[b, t, C:2C], qkv[b, t, 2C:3C], each viewed (NH, hs)
//           score[t, s] = (q_t · k_s) · scale                  s ≤ t (causal; 0 stored above the diagonal)
//           att[t, :] = softmax over the unmasked s ≤ t        (mask[b, s] = 0 removes key s; a query
//                       whose every visible key is masked gets 1/(t+1) on each, as the CPU and HF do)
//           out[b, t, h·hs + i] = Σ_{s ≤ t} att[t, s] · v_s[i]
// Shapes:   out (B, T, C); att (B, NH, T, T); qkv (B, T, 3C); mask (B, mask_stride) of 1/0 or a dummy.
// Dispatch: scores   workgroups (ceil(T / WG_X), ceil(T / WG_Y), B·NH), thread (s, t)
//           softmax  1-D over the B·NH·T rows, one thread per row; workgroups (gx, gy) flattened
//           values   workgroups (ceil(hs / WG_X), ceil(T / WG_Y), B·NH), thread (i, t)
// Bindings: all storage read_write (one GPUBuffer holds many activations; see matmul_naive.wgsl).

override WG_X: u32 = 16;
override WG_Y: u32 = 16;

struct Params {
  B: u32,
  T: u32,
  C: u32,
  NH: u32,
  hs: u32,
  mask_stride: u32,
  has_mask: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;  // (B, T, C)
@group(0) @binding(2) var<storage, read_write> att: array<f32>;  // (B, NH, T, T)
@group(0) @binding(3) var<storage, read_write> qkv: array<f32>;  // (B, T, 3C)
@group(0) @binding(4) var<storage, read_write> mask: array<i32>; // (B, mask_stride)

@compute @workgroup_size(WG_X, WG_Y)
fn scores(@builtin(global_invocation_id) gid: vec3u) {
  let s = gid.x;
  let t = gid.y;
  let b = gid.z / p.NH;
  let h = gid.z % p.NH;
  if (s >= p.T || t >= p.T) {
    return;
  }
  var d = 0.0;
  if (s <= t) {
    let q = (b * p.T + t) * 3u * p.C + h * p.hs;
    let k = (b * p.T + s) * 3u * p.C + p.C + h * p.hs;
    for (var i = 0u; i < p.hs; i++) {
      d += qkv[q + i] * qkv[k + i];
    }
    d *= p.scale;
  }
  att[(gid.z * p.T + t) * p.T + s] = d;
}

@compute @workgroup_size(WG_X * WG_Y)
fn softmax(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) li: u32) {
  let row = (wid.y * nwg.x + wid.x) * WG_X * WG_Y + li; // (b·NH + h)·T + t
  if (row >= p.B * p.NH * p.T) {
    return;
  }
  let t = row % p.T;
  let b = row / (p.NH * p.T);
  let a = row * p.T;
  let n = t + 1u;
  // max over the unmasked keys 0..t
  var mx = 0.0;
  var any = false;
  for (var s = 0u; s < n; s++) {
    let keep = p.has_mask == 0u || mask[b * p.mask_stride + s] != 0;
    if (keep && (!any || att[a + s] > mx)) {
      mx = att[a + s];
      any = true;
    }
  }
  if (!any) {
    for (var s = 0u; s < n; s++) {
      att[a + s] = 1.0 / f32(n);
    }
    return;
  }
  var sum = 0.0;
  for (var s = 0u; s < n; s++) {
    let keep = p.has_mask == 0u || mask[b * p.mask_stride + s] != 0;
    var e = 0.0;
    if (keep) {
      e = exp(att[a + s] - mx);
    }
    att[a + s] = e;
    sum += e;
  }
  let inv = 1.0 / sum;
  for (var s = 0u; s < n; s++) {
    att[a + s] *= inv;
  }
}

@compute @workgroup_size(WG_X, WG_Y)
fn values(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  let t = gid.y;
  let b = gid.z / p.NH;
  let h = gid.z % p.NH;
  if (i >= p.hs || t >= p.T) {
    return;
  }
  let a = (gid.z * p.T + t) * p.T;
  var o = 0.0;
  for (var s = 0u; s <= t; s++) {
    o += att[a + s] * qkv[(b * p.T + s) * 3u * p.C + 2u * p.C + h * p.hs + i];
  }
  out[(b * p.T + t) * p.C + h * p.hs + i] = o;
}
