import type { CpuHead } from './cpu-ops.js';

/** One prompt's projected vectors: its documents', in prompt order, and its query's. */
export interface ListwiseBlockVectors {
  documents: Float32Array[];
  query: Float32Array;
}

/**
 * One prompt's vectors from its states ([length, hidden] after the final norm): the rows at its
 * document tokens and its query token through the projector.
 */
export function listwiseVectors(
  states: Float32Array,
  hidden: number,
  marks: { documentAt: readonly number[]; queryAt: number },
  project: CpuHead,
): ListwiseBlockVectors {
  const at = [...marks.documentAt, marks.queryAt];
  const rows = new Float32Array(at.length * hidden);
  for (const [r, t] of at.entries()) rows.set(states.subarray(t * hidden, (t + 1) * hidden), r * hidden);
  const projected = project(rows, at.length);
  const dim = projected.length / at.length;
  const row = (r: number) => projected.subarray(r * dim, (r + 1) * dim);
  return { documents: marks.documentAt.map((_, r) => row(r)), query: row(at.length - 1) };
}

/**
 * A listwise reranker's scores (jina-reranker-v3's rerank), one per document in block order: each
 * block's query vector weighs max((1 + cos(document, query)) / 2) over its documents, the weighted
 * mean of those vectors is the query, and each document scores its cosine with it, in [-1, 1]. With
 * one block that is the cosine with the block's own query vector.
 */
export function listwiseScores(blocks: readonly ListwiseBlockVectors[]): number[] {
  const first = blocks[0];
  if (!first) return [];
  const merged = new Float64Array(first.query.length);
  let total = 0;
  for (const { documents, query } of blocks) {
    const weight = Math.max(...documents.map((d) => (1 + cosine(d, query)) / 2));
    total += weight;
    for (let i = 0; i < merged.length; i++) merged[i] = (merged[i] as number) + weight * (query[i] as number);
  }
  for (let i = 0; i < merged.length; i++) merged[i] = (merged[i] as number) / total;
  return blocks.flatMap(({ documents }) => documents.map((d) => cosine(d, merged)));
}

/** torch's cosine_similarity: the dot product over the product of the norms, each at least 1e-8. */
function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    dot += x * y;
    aa += x * x;
    bb += y * y;
  }
  return dot / (Math.max(Math.sqrt(aa), 1e-8) * Math.max(Math.sqrt(bb), 1e-8));
}
