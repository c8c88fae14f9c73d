import { ModelFormatError, UnsupportedError } from '../errors.js';
import { num, obj, positiveInt, ropeTheta } from './config-fields.js';
import { type DecoderSpec, decoderHeads, gemma3Spec, qwen3Spec } from './decoder-config.js';
import { EXIT_NORMS, type ExitNorm } from './exit-norm.js';

export { EXIT_NORMS, type ExitNorm };

export type ModelType = 'bert' | 'xlm-roberta' | 'jina_bert' | 'gte' | 'nomic_bert' | 'modernbert' | 'qwen3' | 'gemma3';

/**
 * How token vectors become one text vector: their mean (over real tokens), the first token's, or
 * the last real token's (decoders whose causal attention gathers the text there, as Qwen3-Embedding).
 */
export type Pooling = 'mean' | 'cls' | 'last';
export const POOLINGS: readonly Pooling[] = ['mean', 'cls', 'last'];

/** ModernBERT's numbers beyond BERT's, normalised from either transformers config format. */
export interface ModernBertSpec {
  /** Per layer: true for global (full) attention, false for local (sliding-window) attention. */
  globalLayers: boolean[];
  /** A local layer's query i sees keys j with |i - j| <= windowHalf (HF: local_attention // 2). */
  windowHalf: number;
  globalRopeTheta: number;
  localRopeTheta: number;
  attentionBias: boolean;
  mlpBias: boolean;
  normBias: boolean;
  exitNorm: ExitNorm;
}

/** RoPE as GTE and NomicBERT compute it (rotate_half over whole heads, positions from 0). */
export interface RopeSpec {
  type: 'rope';
  ropeTheta: number;
  /**
   * rope_scaling {type: "ntk"}: new-impl builds its rotary cache for factor x max_position_embeddings
   * positions at load, which always takes the scaled branch, so the scaled frequencies apply at
   * every length (rope.ts ropeFrequencies).
   */
  ntk: { factor: number; mixedB: number | null } | null;
}

/**
 * The post-norm encoders without a position table: GTE (Alibaba-NLP/new-impl: gte-multilingual-base,
 * snowflake-arctic-embed-m-v2.0) and NomicBERT (nomic-embed-text-v1.5) with RoPE, JinaBERT v2
 * (jina-embeddings-v2) with ALiBi, all with a gated feed-forward. The layers are BERT's, so the
 * weights are BertWeights with no position table (checkpoint/gte.ts, nomic.ts, bert.ts).
 */
export interface GatedBertSpec {
  /** RoPE, or ALiBi: a bias of -slope_h |i - j| on head h's scores (model/alibi.ts). */
  positions: RopeSpec | { type: 'alibi' };
  /** The feed-forward's gate activation: GELU (GTE, JinaBERT, NomicBERT geglu) or SiLU (NomicBERT swiglu). */
  gate: 'gelu' | 'silu';
  /**
   * nomic-embed-text-v1.5's Matryoshka recipe: a layer norm without weights over the pooled vector
   * before it is cut to fewer dims (model card); at full width the vector is left as
   * sentence-transformers returns it.
   */
  truncateNorm: boolean;
}

/** The architecture numbers the forward pass needs, normalised from a Hugging Face config.json. */
export interface EncoderConfig {
  modelType: ModelType;
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  headDim: number;
  intermediateSize: number;
  maxPositions: number;
  typeVocabSize: number;
  layerNormEps: number;
  padTokenId: number;
  /**
   * Position id of the first real token. BERT counts from 0; RoBERTa/XLM-R count from
   * padding_idx + 1 because position `padding_idx` is reserved for pads.
   */
  positionOffset: number;
  /** Longest token sequence (specials included) the position table can address. */
  maxTokens: number;
  /** Present exactly when modelType is 'modernbert'. */
  modern?: ModernBertSpec;
  /** Present exactly when modelType is 'jina_bert', 'gte' or 'nomic_bert'. */
  gatedBert?: GatedBertSpec;
  /** Present exactly when modelType is 'qwen3' or 'gemma3'. */
  decoder?: DecoderSpec;
}

