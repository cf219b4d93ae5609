// Cross-entropy of next-token logits against targets, with ignore_index (host side, float64).
// Reference: torch.nn.CrossEntropyLoss(ignore_index=-100), reduction 'mean' over counted targets.
//   loss = mean over t with target ≠ ignore of ( logsumexp(logits[t,:]) − logits[t, target] )
// The targets are already shifted (targets[t] is the token after input t).

/** logits (N, V), targets (N); returns NaN when every target is ignored (as PyTorch does). */
export function crossEntropyLoss(logits: Float32Array, targets: ArrayLike<number>, V: number, ignoreIndex = -100): number {
  const N = targets.length;
  if (logits.length !== N * V) throw new RangeError(`logits hold ${logits.length} values, expected ${N}×${V}`);
  let sum = 0, count = 0;
  for (let i = 0; i < N; i++) {
    const y = targets[i];
    if (y === ignoreIndex) continue;
    if (!Number.isInteger(y) || y < 0 || y >= V) throw new RangeError(`target ${y} at position ${i} is outside the vocabulary (0..${V - 1}) and not ${ignoreIndex}`);
    const row = logits.subarray(i * V, (i + 1) * V);
    let max = -Infinity;
    for (let j = 0; j < V; j++) if (row[j] > max) max = row[j];
    let z = 0;
    for (let j = 0; j < V; j++) z += Math.exp(row[j] - max);
    sum += max + Math.log(z) - row[y];
    count++;
  }
  return sum / count;
}
