// kvcache_write.wgsl — store the keys and values of T new tokens in the KV cache.
// Reference: src/cpu/attention.ts (kvCacheWrite).
//
// Math:     for c = h·hs + i:  kc[b, h, pos0 + t, i] = qkv[b, t, C + c]
//                              vc[b, h, pos0 + t, i] = qkv[b, t, 2C + c]
// Shapes:   qkv (B, T, 3C); kc, vc (B, NH, cap, hs) (one head's keys contiguous for the decode kernel)
// Dispatch: one thread per (b, t, c), WG per workgroup; workgroups (gx, gy) flattened.
// Bindings: all storage read_write (one GPUBuffer holds many activations; see matmul_naive.wgsl).

override WG: u32 = 256;

struct Params {
  B: u32,
  T: u32,
  C: u32,
  NH: u32,
  pos0: u32,
  cap: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> kc: array<f32>;  // (B, NH, cap, hs)
@group(0) @binding(2) var<storage, read_write> vc: array<f32>;  // (B, NH, cap, hs)
@group(0) @binding(3) var<storage, read_write> qkv: array<f32>; // (B, T, 3C)

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let e = (wid.y * nwg.x + wid.x) * WG + li; // (b·T + t)·C + c
  if (e >= p.B * p.T * p.C) {
    return;
  }
  let c = e % p.C;
  let bt = e / p.C;
  let t = bt % p.T;
  let b = bt / p.T;
  let hs = p.C / p.NH;
  let h = c / hs;
  let i = c % hs;
  let dst = ((b * p.NH + h) * p.cap + p.pos0 + t) * hs + i;
  let src = bt * 3u * p.C + c;
  kc[dst] = qkv[src + p.C];
  vc[dst] = qkv[src + 2u * p.C];
}
