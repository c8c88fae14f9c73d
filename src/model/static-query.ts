import type { TextTokenizer } from '../tokenizer/tokenizer.js';
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

/**
 * A query as SparseStaticEmbedding reads it: its token ids without special tokens, the first
 * `maxTokens` of them, weighed by `table` (staticQueryVector); `tokens` 0 where the tokenizer reads
 * no character of it.
 */
export function weighQuery(
  tokenizer: TextTokenizer,
  text: string,
  maxTokens: number,
  table: Float32Array,
): { vector: SparseVector; tokens: number; truncated: boolean } {
  const { ids, truncated } = tokenizer.encodePlain(text, maxTokens);
  return { vector: staticQueryVector(ids, table), tokens: ids.length, truncated };
}