const SUPPORTED_ACTIVATIONS = new Set(['gelu', 'gelu_python']);

/** config.json model_type values m3web runs. */
export const SUPPORTED_MODEL_TYPES = [
  'bert',
  'xlm-roberta',
  'roberta',
  'new',
  'gte',
  'nomic_bert',
  'modernbert',
  'qwen3',
  'gemma3_text',
] as const;

export interface ConfigOptions {
  /** Pre-norm models only (ModernBERT, Qwen3, Gemma 3; default 'none'); packs record it in their manifest. */
  exitNorm?: ExitNorm;
}

export function parseHfConfig(raw: unknown, options: ConfigOptions = {}): EncoderConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ModelFormatError('config.json must be a JSON object');
  }
  const cfg = raw as Record<string, unknown>;
  const modelType = cfg.model_type;
  const exitNorm = options.exitNorm ?? 'none';
  if (!EXIT_NORMS.includes(exitNorm))
    throw new ModelFormatError(`exitNorm must be none or final, got ${JSON.stringify(exitNorm)}`);
  if (modelType === 'modernbert') return parseModernBertConfig(cfg, exitNorm);
  if (modelType === 'new' || modelType === 'gte') return parseGteConfig(cfg);
  if (modelType === 'nomic_bert') return parseNomicConfig(cfg);
  if (modelType === 'qwen3' || modelType === 'gemma3_text') return parseDecoderConfig(cfg, modelType, exitNorm);
  if (modelType !== 'bert' && modelType !== 'xlm-roberta' && modelType !== 'roberta') {
    throw new UnsupportedError(
      `model_type ${JSON.stringify(modelType)} is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`,
    );
  }
  const numbers = bertNumbers(cfg);
  const positions = cfg.position_embedding_type ?? 'absolute';
  if (positions === 'alibi' && modelType === 'bert') return parseJinaConfig(cfg, numbers);
  // relative_key BERTs have no position table to read either.
  if (positions !== 'absolute') {
    throw new UnsupportedError(`position_embedding_type ${JSON.stringify(positions)} is not supported (only absolute and ALiBi)`);
  }
  const isRoberta = modelType !== 'bert';
  const padTokenId = num(cfg, 'pad_token_id', isRoberta ? 1 : 0);
  const positionOffset = isRoberta ? padTokenId + 1 : 0;
  const maxTokens = numbers.maxPositions - positionOffset;
  if (maxTokens < 2) throw new ModelFormatError(`max_position_embeddings ${numbers.maxPositions} leaves no room for tokens`);
  return {
    modelType: isRoberta ? 'xlm-roberta' : 'bert',
    ...numbers,
    typeVocabSize: positiveInt(cfg, 'type_vocab_size', 2),
    padTokenId,
    positionOffset,
    maxTokens,
  };
}

/** The numbers every BERT-named config (BERT, XLM-R, GTE, JinaBERT) states alike, hidden_act checked. */
function bertNumbers(cfg: Record<string, unknown>) {
  const act = cfg.hidden_act ?? 'gelu';
  if (typeof act !== 'string' || !SUPPORTED_ACTIVATIONS.has(act)) {
    throw new UnsupportedError(`hidden_act ${JSON.stringify(act)} is not supported (only exact erf GELU)`);
  }
  const hiddenSize = positiveInt(cfg, 'hidden_size');
  const numHeads = positiveInt(cfg, 'num_attention_heads');
  if (hiddenSize % numHeads !== 0) {
    throw new ModelFormatError(`hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}`);
  }
  return {
    vocabSize: positiveInt(cfg, 'vocab_size'),
    hiddenSize,
    numLayers: positiveInt(cfg, 'num_hidden_layers'),
    numHeads,
    headDim: hiddenSize / numHeads,
    intermediateSize: positiveInt(cfg, 'intermediate_size'),
    maxPositions: positiveInt(cfg, 'max_position_embeddings'),
    layerNormEps: num(cfg, 'layer_norm_eps', 1e-12),
  };
}

