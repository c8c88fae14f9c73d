import { ModelFormatError, UnsupportedError } from '../errors.js';
import {
  albertLayerGroups,
  bertNumbers,
  factorizedEmbeddings,
  parseDistilBertConfig,
  parseGteConfig,
  parseJinaConfig,
  parseJinaV3Config,
  parseMpnetConfig,
  parseNomicConfig,
} from './bert-configs.js';
import { bool, ERF_GELU, num, obj, positiveInt, ropeTheta } from './config-fields.js';
import { type ClassifierFamily, crossEncoderSpec, isOneLabelClassifier } from './cross-encoder-config.js';
import { parseDebertaV2Config } from './deberta-config.js';
import { decoderHeads, eurobertSpec, gemma3Spec, qwen2Spec, qwen3Spec } from './decoder-config.js';
import { decoderRerankerOverrides } from './decoder-rerankers.js';
import type { EncoderConfig, ModelType } from './encoder-config.js';
import { EXIT_NORMS, type ExitNorm } from './exit-norm.js';
import { JINA_V5_TYPE, jinaV5Base } from './jina-v5.js';
import { lateInteractionSpec } from './late-interaction.js';
import { listwiseSpec } from './listwise.js';
import { sparseSpec } from './sparse.js';
import { spladeSpec } from './splade.js';
import { isStaticConfig, parseStaticConfig } from './static-config.js';
import { parseT5Config } from './t5-config.js';

export { readsSegmentTypes } from './cross-encoder-config.js';
export {
  type CrossEncoderSpec,
  type EncoderConfig,
  type GatedBertSpec,
  type LateInteractionSpec,
  type ListwiseSpec,
  type LoraSpec,
  type ModelType,
  type ModernBertSpec,
  type MoeSpec,
  POOLINGS,
  type Pooling,
  type RopeSpec,
  type SparseSpec,
} from './encoder-config.js';
export { EXIT_NORMS, type ExitNorm };

/** The model_types read by the BERT branch: BERT's layers and learned positions. */
const BERT_BRANCH = new Set<unknown>(['bert', 'xlm-roberta', 'roberta', 'electra', 'albert']);

/** config.json model_type values m3web runs. */
export const SUPPORTED_MODEL_TYPES = [
  'bert',
  'xlm-roberta',
  'roberta',
  'camembert',
  'electra',
  'albert',
  'distilbert',
  'mpnet',
  'new',
  'gte',
  'nomic_bert',
  'modernbert',
  'qwen2',
  'qwen3',
  'gemma3_text',
  'eurobert',
  'jina_embeddings_v5',
  'bidirectional_pplx_qwen3',
  't5',
  'mt5',
  'deberta-v2',
  'model2vec',
  'jina_embeddings_v3',
] as const;

export interface ConfigOptions {
  /** Pre-norm models only (ModernBERT, Qwen3, Gemma 3, T5; default 'none'); packs record it in their manifest. */
  exitNorm?: ExitNorm;
}

export function parseHfConfig(raw: unknown, options: ConfigOptions = {}): EncoderConfig {
  const config = withSplade(
    withSparse(parseArchitecture(raw, options), raw as Record<string, unknown>),
    raw as Record<string, unknown>,
  );
  const late = lateInteractionSpec(raw as Record<string, unknown>, config.vocabSize);
  if (!late) return config;
  if (config.crossEncoder || config.decoder || config.numLayers === 0)
    throw new UnsupportedError('late interaction (ColBERT) is read over BERT-style and ModernBERT encoders only');
  if (late.queryLength > config.maxTokens || late.documentLength > config.maxTokens)
    throw new ModelFormatError(`the ColBERT query and document lengths must fit the model's ${config.maxTokens} positions`);
  return { ...config, lateInteraction: late };
}

/** The encoders whose masked-LM heads m3web reads (BERT's `cls.predictions`, DistilBERT's `vocab_*`, RoBERTa's `lm_head`). */
export const SPLADE_TYPES: readonly ModelType[] = ['bert', 'distilbert', 'xlm-roberta'];

