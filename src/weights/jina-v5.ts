import { UnsupportedError } from '../errors.js';

/**
 * jina-embeddings-v5-text (model_type jina_embeddings_v5, JinaEmbeddingsV5Model): -small is
 * Qwen3-0.6B-Base, causal, as Qwen3Model runs it (its config subclasses Qwen3Config unchanged);
 * -nano is EuroBERT-210m. Both pool the last token, take "Query: " / "Document: " before the
 * text, were trained for widths 32 to their hidden size, and keep four task adapters beside the
 * base weights (adapters/{task}/, PEFT LoRA), of which m3web merges the retrieval one
 * (lora-merge.ts); each task also has a repository of its own with its adapter merged already.
 */
export const JINA_V5_TYPE = 'jina_embeddings_v5';
export const JINA_V5_ADAPTER = 'adapters/retrieval';
export const JINA_V5_PREFIXES = { query: 'Query: ', passage: 'Document: ' } as const;
export const JINA_V5_WIDTHS: readonly number[] = [32, 64, 128, 256, 512, 768, 1024];

/** Jina's repositories of these models, the task ones and the GGUF ones among them. */
export const JINA_V5_REPO = /(^|\/)jina-embeddings-v5-text-(nano|small)([-_]|$)/i;

export const isJinaV5 = (config: unknown): boolean =>
  typeof config === 'object' && config !== null && (config as Record<string, unknown>).model_type === JINA_V5_TYPE;

/**
 * Which backbone a jina_embeddings_v5 config is over, told by fields only its base config class
 * writes (EuroBertConfig: mask_token_id, classifier_pooling; Qwen3Config: use_sliding_window,
 * max_window_layers). A guess either way would run one model's weights as the other's.
 */
export function jinaV5Base(cfg: Record<string, unknown>): 'qwen3' | 'eurobert' {
  const has = (keys: string[]) => keys.some((k) => Object.hasOwn(cfg, k));
  const euro = has(['mask_token_id', 'classifier_pooling', 'clf_pooling']);
  const qwen = has(['use_sliding_window', 'max_window_layers']);
  if (euro !== qwen) return euro ? 'eurobert' : 'qwen3';
  throw new UnsupportedError(
    'this jina_embeddings_v5 config does not say whether its backbone is Qwen3 (text-small: use_sliding_window, ' +
      'max_window_layers) or EuroBERT (text-nano: mask_token_id, classifier_pooling)',
  );
}
