import { ModelFormatError, UnsupportedError } from '../errors.js';
import { num, obj, positiveInt, ropeTheta } from './config-fields.js';
import type { ExitNorm } from './exit-norm.js';

/**
 * Feed-forward activations: gated, SiLU (Qwen3's SwiGLU), tanh-approximated GELU (Gemma's and T5
 * v1.1's GeGLU) or exact GELU; plain (T5's ReLU, exact GELU).
 */
export type FeedForwardActivation = 'silu' | 'gelu_tanh' | 'gelu' | 'relu';

/**
 * The numbers of a pre-norm RMSNorm model (Qwen3-Embedding, EmbeddingGemma, Qwen2 / Qwen3 rerankers,
 * T5 encoders) beyond BERT's: grouped-query attention, RoPE or a relative bias, a gated or plain MLP.
 */
export interface DecoderSpec {
  /** Key/value heads; each serves numHeads / numKvHeads query heads (grouped-query attention). */
  numKvHeads: number;
  /** Queries see only keys at or before them (Qwen3); otherwise the attention is bidirectional. */
  causal: boolean;
  /** Per layer: a query i sees keys j with |i - j| <= windowHalf (Infinity for full attention). */
  windowHalf: number[];
  /** Per layer: the RoPE base; null where a relative bias places tokens instead (T5: config.relativeAttention). */
  ropeTheta: number[] | null;
  /** Multiplies q . k before the softmax. */
  attnScale: number;
  /** Multiplies the gathered embedding rows (Gemma: sqrt(hidden_size)). */
  embedScale: number;
  activation: FeedForwardActivation;
  /** activation(gate) * up, from a feed-forward input of 2I rows (gate rows first); otherwise activation over I rows. */
  gated: boolean;
  /** Per-head RMSNorm of queries and keys before RoPE (Qwen3, Gemma 3; not Qwen2). */
  qkNorm: boolean;
  /** Biases on the query, key and value projections (Qwen2; o_proj has none). */
  qkvBias: boolean;
  /**
   * Gemma's extra norms on each sub-layer's output before it joins the residual stream
   * (post_attention_layernorm, post_feedforward_layernorm).
   */
  sandwichNorms: boolean;
  exitNorm: ExitNorm;
}

type Raw = Record<string, unknown>;

/** What the spec parsers need from the fields config.ts reads for every decoder. */
export interface DecoderNumbers {
  hiddenSize: number;
  numLayers: number;
  headDim: number;
}

const positive = (raw: Raw, key: string, fallback: number): number => {
  const v = num(raw, key, fallback);
  if (v <= 0) throw new ModelFormatError(`config.json: "${key}" must be positive, got ${v}`);
  return v;
};

/**
 * The grouped-query attention head counts and the checks both families share; the head size is
 * free of hidden_size in their configs.
 */