function withSplade(config: EncoderConfig, raw: Record<string, unknown>): EncoderConfig {
  const splade = spladeSpec(raw);
  if (!splade) return config;
  if (
    !SPLADE_TYPES.includes(config.modelType) ||
    config.crossEncoder ||
    config.lateInteraction ||
    config.sparse ||
    config.factorized
  )
    throw new UnsupportedError(
      `a SPLADE head is read over BERT, DistilBERT and RoBERTa / XLM-R encoders only, not ${config.modelType} or rerankers`,
    );
  return { ...config, splade };
}

function withSparse(config: EncoderConfig, raw: Record<string, unknown>): EncoderConfig {
  const sparse = sparseSpec(raw, config.vocabSize);
  if (!sparse) return config;
  if (config.crossEncoder || config.numLayers === 0)
    throw new UnsupportedError(
      'a lexical-weights (sparse) head is read over encoders that embed text, not rerankers or static tables',
    );
  return { ...config, sparse };
}

function parseArchitecture(raw: unknown, options: ConfigOptions): EncoderConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ModelFormatError('config.json must be a JSON object');
  }
  const cfg = raw as Record<string, unknown>;
  // CamemBERT is RoBERTa under another name (CamembertModel keeps RoBERTa's classes and `roberta.` prefix).
  const modelType =
    cfg.model_type === 'camembert' ? 'roberta' : (cfg.model_type ?? (isFlashXlmRoberta(cfg) ? 'xlm-roberta' : undefined));
  const exitNorm = options.exitNorm ?? 'none';
  if (!EXIT_NORMS.includes(exitNorm))
    throw new ModelFormatError(`exitNorm must be none or final, got ${JSON.stringify(exitNorm)}`);
  if (modelType === 'modernbert') return withCrossEncoder(parseModernBertConfig(cfg, exitNorm), cfg, 'modernbert');
  if (isStaticConfig(cfg)) return parseStaticConfig(cfg);
  if (modelType === 'new' || modelType === 'gte') return withCrossEncoder(parseGteConfig(cfg), cfg, 'gte');
  if (modelType === 'nomic_bert') return parseNomicConfig(cfg);
  if (modelType === 'distilbert') return withCrossEncoder(parseDistilBertConfig(cfg), cfg, 'distilbert');
  if (modelType === 'mpnet') return parseMpnetConfig(cfg);
  if (modelType === 'qwen3' || modelType === 'qwen2') return parseQwenConfig(cfg, modelType, exitNorm);
  if (modelType === 'gemma3_text') return parseDecoderConfig(cfg, modelType, exitNorm);
  if (modelType === 'eurobert') return parseEuroBertConfig(cfg, exitNorm);
  // Its adapters are merged into the weights as they are read (checkpoint/lora-merge.ts).
  if (modelType === JINA_V5_TYPE) return parseDecoderConfig(cfg, jinaV5Base(cfg), exitNorm);
  // pplx-embed's PPLXQwen3Model (its modeling.py) is Qwen3Model with every layer's attention both ways.
  if (modelType === 'bidirectional_pplx_qwen3') return parseDecoderConfig({ ...cfg, is_causal: false }, 'qwen3', exitNorm);
  if (modelType === 't5' || modelType === 'mt5') return parseT5Config(cfg, exitNorm);
  if (modelType === 'deberta-v2') return withCrossEncoder(parseDebertaV2Config(cfg), cfg, 'deberta');
  if (modelType === 'jina_embeddings_v3') return parseJinaV3Config(cfg, bertNumbers(cfg));
  if (!BERT_BRANCH.has(modelType)) {
    throw new UnsupportedError(
      `model_type ${JSON.stringify(modelType)} is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`,
    );
  }
  const positions = cfg.position_embedding_type ?? 'absolute';
  const albert = modelType === 'albert';
  const numbers = bertNumbers(cfg, { tanhGelu: positions === 'absolute', defaultAct: albert ? 'gelu_new' : 'gelu' });
  // JinaBertForSequenceClassification (jina-reranker-v1) is BertForSequenceClassification over JinaBERT.
  if (positions === 'alibi' && modelType === 'bert') return withCrossEncoder(parseJinaConfig(cfg, numbers), cfg, 'bert');
  if (positions === 'rotary' && modelType === 'xlm-roberta') return parseJinaV3Config(cfg, numbers);
  // relative_key BERTs have no position table to read either.
  if (positions !== 'absolute') {
    throw new UnsupportedError(
      `position_embedding_type ${JSON.stringify(positions)} is not supported (only absolute, ALiBi, and rotary for XLM-R)`,
    );
  }
  const isRoberta = modelType === 'xlm-roberta' || modelType === 'roberta';
  const padTokenId = num(cfg, 'pad_token_id', isRoberta ? 1 : 0);
  const positionOffset = isRoberta ? padTokenId + 1 : 0;
  const maxTokens = numbers.maxPositions - positionOffset;
  if (maxTokens < 2) throw new ModelFormatError(`max_position_embeddings ${numbers.maxPositions} leaves no room for tokens`);
  const config: EncoderConfig = {
    modelType: isRoberta ? 'xlm-roberta' : albert ? 'albert' : 'bert',
    ...numbers,
    typeVocabSize: positiveInt(cfg, 'type_vocab_size', 2),
    padTokenId,
    positionOffset,
    maxTokens,
    // ELECTRA (modeling_electra.py) is BERT's embeddings and layers under `electra.`, without a pooler.
    ...(albert || modelType === 'electra' ? factorizedEmbeddings(cfg, modelType, numbers.hiddenSize) : {}),
    ...(albert ? albertLayerGroups(cfg, numbers.numLayers) : {}),
  };
  // ALBERT's sequence classifiers (its pooler is a bare Linear) open as the encoder beneath them.
  if (albert) return config;
  // ELECTRA's sequence classifier has RoBERTa's head shape, with exact GELU.
  return withCrossEncoder(config, cfg, modelType === 'electra' ? 'electra' : isRoberta ? 'roberta' : 'bert');
}