/**
 * GTE (model_type "new", or "gte" in Snowflake's copies), read from new-impl's configuration.py and
 * modeling.py: post-norm BERT layers with a fused qkv_proj (or q/k/v_proj without pack_qkv), RoPE
 * on queries and keys (rotate_half over the whole head, positions from 0), the feed-forward
 * gelu(gate) * up over up_gate_proj's [up; gate] rows, word + token-type-0 embeddings and no
 * position table. What new-impl offers beyond that and no published model uses is refused:
 * absolute positions (use the BERT config), RMSNorm layers, log-n attention scaling.
 */
function parseGteConfig(cfg: Record<string, unknown>): EncoderConfig {
  const numbers = bertNumbers(cfg);
  const { hiddenSize, numHeads } = numbers;
  const refuse = (what: string) => {
    throw new UnsupportedError(`GTE ${what} is not supported`);
  };
  if ((cfg.position_embedding_type ?? 'rope') !== 'rope')
    refuse(`position_embedding_type ${JSON.stringify(cfg.position_embedding_type)}`);
  if ((cfg.layer_norm_type ?? 'layer_norm') !== 'layer_norm') refuse(`layer_norm_type ${JSON.stringify(cfg.layer_norm_type)}`);
  if (bool(cfg, 'logn_attention_scale')) refuse('logn_attention_scale');
  if ((hiddenSize / numHeads) % 2 !== 0) {
    throw new ModelFormatError(
      `hidden_size ${hiddenSize} / num_attention_heads ${numHeads} must give an even head size (RoPE rotates pairs)`,
    );
  }
  const ropeTheta = num(cfg, 'rope_theta', 10000);
  if (ropeTheta <= 0) throw new ModelFormatError('config.json: "rope_theta" must be positive');
  let ntk: RopeSpec['ntk'] = null;
  if (cfg.rope_scaling !== undefined && cfg.rope_scaling !== null) {
    const scaling = obj(cfg.rope_scaling, 'rope_scaling');
    if (scaling.type !== 'ntk') refuse(`rope_scaling type ${JSON.stringify(scaling.type)} (only "ntk")`);
    const factor = num(scaling, 'factor');
    if (factor <= 0) throw new ModelFormatError('config.json: rope_scaling.factor must be positive');
    const mixedB = scaling.mixed_b === undefined || scaling.mixed_b === null ? null : num(scaling, 'mixed_b');
    // A factor of 1 or less never reaches the scaled branch within max_position_embeddings.
    if (factor > 1) ntk = { factor, mixedB };
  }
  if (numbers.maxPositions < 2)
    throw new ModelFormatError(`max_position_embeddings ${numbers.maxPositions} leaves no room for tokens`);
  return {
    modelType: 'gte',
    ...numbers,
    typeVocabSize: nonNegativeInt(cfg, 'type_vocab_size', 0),
    padTokenId: num(cfg, 'pad_token_id', 0),
    positionOffset: 0,
    maxTokens: numbers.maxPositions,
    gatedBert: { positions: { type: 'rope', ropeTheta, ntk }, gate: 'gelu', truncateNorm: false },
  };
}

/**
 * NomicBERT (model_type "nomic_bert": nomic-embed-text-v1 and v1.5), read from nomic-bert-2048's
 * configuration_hf_nomic_bert.py and modeling_hf_nomic_bert.py, whose config uses GPT-2's names
 * (n_embd, n_head, n_layer, n_inner, n_positions): post-norm layers, a fused Wqkv, RoPE with
 * rotary_emb_base over the whole head (rotate_half), the feed-forward fc2(fc11(x) * act(fc12(x)))
 * with act SiLU (swiglu) or GELU (geglu), word + token-type-0 embeddings under emb_ln. Refused:
 * partial, interleaved or xPos rotary (no published embedder uses them), pre-norm, RMSNorm,
 * parallel blocks, causal attention, grouped heads, ungated activations. With rotary_scaling_factor, dynamic NTK starts past
 * max_trained_positions, so inputs stop there.
 */
