// Splitting tensors that are larger than one storage binding.
//
// WebGPU binds at most maxStorageBufferBindingSize bytes of a buffer at once (128 MiB by default
// and on lavapipe; the 124M model's wte/lm-head is 50257 × 768 × 4 = 154 MB, and a 1024-token
// prefill's logits are 206 MB). Each op splits along an axis whose chunks are contiguous ranges:
//
//   row-wise ops (LayerNorm, softmax, argmax, elementwise): chunks of whole rows;
//   matmul: chunks of rows of inp/out (M), and for a transposed w (N, K) chunks of rows of w, which
//           are columns [n0, n0 + nc) of out: the kernel writes them with row stride N (ldo);
//   encoder: chunks of rows of wte; each dispatch writes only the tokens whose id is in its chunk.
//
// Every chunk must start on a 256-byte boundary (minStorageBufferOffsetAlignment). A chunk of r rows
// of e floats starts at a multiple of r·e floats, so r is kept a multiple of 64 / gcd(e, 64).
// These are plain functions of the sizes, tested with an artificially small binding limit.

const ALIGN_FLOATS = 64; // 256 bytes

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** The smallest row count r > 0 with r·rowElems a multiple of 64 floats. */
export function rowAlign(rowElems: number): number {
  return ALIGN_FLOATS / gcd(rowElems, ALIGN_FLOATS);
}

/**
 * The most rows per chunk such that a chunk of every listed row width fits in maxBytes, and chunk
 * starts stay aligned for every width. Throws when not even one aligned group of rows fits.
 */
export function rowsPerChunk(rowElems: readonly number[], maxBytes: number): number {
  let align = 1;
  let widest = 1;
  for (const e of rowElems) {
    const a = rowAlign(e);
    align = (align * a) / gcd(align, a); // lcm
    widest = Math.max(widest, e);
  }
  const fit = Math.floor(maxBytes / (4 * widest));
  const rows = Math.floor(fit / align) * align;
  if (rows === 0) {
    throw new Error(`WebGPU: rows of ${widest} floats cannot be split into bindings of at most ${maxBytes} bytes`);
  }
  return rows;
}

/** [start, count] pieces covering [0, total) with count ≤ size. */
export function pieces(total: number, size: number): [number, number][] {
  const out: [number, number][] = [];
  for (let s = 0; s < total; s += size) out.push([s, Math.min(size, total - s)]);
  return out;
}

/** One dispatch of a split matmul: rows [m0, m0 + mc) of out, columns [n0, n0 + nc). */
export interface MatmulPiece {
  m0: number;
  mc: number;
  n0: number;
  nc: number;
}

/**
 * How to split out (M, N) = inp (M, K) · W for bindings of at most maxBytes.
 * inp and out split by rows; a transposed w (N, K) by rows (= output columns); a (K, N) w cannot be
 * split into contiguous pieces along n, so it must fit one binding (every GPT-2 Conv1D weight does).
 */
export function planMatmul(M: number, K: number, N: number, transW: boolean, maxBytes: number): MatmulPiece[] {
  if (!transW && K * N * 4 > maxBytes) {
    throw new Error(`WebGPU: a (${K}, ${N}) weight (${K * N * 4} bytes) exceeds one storage binding (${maxBytes} bytes)`);
  }
  if (N * 4 > maxBytes) throw new Error(`WebGPU: a bias of ${N} floats exceeds one storage binding`);
  const mRows = M * Math.max(K, N) * 4 <= maxBytes ? M : rowsPerChunk([K, N], maxBytes);
  const nRows = !transW || N * K * 4 <= maxBytes ? N : rowsPerChunk([K], maxBytes);
  const out: MatmulPiece[] = [];
  for (const [m0, mc] of pieces(M, mRows)) {
    for (const [n0, nc] of pieces(N, nRows)) out.push({ m0, mc, n0, nc });
  }
  return out;
}

/** Row chunks for a row-wise op over `rows` rows of each listed width (whole tensor if it fits). */
export function planRows(rows: number, rowElems: readonly number[], maxBytes: number): [number, number][] {
  const widest = Math.max(1, ...rowElems);
  if (rows * widest * 4 <= maxBytes) return [[0, rows]];
  return pieces(rows, rowsPerChunk(rowElems, maxBytes));
}