/**
 * jinaai's xlm-roberta-flash-implementation (jina-reranker-v2-base-multilingual) writes no
 * model_type: its XLMRobertaFlashConfig, named in auto_map, sets none.
 */
function isFlashXlmRoberta(cfg: Record<string, unknown>): boolean {
  const map = cfg.auto_map;
  const named = typeof map === 'object' && map !== null ? (map as Record<string, unknown>).AutoConfig : undefined;
  return typeof named === 'string' && named.endsWith('.XLMRobertaFlashConfig');
}

function withCrossEncoder(config: EncoderConfig, cfg: Record<string, unknown>, family: ClassifierFamily): EncoderConfig {
  const crossEncoder = crossEncoderSpec(cfg, family);
  return crossEncoder ? { ...config, crossEncoder } : config;
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
 * - The MLP is act(input) * gate over Wi's two halves, act by hidden_activation: exact GELU, or SiLU.
 */
function parseModernBertConfig(cfg: Record<string, unknown>, exitNorm: ExitNorm): EncoderConfig {
  const act = cfg.hidden_activation ?? 'gelu';
  const gate = typeof act === 'string' && ERF_GELU.has(act) ? 'gelu' : act === 'silu' || act === 'swish' ? 'silu' : null;
  if (gate === null) {
    throw new UnsupportedError(`hidden_activation ${JSON.stringify(act)} is not supported (exact erf GELU or SiLU)`);
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
      gate,
      exitNorm,
    },
  };
}

/**
 * Qwen3 and Qwen2: a reranker (Qwen3-Reranker, mxbai-rerank-v2: decoder-rerankers.ts; jina-reranker-v3:
 * listwise.ts), or an
 * embedder run as transformers' Qwen3Model / Qwen2Model runs it: causal (Qwen3-Embedding), or
 * bidirectional where the config says `is_causal: false`. A config whose auto_map names model code
 * of its own, and which does not say, is refused: that code may attend both ways (gte-Qwen2's and
 * pplx-embed's do), and running it causally would give plausible but wrong vectors.
 */