function parseNomicConfig(cfg: Record<string, unknown>): EncoderConfig {
  const refuse = (what: string) => {
    throw new UnsupportedError(`NomicBERT ${what} is not supported`);
  };
  const hiddenSize = positiveInt(cfg, 'n_embd');
  const numHeads = positiveInt(cfg, 'n_head');
  if (hiddenSize % numHeads !== 0 || (hiddenSize / numHeads) % 2 !== 0) {
    throw new ModelFormatError(`n_embd ${hiddenSize} / n_head ${numHeads} must give an even head size (RoPE rotates pairs)`);
  }
  const act = cfg.activation_function ?? 'swiglu';
  if (act !== 'swiglu' && act !== 'geglu') refuse(`activation_function ${JSON.stringify(act)} (only swiglu and geglu)`);
  if (num(cfg, 'rotary_emb_fraction', 0) !== 1) refuse(`rotary_emb_fraction ${JSON.stringify(cfg.rotary_emb_fraction)} (only 1)`);
  if (bool(cfg, 'rotary_emb_interleaved')) refuse('rotary_emb_interleaved');
  if (cfg.rotary_emb_scale_base !== undefined && cfg.rotary_emb_scale_base !== null) refuse('rotary_emb_scale_base (xPos)');
  if (bool(cfg, 'prenorm')) refuse('prenorm');
  if (bool(cfg, 'use_rms_norm')) refuse('use_rms_norm');
  if (bool(cfg, 'parallel_block')) refuse('parallel_block');
  if (bool(cfg, 'causal')) refuse('causal attention');
  if (cfg.num_heads_kv !== undefined && cfg.num_heads_kv !== null && cfg.num_heads_kv !== numHeads) refuse('num_heads_kv');
  const ropeTheta = num(cfg, 'rotary_emb_base', 10000);
  if (ropeTheta <= 0) throw new ModelFormatError('config.json: "rotary_emb_base" must be positive');
  const maxPositions = positiveInt(cfg, 'n_positions');
  const scaled = cfg.rotary_scaling_factor !== undefined && cfg.rotary_scaling_factor !== null;
  const maxTokens = scaled ? Math.min(maxPositions, positiveInt(cfg, 'max_trained_positions')) : maxPositions;
  if (maxTokens < 2) throw new ModelFormatError(`n_positions ${maxPositions} leaves no room for tokens`);
  return {
    modelType: 'nomic_bert',
    vocabSize: positiveInt(cfg, 'vocab_size'),
    hiddenSize,
    numLayers: positiveInt(cfg, 'n_layer'),
    numHeads,
    headDim: hiddenSize / numHeads,
    // NomciBertGatedMLP rounds its width up to a multiple of 256 (8H/3 when n_inner is unset).
    intermediateSize:
      Math.ceil((cfg.n_inner == null ? Math.floor((8 * hiddenSize) / 3) : positiveInt(cfg, 'n_inner')) / 256) * 256,
    maxPositions,
    typeVocabSize: nonNegativeInt(cfg, 'type_vocab_size', 2),
    layerNormEps: num(cfg, 'layer_norm_epsilon', 1e-5),
    padTokenId: num(cfg, 'pad_token_id', 0),
    positionOffset: 0,
    maxTokens,
    gatedBert: {
      positions: { type: 'rope', ropeTheta, ntk: null },
      gate: act === 'swiglu' ? 'silu' : 'gelu',
      truncateNorm: true,
    },
  };
}

/**
 * JinaBERT v2 (jina-embeddings-v2-*: model_type bert, position_embedding_type alibi), read from
 * jina-bert-implementation's JinaBertModel as its ports give it: BERT's post-norm attention with
 * ALiBi on the scores instead of a position table, the feed-forward wo(gelu(up[:I]) * up[I:]) over
 * mlp.gated_layers under its own post-norm, word + token-type-0 embeddings. Only the GeGLU
 * feed-forward (feed_forward_type "geglu", what the embedding models use) is read.
 */
