/**
 * The public mmBERT config.json files, field for field.
 *
 * mmBERT-small: as published (read at huggingface.co/datalama/mmBERT-small/blob/main/config.json,
 * a mirror of jhu-clsp/mmBERT-small; jhu-clsp's own page was not reachable from here). The fields
 * through vocab_size are transformers 4.47's alphabetical dump, including its "_name_or_path":
 * "mmBERT-base"; mask_token_id and rope_parameters were appended by a transformers 5 re-save,
 * so this one file carries both config forms, and they agree (160k for both layer kinds).
 *
 * mmBERT-base: no copy of its config.json could be read here. It is the small file with the
 * base shape (hidden_size 768, num_attention_heads 12; FFN 1152 like small), the shape the mmBERT
 * paper gives and that third-party mmBERT-base fixtures repeat (256000 / 768 / 12 / 1152 /
 * sans_pos / local_attention 128, RoPE 160k).
 */
export const MMBERT_SMALL_CONFIG = {
  _name_or_path: 'mmBERT-base',
  architectures: ['ModernBertForMaskedLM'],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 2,
  classifier_activation: 'gelu',
  classifier_bias: false,
  classifier_dropout: 0.0,
  classifier_pooling: 'mean',
  cls_token_id: 1,
  decoder_bias: true,
  deterministic_flash_attn: false,
  embedding_dropout: 0.0,
  eos_token_id: 1,
  global_attn_every_n_layers: 3,
  global_rope_theta: 160000,
  gradient_checkpointing: false,
  hidden_activation: 'gelu',
  hidden_size: 384,
  initializer_cutoff_factor: 2.0,
  initializer_range: 0.02,
  intermediate_size: 1152,
  layer_norm_eps: 1e-5,
  local_attention: 128,
  local_rope_theta: 160000,
  max_position_embeddings: 8192,
  mlp_bias: false,
  mlp_dropout: 0.0,
  model_type: 'modernbert',
  norm_bias: false,
  norm_eps: 1e-5,
  num_attention_heads: 6,
  num_hidden_layers: 22,
  pad_token_id: 0,
  position_embedding_type: 'sans_pos',
  sep_token_id: 1,
  tie_word_embeddings: true,
  torch_dtype: 'float32',
  transformers_version: '4.47.0.dev0',
  vocab_size: 256000,
  mask_token_id: 4,
  rope_parameters: {
    full_attention: { rope_type: 'default', rope_theta: 160000.0 },
    sliding_attention: { rope_type: 'default', rope_theta: 160000.0 },
  },
};

export const MMBERT_BASE_CONFIG = { ...MMBERT_SMALL_CONFIG, hidden_size: 768, num_attention_heads: 12 };
