import type { TensorNames } from './gguf-tensors.js';

// Per architecture, transformers' names of the tensors llama.cpp's converter renamed.

/** The word and token-type tables, under the same names in every architecture here. */
const TABLES = [
  ['embeddings.word_embeddings', 'token_embd'],
  ['embeddings.token_type_embeddings', 'token_types'],
] as const;

export const BERT_NAMES: TensorNames = {
  outside: [...TABLES, ['embeddings.LayerNorm', 'token_embd_norm']],
  layer: (l) => `encoder.layer.${l}.`,
  layers: [
    ['attention.self.query', 'attn_q'],
    ['attention.self.key', 'attn_k'],
    ['attention.self.value', 'attn_v'],
    ['attention.output.dense', 'attn_output'],
    ['attention.output.LayerNorm', 'attn_output_norm'],
    ['intermediate.dense', 'ffn_up'],
    ['output.dense', 'ffn_down'],
    ['output.LayerNorm', 'layer_output_norm'],
  ],
  splitsQkv: true,
};

/** NomicBertModel's names: fused q/k/v, SwiGLU's fc11 (up) and fc12 (the gate), llama.cpp's ffn_up and ffn_gate. */
export const NOMIC_NAMES: TensorNames = {
  outside: [...TABLES, ['emb_ln', 'token_embd_norm']],
  layer: (l) => `encoder.layers.${l}.`,
  layers: [
    ['attn.Wqkv', 'attn_qkv'],
    ['attn.out_proj', 'attn_output'],
    ['norm1', 'attn_output_norm'],
    ['mlp.fc11', 'ffn_up'],
    ['mlp.fc12', 'ffn_gate'],
    ['mlp.fc2', 'ffn_down'],
    ['norm2', 'layer_output_norm'],
  ],
};

/**
 * nomic-embed-text-v2-moe's names: NomicBERT's attention, GELU's fc1 / fc2 where a layer has no
 * experts, the router where it has (tensorMap maps the experts themselves).
 */
export const NOMIC_MOE_NAMES: TensorNames = {
  ...NOMIC_NAMES,
  layers: [
    ...NOMIC_NAMES.layers.filter(([hf]) => !hf.startsWith('mlp.')),
    ['mlp.fc1', 'ffn_up'],
    ['mlp.fc2', 'ffn_down'],
    ['mlp.router.layer', 'ffn_gate_inp'],
  ],
  experts: true,
};

/**
 * JinaBERT v2's names: BERT's attention, the GeGLU feed-forward `mlp.gated_layers` (GELU'd rows
 * first), `mlp.wo` and `mlp.layernorm`; no position table (ALiBi). Current converters write
 * gated_layers whole as `ffn_up`; older ones split it, the GELU'd half as `ffn_gate`, the other as
 * `ffn_up` (tensorMap joins them again).
 */
export const JINA_NAMES: TensorNames = {
  ...BERT_NAMES,
  gatedUp: 'mlp.gated_layers',
  layers: [
    ...BERT_NAMES.layers.filter(([hf]) => !['intermediate.dense', 'output.dense', 'output.LayerNorm'].includes(hf)),
    ['mlp.gated_layers', 'ffn_up'],
    ['mlp.wo', 'ffn_down'],
    ['mlp.layernorm', 'layer_output_norm'],
  ],
};

/**
 * Qwen3Model's names (sentence-transformers saves Qwen3-Embedding without the `model.` prefix).
 * llama.cpp rotates Qwen's queries and keys as transformers does (NEOX order), so the converter
 * stores q and k as they are, unpermuted.
 */
export const QWEN3_NAMES: TensorNames = {
  outside: [
    ['embed_tokens', 'token_embd'],
    ['norm', 'output_norm'],
  ],
  layer: (l) => `layers.${l}.`,
  layers: [
    ['input_layernorm', 'attn_norm'],
    ['self_attn.q_proj', 'attn_q'],
    ['self_attn.k_proj', 'attn_k'],
    ['self_attn.v_proj', 'attn_v'],
    ['self_attn.o_proj', 'attn_output'],
    ['self_attn.q_norm', 'attn_q_norm'],
    ['self_attn.k_norm', 'attn_k_norm'],
    ['post_attention_layernorm', 'ffn_norm'],
    ['mlp.gate_proj', 'ffn_gate'],
    ['mlp.up_proj', 'ffn_up'],
    ['mlp.down_proj', 'ffn_down'],
  ],
};

/** EuroBertModel's names are Qwen3's, and it has no query / key norms (a file holding them is refused). */
export const EUROBERT_NAMES = QWEN3_NAMES;

/**
 * Gemma3TextModel's names, as EmbeddingGemma's checkpoint keeps them: Qwen3's, with Gemma's norms
 * around each sub-layer's output.
 */
export const GEMMA_NAMES: TensorNames = {
  ...QWEN3_NAMES,
  layers: [
    ...QWEN3_NAMES.layers.filter(([hf]) => hf !== 'post_attention_layernorm'),
    ['post_attention_layernorm', 'post_attention_norm'],
    ['pre_feedforward_layernorm', 'ffn_norm'],
    ['post_feedforward_layernorm', 'post_ffw_norm'],
  ],
  normsPlusOne: true,
};

/** ModernBertModel's names; layer 0 has no attn_norm (transformers' Identity), which the reader knows. */
export const MODERN_NAMES: TensorNames = {
  outside: [
    ['embeddings.tok_embeddings', 'token_embd'],
    ['embeddings.norm', 'token_embd_norm'],
    ['final_norm', 'output_norm'],
  ],
  layer: (l) => `layers.${l}.`,
  layers: [
    ['attn_norm', 'attn_norm'],
    ['attn.Wqkv', 'attn_qkv'],
    ['attn.Wo', 'attn_output'],
    ['mlp_norm', 'ffn_norm'],
    ['mlp.Wi', 'ffn_up'],
    ['mlp.Wo', 'ffn_down'],
  ],
};

/** A reranker's RoBERTa classification head (XLMRobertaForSequenceClassification), read only where gguf-model.ts finds one. */
export const ROBERTA_HEAD_NAMES = [
  ['classifier.dense', 'cls'],
  ['classifier.out_proj', 'cls.output'],
] as const;
