import type { SparseVector } from './sparse.js';

/**
 * Inference-free SPLADE's query vector, as SparseStaticEmbedding makes it: each token id the
 * query holds counts once, at its weight in the table; ids that weigh 0 are left out.
 */
export function staticQueryVector(ids: readonly number[], weights: Float32Array): SparseVector {
  const indices = Uint32Array.from(new Set(ids))
    .sort()
    .filter((id) => weights[id] !== 0);
  return { indices, values: Float32Array.from(indices, (id) => weights[id] as number) };
}
