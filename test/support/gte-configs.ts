/**
 * config.json shapes of the two GTE-architecture embedders m3web opens. No hub is reachable here,
 * so these are not the published files byte for byte: gte-multilingual-base's numbers are as a
 * third-party parser's test quotes them (RoPE base 20000 with fixed NTK scaling x8), the Snowflake
 * one is its sibling under model_type "gte" without scaling. Unit tests read them; weights in the
 * GTE tests are random at shrunk sizes (test/oracle/make_gte.py).
 */
export const GTE_MULTILINGUAL_BASE = {
  architectures: ['NewForTokenClassification'],
  auto_map: {
    AutoConfig: 'Alibaba-NLP/new-impl--configuration.NewConfig',
    AutoModel: 'Alibaba-NLP/new-impl--modeling.NewModel',
  },
  attention_probs_dropout_prob: 0.0,
  classifier_dropout: 0.0,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  hidden_size: 768,
  initializer_range: 0.02,
  intermediate_size: 3072,
  layer_norm_eps: 1e-12,
  layer_norm_type: 'layer_norm',
  logn_attention_clip1: false,
  logn_attention_scale: false,
  max_position_embeddings: 8192,
  model_type: 'new',
  num_attention_heads: 12,
  num_hidden_layers: 12,
  pack_qkv: true,
  pad_token_id: 1,
  position_embedding_type: 'rope',
  rope_scaling: { factor: 8.0, type: 'ntk' },
  rope_theta: 20000,
  torch_dtype: 'float32',
  type_vocab_size: 1,
  unpad_inputs: false,
  use_memory_efficient_attention: false,
  vocab_size: 250048,
};

export const ARCTIC_EMBED_M_V2 = {
  ...GTE_MULTILINGUAL_BASE,
  architectures: ['GteModel'],
  model_type: 'gte',
  rope_scaling: null,
  rope_theta: 160000,
};
