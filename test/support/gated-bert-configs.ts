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

/**
 * nomic-embed-text-v2-moe's config.json shape, as its ports read it (vLLM's NomicBertModel,
 * llama.cpp's nomic-bert-moe, public re-implementations), not checked against the file: XLM-R's
 * 250k vocabulary, the ungated GELU MLP with biases, 8 experts of 3072, top 2, in every second
 * layer, 2048 positions, 512 tokens in sentence-transformers.
 */
export const NOMIC_EMBED_TEXT_V2_MOE = {
  ...NOMIC_EMBED_TEXT_V15,
  activation_function: 'gelu',
  expert_choice_router: false,
  layer_norm_epsilon: 1e-5,
  max_trained_positions: 2048,
  mlp_fc1_bias: true,
  mlp_fc2_bias: true,
  moe_every_n_layers: 2,
  moe_impl: 'megablocks',
  moe_normalize_expert_weights: false,
  moe_top_k: 2,
  n_positions: 2048,
  num_experts: 8,
  num_shared_experts: 0,
  pad_token_id: 1,
  qkv_proj_bias: true,
  rotary_emb_base: 10000,
  router_aux_loss_coef: 0.1,
  type_vocab_size: 1,
  vocab_size: 250048,
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

/** jinaai/jina-embeddings-v3's config.json (XLM-R with RoPE and task LoRA), as published. */
export const JINA_EMBEDDINGS_V3 = {
  _name_or_path: 'jinaai/jina-embeddings-v3',
  architectures: ['XLMRobertaModel'],
  attention_probs_dropout_prob: 0.1,
  auto_map: {
    AutoConfig: 'jinaai/xlm-roberta-flash-implementation--configuration_xlm_roberta.XLMRobertaFlashConfig',
    AutoModel: 'jinaai/xlm-roberta-flash-implementation--modeling_lora.XLMRobertaLoRA',
  },
  bos_token_id: 0,
  classifier_dropout: null,
  emb_pooler: null,
  eos_token_id: 2,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  hidden_size: 1024,
  initializer_range: 0.02,
  intermediate_size: 4096,
  layer_norm_eps: 1e-5,
  load_trained_adapters: true,
  lora_adaptations: ['retrieval.query', 'retrieval.passage', 'separation', 'classification', 'text-matching'],
  lora_alpha: 1,
  lora_dropout_p: 0.0,
  lora_main_params_trainable: false,
  lora_rank: 4,
  matryoshka_dimensions: [32, 64, 128, 256, 512, 768, 1024],
  max_position_embeddings: 8194,
  model_type: 'xlm-roberta',
  num_attention_heads: 16,
  num_hidden_layers: 24,
  output_past: true,
  pad_token_id: 1,
  position_embedding_type: 'rotary',
  rotary_emb_base: 20000.0,
  torch_dtype: 'bfloat16',
  transformers_version: '4.30.2',
  truncate_dim: null,
  type_vocab_size: 1,
  use_cache: true,
  use_flash_attn: true,
  vocab_size: 250002,
  task_instructions: {
    'retrieval.query': 'Represent the query for retrieving evidence documents: ',
    'retrieval.passage': 'Represent the document for retrieval: ',
    separation: '',
    classification: '',
    'text-matching': '',
  },
};