function parseJinaConfig(cfg: Record<string, unknown>, numbers: ReturnType<typeof bertNumbers>): EncoderConfig {
  const ffn = cfg.feed_forward_type ?? 'original';
  if (ffn !== 'geglu') {
    throw new UnsupportedError(`JinaBERT feed_forward_type ${JSON.stringify(ffn)} is not supported (only geglu)`);
  }
  return {
    modelType: 'jina_bert',
    ...numbers,
    typeVocabSize: nonNegativeInt(cfg, 'type_vocab_size', 2),
    padTokenId: num(cfg, 'pad_token_id', 0),
    positionOffset: 0,
    maxTokens: numbers.maxPositions,
    gatedBert: { positions: { type: 'alibi' }, gate: 'gelu', truncateNorm: false },
  };
}

function nonNegativeInt(raw: Record<string, unknown>, key: string, fallback: number): number {
  const v = num(raw, key, fallback);
  if (!Number.isInteger(v) || v < 0) throw new ModelFormatError(`config.json: "${key}" must be an integer >= 0, got ${v}`);
  return v;
}

function bool(raw: Record<string, unknown>, key: string): boolean {
  const v = raw[key] ?? false;
  if (typeof v !== 'boolean') throw new ModelFormatError(`config.json: "${key}" must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * ModernBERT (transformers models/modernbert): the conventions below follow
 * configuration_modernbert.py and modeling_modernbert.py.
 * - Layer l is global when l % global_attn_every_n_layers == 0 (default 3); the transformers 5
 *   form `layer_types` ("full_attention" / "sliding_attention" per layer) must agree with it
 *   where both are given (transformers takes the window from one and the RoPE from the other).
 * - Local layers see |i - j| <= local_attention // 2 (default 128, so 64 each side).
 * - Global layers rotate with global_rope_theta (default 160000), local layers with
 *   local_rope_theta (default 10000; an explicit null means "use the global theta", as
 *   transformers 4.48+ reads it); `rope_parameters.{full,sliding}_attention.rope_theta` wins.
 * - LayerNorm eps is norm_eps (default 1e-5); biases follow attention_bias / mlp_bias / norm_bias.
 */
function parseModernBertConfig(cfg: Record<string, unknown>, exitNorm: ExitNorm): EncoderConfig {
  const act = cfg.hidden_activation ?? 'gelu';
  if (typeof act !== 'string' || !SUPPORTED_ACTIVATIONS.has(act)) {
    throw new UnsupportedError(`hidden_activation ${JSON.stringify(act)} is not supported (only exact erf GELU)`);
  }
  if (cfg.rope_scaling !== undefined && cfg.rope_scaling !== null) {
    throw new UnsupportedError('rope_scaling is not supported (only unscaled RoPE)');
  }
  const hiddenSize = positiveInt(cfg, 'hidden_size');
  const numHeads = positiveInt(cfg, 'num_attention_heads');
  if (hiddenSize % numHeads !== 0 || (hiddenSize / numHeads) % 2 !== 0) {
    throw new ModelFormatError(
      `hidden_size ${hiddenSize} / num_attention_heads ${numHeads} must give an even head size (RoPE rotates pairs)`,
    );
  }
  const numLayers = positiveInt(cfg, 'num_hidden_layers');
  const every = positiveInt(cfg, 'global_attn_every_n_layers', 3);
  let globalLayers = Array.from({ length: numLayers }, (_, l) => l % every === 0);
  if (cfg.layer_types !== undefined && cfg.layer_types !== null) {
    const types = cfg.layer_types;
    if (
      !Array.isArray(types) ||
      types.length !== numLayers ||
      types.some((t) => t !== 'full_attention' && t !== 'sliding_attention')
    ) {
      throw new ModelFormatError(
        `config.json: "layer_types" must list "full_attention" or "sliding_attention" for each of the ${numLayers} layers`,
      );
    }
    // transformers 5 picks a layer's RoPE by layer_types but its window by the period: they must agree.
    const byType = types.map((t) => t === 'full_attention');
    if (cfg.global_attn_every_n_layers !== undefined && byType.some((g, l) => g !== globalLayers[l])) {
      throw new ModelFormatError('config.json: "layer_types" disagrees with "global_attn_every_n_layers"');
    }
    globalLayers = byType;
  }
  let globalRopeTheta: number;
  let localRopeTheta: number;
  if (cfg.rope_parameters !== undefined && cfg.rope_parameters !== null) {
    const params = obj(cfg.rope_parameters, 'rope_parameters');
    globalRopeTheta = ropeTheta(params, 'full_attention');
    localRopeTheta = ropeTheta(params, 'sliding_attention');
  } else {
    globalRopeTheta = num(cfg, 'global_rope_theta', 160000);
    localRopeTheta = cfg.local_rope_theta === null ? globalRopeTheta : num(cfg, 'local_rope_theta', 10000);
  }
  if (globalRopeTheta <= 0 || localRopeTheta <= 0) throw new ModelFormatError('config.json: RoPE thetas must be positive');
  const maxPositions = positiveInt(cfg, 'max_position_embeddings');
  return {
    modelType: 'modernbert',
    vocabSize: positiveInt(cfg, 'vocab_size'),
    hiddenSize,
    numLayers,
    numHeads,
    headDim: hiddenSize / numHeads,
    intermediateSize: positiveInt(cfg, 'intermediate_size'),
    maxPositions,
    typeVocabSize: 0,
    layerNormEps: num(cfg, 'norm_eps', 1e-5),
    padTokenId: num(cfg, 'pad_token_id', 50283),
    positionOffset: 0,
    maxTokens: maxPositions,
    modern: {
      globalLayers,
      windowHalf: Math.floor(positiveInt(cfg, 'local_attention', 128) / 2),
      globalRopeTheta,
      localRopeTheta,
      attentionBias: bool(cfg, 'attention_bias'),
      mlpBias: bool(cfg, 'mlp_bias'),
      normBias: bool(cfg, 'norm_bias'),
      exitNorm,
    },
  };
}

/**
 * Qwen3 and Gemma 3 text: the fields they share here, the rest in decoder-config.ts. Qwen3 has no
 * pad token of its own; any id works, padded positions are masked everywhere.
 */
function parseDecoderConfig(cfg: Record<string, unknown>, modelType: 'qwen3' | 'gemma3_text', exitNorm: ExitNorm): EncoderConfig {
  const hiddenSize = positiveInt(cfg, 'hidden_size');
  const { numHeads, numKvHeads, headDim } = decoderHeads(cfg, hiddenSize);
  const numbers = { hiddenSize, numLayers: positiveInt(cfg, 'num_hidden_layers'), headDim };
  const maxPositions = positiveInt(cfg, 'max_position_embeddings');
  const pad = cfg.pad_token_id;
  const qwen = modelType === 'qwen3';
  return {
    modelType: qwen ? 'qwen3' : 'gemma3',
    vocabSize: positiveInt(cfg, 'vocab_size'),
    ...numbers,
    numHeads,
    intermediateSize: positiveInt(cfg, 'intermediate_size'),
    maxPositions,
    typeVocabSize: 0,
    layerNormEps: num(cfg, 'rms_norm_eps', 1e-6),
    padTokenId: typeof pad === 'number' && Number.isInteger(pad) && pad >= 0 ? pad : 0,
    positionOffset: 0,
    maxTokens: maxPositions,
    decoder: (qwen ? qwen3Spec : gemma3Spec)(cfg, numbers, numKvHeads, exitNorm),
  };
}

/** Whether a pre-norm model's exit after `layers` layers passes through its final norm (see ExitNorm). */
export function exitUsesFinalNorm(config: EncoderConfig, layers: number): boolean {
  const m = config.modern ?? config.decoder;
  return m !== undefined && layers > 0 && (layers === config.numLayers || m.exitNorm === 'final');
}