function parseQwenConfig(cfg: Record<string, unknown>, family: 'qwen3' | 'qwen2', exitNorm: ExitNorm): EncoderConfig {
  const listwise = family === 'qwen3' ? listwiseSpec(cfg) : null;
  // jina-reranker-v3's code is Qwen3ForCausalLM's forward, causal, with its projector after it.
  if (listwise) return { ...parseDecoderConfig(cfg, family, exitNorm), listwise };
  const config = withCrossEncoder(parseDecoderConfig(cfg, family, exitNorm), cfg, family);
  const map = cfg.auto_map;
  const remote =
    typeof map === 'object' && map !== null ? Object.entries(map).find(([k]) => k.startsWith('AutoModel')) : undefined;
  const says = typeof cfg.is_causal === 'boolean' || typeof cfg.use_bidirectional_attention === 'boolean';
  if (!config.crossEncoder && remote && !says) {
    throw new UnsupportedError(
      `this ${family === 'qwen3' ? 'Qwen3' : 'Qwen2'} model runs its own code (auto_map ${remote[0]}: ${JSON.stringify(remote[1])}), ` +
        `which may attend both ways where transformers' model is causal, and its config has no "is_causal" to say: ` +
        'm3web runs it as transformers defines it only',
    );
  }
  return config;
}

/**
 * EuroBERT: an embedder as its bare model runs (a sentence-transformers folder says the pooling).
 * Its sequence classifiers pool late (a score per token, then their mean), a head m3web does not
 * have: a one-label one is refused rather than opened as an embedder that would only look right.
 */
function parseEuroBertConfig(cfg: Record<string, unknown>, exitNorm: ExitNorm): EncoderConfig {
  const config = parseDecoderConfig(cfg, 'eurobert', exitNorm);
  if (isOneLabelClassifier(cfg)) {
    throw new UnsupportedError('EuroBERT cross-encoders (EuroBertForSequenceClassification with one label) are not supported');
  }
  return config;
}

/**
 * Qwen3, Qwen2 and Gemma 3 text: the fields they share here, the rest in decoder-config.ts. Qwen
 * has no pad token of its own; any id works, padded positions are masked everywhere.
 */
function parseDecoderConfig(
  cfg: Record<string, unknown>,
  modelType: 'qwen3' | 'qwen2' | 'gemma3_text' | 'eurobert',
  exitNorm: ExitNorm,
): EncoderConfig {
  const hiddenSize = positiveInt(cfg, 'hidden_size');
  const { numHeads, numKvHeads, headDim } = decoderHeads(cfg, hiddenSize);
  const numbers = { hiddenSize, numLayers: positiveInt(cfg, 'num_hidden_layers'), headDim };
  const maxPositions = positiveInt(cfg, 'max_position_embeddings');
  const pad = cfg.pad_token_id;
  const spec = { qwen3: qwen3Spec, qwen2: qwen2Spec, gemma3_text: gemma3Spec, eurobert: eurobertSpec }[modelType];
  return {
    modelType: modelType === 'gemma3_text' ? 'gemma3' : modelType,
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
    decoder: spec(cfg, numbers, numKvHeads, exitNorm),
  };
}

/**
 * The architecture, depth and width a config.json names, before its tokenizer is read: what a
 * caller checks before fetching weights (a model2vec config needs the tokenizer for the rest).
 * `name` (a Hub id or folder) tells a decoder reranker that only its name says it is one.
 */
export function peekHfConfig(
  raw: unknown,
  name?: string,
): { modelType: ModelType; numLayers: number; hiddenSize: number | null } {
  if (!isStaticConfig(raw)) return parseHfConfig(decoderRerankerOverrides(raw, name));
  // Older model2vec configs leave the width to the table.
  const hidden = (raw as Record<string, unknown>).hidden_dim;
  return {
    modelType: 'model2vec',
    numLayers: 0,
    hiddenSize: hidden === undefined ? null : positiveInt(raw as Record<string, unknown>, 'hidden_dim'),
  };
}

/** The shallowest exit a model has: 1, or 0 for a static embedder (numLayers 0). */
export const firstExit = (numLayers: number): number => Math.min(1, numLayers);

/** Every layer count a model may stop at: 1..numLayers, or 0 alone for a static embedder. */
export const everyExit = (numLayers: number): number[] =>
  numLayers === 0 ? [0] : Array.from({ length: numLayers }, (_, i) => i + 1);

/** Whether a pre-norm model's exit after `layers` layers passes through its final norm (see ExitNorm). */
export function exitUsesFinalNorm(config: EncoderConfig, layers: number): boolean {
  const m = config.modern ?? config.decoder;
  return m !== undefined && layers > 0 && (layers === config.numLayers || m.exitNorm === 'final');
}
