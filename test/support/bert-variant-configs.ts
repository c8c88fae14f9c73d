/**
 * config.json shapes of the BERT variants under other names that m3web opens (MPNet, DistilBERT),
 * as remembered from the sentence-transformers repositories; no hub is reachable here to check
 * them byte for byte. Unit tests read them; the weights in the tests are random at shrunk sizes
 * (test/oracle/make_mpnet.py, make_distilbert.py).
 */
export const ALL_MPNET_BASE_V2 = {
  _name_or_path: 'microsoft/mpnet-base',
  architectures: ['MPNetForMaskedLM'],
  attention_probs_dropout_prob: 0.1,
  bos_token_id: 0,
  eos_token_id: 2,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  hidden_size: 768,
  initializer_range: 0.02,
  intermediate_size: 3072,
  layer_norm_eps: 1e-5,
  max_position_embeddings: 514,
  model_type: 'mpnet',
  num_attention_heads: 12,
  num_hidden_layers: 12,
  pad_token_id: 1,
  relative_attention_num_buckets: 32,
  transformers_version: '4.8.2',
  vocab_size: 30527,
};

/** sentence-transformers/multi-qa-distilbert-cos-v1 (msmarco-distilbert-base-v4 has the same shape). */
export const MULTI_QA_DISTILBERT_COS_V1 = {
  _name_or_path: 'distilbert-base-uncased',
  activation: 'gelu',
  architectures: ['DistilBertModel'],
  attention_dropout: 0.1,
  dim: 768,
  dropout: 0.1,
  hidden_dim: 3072,
  initializer_range: 0.02,
  max_position_embeddings: 512,
  model_type: 'distilbert',
  n_heads: 12,
  n_layers: 6,
  pad_token_id: 0,
  qa_dropout: 0.1,
  seq_classif_dropout: 0.2,
  sinusoidal_pos_embds: false,
  tie_weights_: true,
  transformers_version: '4.6.1',
  vocab_size: 30522,
};
