// residual_forward.wgsl — residual connection, forward.
// Reference: src/cpu/residual.ts; HF GPT2Block `hidden_states = residual + attn_output`.
//
// Math:     out = a + b, elementwise
// Shapes:   out, a, b (n)
// Dispatch: one thread per element, WG per workgroup; workgroups (gx, gy) flattened.
// Bindings: all storage read_write (one GPUBuffer holds many activations; see matmul_naive.wgsl).

override WG: u32 = 256;

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>; // (n)
@group(0) @binding(2) var<storage, read_write> a: array<f32>;   // (n)
@group(0) @binding(3) var<storage, read_write> b: array<f32>;   // (n)

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + li;
  if (i < p.n) {
    out[i] = a[i] + b[i];
  }
}
