/**
 * config.json shapes of the gated post-norm embedders m3web opens (GTE, NomicBERT, JinaBERT v2). No
 * hub is reachable here, so these are not the published files byte for byte: gte-multilingual-base's
 * numbers are as a third-party parser's test quotes them (RoPE base 20000 with fixed NTK scaling
 * x8), the Snowflake one is its sibling under model_type "gte" without scaling, the others as
 * remembered. Unit tests read them; the weights in the tests are random at shrunk sizes
 * (test/oracle/make_gte.py, make_nomic.py, make_jina.py).
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

/**
 * nomic-embed-text-v1.5's config.json shape (NomicBertConfig, GPT-2 field names), as remembered,
 * not checked against the file: rotary base 1000 over whole heads, SwiGLU, post-norm, no biases,
 * 8192 positions (2048 trained, no rotary scaling), a vocabulary padded to a multiple of 64.
 */
export const NOMIC_EMBED_TEXT_V15 = {
  activation_function: 'swiglu',
  architectures: ['NomicBertModel'],
  attn_pdrop: 0.0,
  auto_map: {
    AutoConfig: 'nomic-ai/nomic-bert-2048--configuration_hf_nomic_bert.NomicBertConfig',
    AutoModel: 'nomic-ai/nomic-bert-2048--modeling_hf_nomic_bert.NomicBertModel',
  },
  causal: false,
  embd_pdrop: 0.0,
  initializer_range: 0.02,
  layer_norm_epsilon: 1e-12,
  max_trained_positions: 2048,
  mlp_fc1_bias: false,
  mlp_fc2_bias: false,
  model_type: 'nomic_bert',
  n_embd: 768,
  n_head: 12,
  n_inner: 3072,
  n_layer: 12,
  n_positions: 8192,
  pad_vocab_size_multiple: 64,
  parallel_block: false,
  prenorm: false,
  qkv_proj_bias: false,
  resid_pdrop: 0.0,
  rotary_emb_base: 1000,
  rotary_emb_fraction: 1.0,
  rotary_emb_interleaved: false,
  rotary_emb_scale_base: null,
  rotary_scaling_factor: null,
  torch_dtype: 'float32',
  type_vocab_size: 2,
  use_rms_norm: false,
  vocab_size: 30528,
};

/** jina-embeddings-v2-small-en's config.json shape (JinaBertConfig), as remembered: 4 layers x 512, 8 heads, ALiBi, GeGLU. */
export const JINA_EMBEDDINGS_V2_SMALL_EN = {
  architectures: ['JinaBertForMaskedLM'],
  attention_probs_dropout_prob: 0.0,
  attn_implementation: 'torch',
  auto_map: {
    AutoConfig: 'jinaai/jina-bert-implementation--configuration_bert.JinaBertConfig',
    AutoModel: 'jinaai/jina-bert-implementation--modeling_bert.JinaBertModel',
    AutoModelForMaskedLM: 'jinaai/jina-bert-implementation--modeling_bert.JinaBertForMaskedLM',
  },
  classifier_dropout: null,
  emb_pooler: 'mean',
  feed_forward_type: 'geglu',
  gradient_checkpointing: false,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  hidden_size: 512,
  initializer_range: 0.02,
  intermediate_size: 2048,
  layer_norm_eps: 1e-12,
  max_position_embeddings: 8192,
  model_max_length: 8192,
  model_type: 'bert',
  num_attention_heads: 8,
  num_hidden_layers: 4,
  pad_token_id: 0,
  position_embedding_type: 'alibi',
  torch_dtype: 'float32',
  type_vocab_size: 2,
  use_cache: true,
  vocab_size: 30528,
};
