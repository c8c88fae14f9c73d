/**
 * The cross-encoder fixtures that read their pair by the tokenizer's template (make_cross_encoder.py,
 * make_cross_encoder_heads.py, make_deberta.py); ce-qwen3-tiny (make_qwen3_reranker.py) reads its own prompt.
 * No Node imports: the GPU tests run in the browser too.
 */
export const PAIR_CROSS_ENCODERS = [
  'ce-bert-tiny',
  'ce-xlmr-tiny',
  'ce-gte-tiny',
  'ce-modernbert-tiny',
  'ce-distilbert-tiny',
  'ce-jina-flash-tiny',
  'ce-jinabert-tiny',
  'ce-deberta-tiny',
  'ce-electra-tiny',
] as const;