export function decoderHeads(raw: Raw, hiddenSize: number): { numHeads: number; numKvHeads: number; headDim: number } {
  const numHeads = positiveInt(raw, 'num_attention_heads');
  const numKvHeads = positiveInt(raw, 'num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) {
    throw new ModelFormatError(`num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  }
  const headDim = positiveInt(raw, 'head_dim', Math.floor(hiddenSize / numHeads));
  if (headDim % 2 !== 0) throw new ModelFormatError(`head_dim ${headDim} must be even (RoPE rotates pairs)`);
  if (raw.attention_bias === true) throw new UnsupportedError('attention_bias is not supported');
  if (raw.rope_scaling !== undefined && raw.rope_scaling !== null) {
    throw new UnsupportedError('rope_scaling is not supported (only unscaled RoPE)');
  }
  return { numHeads, numKvHeads, headDim };
}

function activation(raw: Raw, key: string, want: string, as: FeedForwardActivation): FeedForwardActivation {
  const act = raw[key];
  if (act !== want) throw new UnsupportedError(`${key} ${JSON.stringify(act)} is not supported (only ${want})`);
  return as;
}

/** transformers 5 moves the RoPE bases into rope_parameters (per layer type where they differ). */
const ropeParameters = (raw: Raw): Raw | undefined =>
  raw.rope_parameters === undefined || raw.rope_parameters === null ? undefined : obj(raw.rope_parameters, 'rope_parameters');

/**
 * Qwen3 (transformers models/qwen3): causal attention, RoPE with rope_theta on every layer,
 * scaling head_dim^-0.5, SwiGLU (hidden_act silu). Qwen3-Embedding keeps use_sliding_window off.
 * `is_causal: false` makes transformers' create_causal_mask build the bidirectional mask instead
 * (as vLLM reads it too): embedders trained to attend both ways say so (gte-Qwen3), or by
 * `use_bidirectional_attention` (pplx-embed's config, as Gemma's name it).
 */
export function qwen3Spec(raw: Raw, n: DecoderNumbers, numKvHeads: number, exitNorm: ExitNorm): DecoderSpec {
  if (raw.use_sliding_window === true) throw new UnsupportedError('use_sliding_window is not supported for qwen3');
  // transformers reads sliding layers from layer_types whatever use_sliding_window says (jina-reranker-v3.5 is said to have some).
  if (Array.isArray(raw.layer_types) && raw.layer_types.includes('sliding_attention') && raw.sliding_window !== null)
    throw new UnsupportedError('sliding-window layers ("sliding_attention" in layer_types) are not supported for qwen3');
  const params = ropeParameters(raw);
  const theta = params ? ropeTheta({ rope: params }, 'rope') : positive(raw, 'rope_theta', 10000);
  const L = n.numLayers;
  return {
    numKvHeads,
    causal: raw.is_causal !== false && raw.use_bidirectional_attention !== true,
    windowHalf: new Array<number>(L).fill(Number.POSITIVE_INFINITY),
    ropeTheta: new Array<number>(L).fill(theta),
    attnScale: 1 / Math.sqrt(n.headDim),
    embedScale: 1,
    activation: activation(raw, 'hidden_act', 'silu', 'silu'),
    gated: true,
    qkNorm: true,
    qkvBias: false,
    sandwichNorms: false,
    exitNorm,
  };
}

/**
 * Qwen2 (transformers models/qwen2): Qwen3's layers with biases on q_proj, k_proj and v_proj
 * (always: its config has no attention_bias) and no query / key norms; head_dim is
 * hidden_size / num_attention_heads. m3web opens it as a reranker only (config.ts says why).
 */
export function qwen2Spec(raw: Raw, n: DecoderNumbers, numKvHeads: number, exitNorm: ExitNorm): DecoderSpec {
  if (raw.use_sliding_window === true) throw new UnsupportedError('use_sliding_window is not supported for qwen2');
  return { ...qwen3Spec(raw, n, numKvHeads, exitNorm), qkNorm: false, qkvBias: true };
}

/**
 * EuroBERT (transformers models/eurobert; jina-embeddings-v5-text-nano is one): Llama's pre-norm
 * layers (RMSNorm, SwiGLU, grouped-query heads, RoPE with rope_theta on every layer, no query /
 * key norms) attending both ways, as create_bidirectional_mask builds its mask. Llama's
 * attention_bias would put a bias on o_proj too, and mlp_bias on every MLP projection: neither
 * is in any EuroBERT checkpoint, and both are refused rather than dropped.
 */
export function eurobertSpec(raw: Raw, n: DecoderNumbers, numKvHeads: number, exitNorm: ExitNorm): DecoderSpec {
  if (raw.mlp_bias === true) throw new UnsupportedError('mlp_bias is not supported for eurobert');
  return { ...qwen3Spec(raw, n, numKvHeads, exitNorm), causal: false, qkNorm: false };
}

/**
 * Gemma 3 text (transformers models/gemma3), as EmbeddingGemma saves it (use_bidirectional_attention)
 * or as causal embedders over the LLM do (microsoft/harrier-oss-v1-270m: last-token pooling):
 * - layer_types (default: every 6th layer full) picks per layer the window and the RoPE base:
 *   rope_theta on full layers, rope_local_base_freq (default 10000) on sliding ones;
 * - bidirectional: the config turns sliding_window into sliding_window // 2 + 1 and the mask keeps
 *   |i - j| < that, so windowHalf = sliding_window // 2; causal: sliding_window_overlay keeps
 *   keys j > i - sliding_window, so windowHalf = sliding_window - 1 beside the causal mask;
 * - scaling query_pre_attn_scalar^-0.5; embeddings times sqrt(hidden_size); gelu_pytorch_tanh;
 * - RMSNorm multiplies by (1 + w): the checkpoint reader folds the 1 into the stored weights.
 */
export function gemma3Spec(raw: Raw, n: DecoderNumbers, numKvHeads: number, exitNorm: ExitNorm): DecoderSpec {
  const bidirectional = raw.use_bidirectional_attention === true;
  // final_logit_softcapping only touches the language-model logits, which an embedder never computes.
  if (raw.attn_logit_softcapping !== undefined && raw.attn_logit_softcapping !== null) {
    throw new UnsupportedError('attn_logit_softcapping is not supported');
  }
  const L = n.numLayers;
  const types =
    raw.layer_types ?? Array.from({ length: L }, (_, l) => ((l + 1) % 6 === 0 ? 'full_attention' : 'sliding_attention'));
  if (!Array.isArray(types) || types.length !== L || types.some((t) => t !== 'full_attention' && t !== 'sliding_attention')) {
    throw new ModelFormatError(
      `config.json: "layer_types" must list "full_attention" or "sliding_attention" for each of the ${L} layers`,
    );
  }
  const full = types.map((t) => t === 'full_attention');
  const window = positiveInt(raw, 'sliding_window', 4096);
  const windowHalf = bidirectional ? Math.floor(window / 2) : window - 1;
  const params = ropeParameters(raw);
  const global = params ? ropeTheta(params, 'full_attention') : positive(raw, 'rope_theta', 1_000_000);
  const local = params ? ropeTheta(params, 'sliding_attention') : positive(raw, 'rope_local_base_freq', 10_000);
  return {
    numKvHeads,
    causal: !bidirectional,
    windowHalf: full.map((f) => (f ? Number.POSITIVE_INFINITY : windowHalf)),
    ropeTheta: full.map((f) => (f ? global : local)),
    attnScale: 1 / Math.sqrt(positive(raw, 'query_pre_attn_scalar', n.headDim)),
    embedScale: Math.sqrt(n.hiddenSize),
    activation: activation(raw, 'hidden_activation', 'gelu_pytorch_tanh', 'gelu_tanh'),
    gated: true,
    qkNorm: true,
    qkvBias: false,
    sandwichNorms: true,
    exitNorm,
  };
}
