import type { ListwiseSpec } from './encoder-config.js';

/**
 * jina-reranker-v3 (its modeling.py, JinaForRanking): a Qwen3ForCausalLM whose LM head is replaced
 * by a projector Linear(H, H / 2), ReLU, Linear(H / 2, 512), both without biases, read at its two
 * added tokens. Known by the architecture its config.json names, so no name is needed.
 */
export function listwiseSpec(cfg: Record<string, unknown>): ListwiseSpec | null {
  const named = Array.isArray(cfg.architectures) && cfg.architectures.includes('JinaForRanking');
  if (!named) return null;
  return {
    prompt: 'jina-reranker-v3',
    dim: 512,
    projection: ['relu', 'identity'],
    documentToken: '<|embed_token|>',
    queryToken: '<|rerank_token|>',
  };
}
