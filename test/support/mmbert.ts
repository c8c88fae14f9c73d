/**
 * The public mmBERT config.json files (jhu-clsp/mmBERT-small, jhu-clsp/mmBERT-base), field for
 * field. Written from memory of those files and cross-checked where a source was at hand: the
 * mmBERT paper (Gemma 2 tokenizer, 256k vocabulary, 8192-token context, 22 layers; small 384 wide,
 * base 768 wide, FFN 1152) and transformers' ModernBertConfig (field names, defaults). The RoPE
 * thetas (160k for global and local layers), the special ids (Gemma's <pad> 0, <eos> 1, <bos> 2)
 * and local_attention 128 are from memory; see README.md, "Supported models".
 */
const common = {
  architectures: ['ModernBertForMaskedLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 2,
  classifier_activation: 'gelu',
  classifier_bias: false,
  classifier_dropout: 0.0,
  classifier_pooling: 'mean',
  cls_token_id: 2,
  decoder_bias: true,
  deterministic_flash_attn: false,
  embedding_dropout: 0.0,
  eos_token_id: 1,
  global_attn_every_n_layers: 3,
  global_rope_theta: 160000,
  gradient_checkpointing: false,
  hidden_activation: 'gelu',
  initializer_cutoff_factor: 2.0,
  initializer_range: 0.02,
  layer_norm_eps: 1e-5,
  local_attention: 128,
  local_rope_theta: 160000,
  max_position_embeddings: 8192,
  mlp_bias: false,
  mlp_dropout: 0.0,
  model_type: 'modernbert',
  norm_bias: false,
  norm_eps: 1e-5,
  num_hidden_layers: 22,
  pad_token_id: 0,
  position_embedding_type: 'absolute',
  sep_token_id: 1,
  torch_dtype: 'float32',
  transformers_version: '4.48.0',
  vocab_size: 256000,
};

export const MMBERT_SMALL_CONFIG = { ...common, hidden_size: 384, intermediate_size: 1152, num_attention_heads: 6 };
export const MMBERT_BASE_CONFIG = { ...common, hidden_size: 768, intermediate_size: 1152, num_attention_heads: 12 };
