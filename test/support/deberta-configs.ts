/**
 * DeBERTa-v3 config.json files as their repositories publish them (fields as transformers writes
 * them; from the public files the project's sources show, not fetched here).
 */
/** microsoft/mdeberta-v3-base: pos_att_type as the original "p2c|c2p" string, max_relative_positions -1. */
export const MDEBERTA_V3_BASE = {
  model_type: 'deberta-v2',
  attention_probs_dropout_prob: 0.1,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  hidden_size: 768,
  initializer_range: 0.02,
  intermediate_size: 3072,
  max_position_embeddings: 512,
  relative_attention: true,
  position_buckets: 256,
  norm_rel_ebd: 'layer_norm',
  share_att_key: true,
  pos_att_type: 'p2c|c2p',
  layer_norm_eps: 1e-7,
  max_relative_positions: -1,
  position_biased_input: false,
  num_attention_heads: 12,
  num_hidden_layers: 12,
  type_vocab_size: 0,
  vocab_size: 251000,
};

/** mixedbread-ai/mxbai-rerank-xsmall-v1: a one-label DebertaV2ForSequenceClassification (DeBERTa-v3-xsmall). */
export const MXBAI_RERANK_XSMALL_V1 = {
  architectures: ['DebertaV2ForSequenceClassification'],
  attention_probs_dropout_prob: 0.1,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  hidden_size: 384,
  id2label: { 0: 'LABEL_0' },
  initializer_range: 0.02,
  intermediate_size: 1536,
  label2id: { LABEL_0: 0 },
  layer_norm_eps: 1e-7,
  max_position_embeddings: 512,
  max_relative_positions: -1,
  model_type: 'deberta-v2',
  norm_rel_ebd: 'layer_norm',
  num_attention_heads: 6,
  num_hidden_layers: 12,
  pad_token_id: 0,
  pooler_dropout: 0,
  pooler_hidden_act: 'gelu',
  pooler_hidden_size: 384,
  pos_att_type: ['p2c', 'c2p'],
  position_biased_input: false,
  position_buckets: 256,
  relative_attention: true,
  share_att_key: true,
  torch_dtype: 'float32',
  type_vocab_size: 0,
  vocab_size: 128100,
};
