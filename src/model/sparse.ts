import { InputError } from '../errors.js';
import type { SparseSpec } from '../weights/encoder-config.js';

/**
 * A text's lexical weights: the token ids it holds that weigh (ascending) and each one's weight
 * (the largest over its occurrences), as FlagEmbedding's `lexical_weights` and as sparse vector
 * stores (Qdrant, Milvus) take them. Two texts score by `sparseScore` (the dot product).
 */
export interface SparseVector {
  indices: Uint32Array;
  values: Float32Array;
}

/**
 * A text's lexical weights from its tokens' head outputs (EncoderBackend.embedWithScores), as
 * FlagEmbedding's M3 inference makes them: ReLU, the special tokens left out, zeros dropped, and
 * each token id's largest weight over its occurrences.
 */
export function lexicalWeights(scores: Float32Array, ids: ArrayLike<number>, spec: SparseSpec): SparseVector {
  const skip = new Set(spec.exclude);
  const best = new Map<number, number>();
  for (let j = 0; j < ids.length; j++) {
    const id = ids[j] as number;
    const w = scores[j] as number;
    if (w > 0 && !skip.has(id) && w > (best.get(id) ?? 0)) best.set(id, w);
  }
  const indices = Uint32Array.from(best.keys()).sort();
  return { indices, values: Float32Array.from(indices, (id) => best.get(id) as number) };
}

function checkSparse(v: unknown, name: string): asserts v is SparseVector {
  const s = v as Partial<SparseVector> | null;
  if (
    typeof s !== 'object' ||
    s === null ||
    !(s.indices instanceof Uint32Array) ||
    !(s.values instanceof Float32Array) ||
    s.indices.length !== s.values.length
  ) {
    throw new InputError(`sparseScore: ${name} must be { indices: Uint32Array, values: Float32Array } of one length`);
  }
  for (let i = 1; i < s.indices.length; i++) {
    if ((s.indices[i] as number) <= (s.indices[i - 1] as number))
      throw new InputError(`sparseScore: ${name}.indices must be strictly ascending (as embedSparse gives them)`);
  }
}

/**
 * The lexical matching score of two texts' lexical weights: the sum over the token ids both hold
 * of the product of their weights (FlagEmbedding's compute_lexical_matching_score).
 */
export function sparseScore(a: SparseVector, b: SparseVector): number {
  checkSparse(a, 'a');
  checkSparse(b, 'b');
  let score = 0;
  let j = 0;
  for (let i = 0; i < a.indices.length && j < b.indices.length; i++) {
    const id = a.indices[i] as number;
    while (j < b.indices.length && (b.indices[j] as number) < id) j++;
    if (b.indices[j] === id) score += (a.values[i] as number) * (b.values[j] as number);
  }
  return score;
}
