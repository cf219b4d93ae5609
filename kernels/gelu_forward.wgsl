// gelu_forward.wgsl — gelu_new, the tanh approximation of GELU that GPT-2 uses, forward.
// Reference: src/cpu/gelu.ts; HF NewGELUActivation; torch gelu(x, approximate="tanh").
//
// Math:     out = 0.5 · x · (1 + tanh(sqrt(2/π) · (x + 0.044715 · x³)))
//           The tanh argument is clamped to ±10, where tanh is ±1 to float32 precision: some
//           implementations build tanh from exp and overflow to NaN for large arguments.
// Shapes:   out (n), inp (n). In place (out = inp) works: the host stages an output that overlaps
//           an input, since WebGPU forbids overlapping writable bindings (src/webgpu/runtime.ts).
// Dispatch: one thread per element, WG per workgroup; workgroups (gx, gy) flattened.
// Bindings: all storage read_write (one GPUBuffer holds many activations; see matmul_naive.wgsl).

override WG: u32 = 256;

const GELU_SCALE = 0.7978845608028654; // sqrt(2/π)

struct Params {
  n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>; // (n)
@group(0) @binding(2) var<storage, read_write> inp: array<f32>; // (n)

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) li: u32) {
  let i = (wid.y * nwg.x + wid.x) * WG + li;
  if (i >= p.n) {
    return;
  }
  let x = inp[i];
  let u = clamp(GELU_SCALE * (x + 0.044715 * x * x * x), -10.0, 10.0);
  out[i] = 0.5 * x * (1.0 + tanh(u));
}
