import { ModelFormatError, UnsupportedError } from '../errors.js';

export type ModelType = 'bert' | 'xlm-roberta';

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
}

const SUPPORTED_ACTIVATIONS = new Set(['gelu', 'gelu_python']);

function num(raw: Record<string, unknown>, key: string, fallback?: number): number {
  const v = raw[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new ModelFormatError(`config.json: "${key}" must be a number, got ${JSON.stringify(v)}`);
  }
  return v;
}

function positiveInt(raw: Record<string, unknown>, key: string, fallback?: number): number {
  const v = num(raw, key, fallback);
  if (!Number.isInteger(v) || v <= 0) {
    throw new ModelFormatError(`config.json: "${key}" must be a positive integer, got ${v}`);
  }
  return v;
}

export function parseHfConfig(raw: unknown): EncoderConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ModelFormatError('config.json must be a JSON object');
  }
  const cfg = raw as Record<string, unknown>;
  const modelType = cfg.model_type;
  if (modelType !== 'bert' && modelType !== 'xlm-roberta' && modelType !== 'roberta') {
    throw new UnsupportedError(
      `model_type ${JSON.stringify(modelType)} is not supported (supported: bert, xlm-roberta, roberta)`,
    );
  }
  const act = cfg.hidden_act ?? 'gelu';
  if (typeof act !== 'string' || !SUPPORTED_ACTIVATIONS.has(act)) {
    throw new UnsupportedError(`hidden_act ${JSON.stringify(act)} is not supported (only exact erf GELU)`);
  }
  const hiddenSize = positiveInt(cfg, 'hidden_size');
  const numHeads = positiveInt(cfg, 'num_attention_heads');
  if (hiddenSize % numHeads !== 0) {
    throw new ModelFormatError(`hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}`);
  }
  const isRoberta = modelType !== 'bert';
  const padTokenId = num(cfg, 'pad_token_id', isRoberta ? 1 : 0);
  const maxPositions = positiveInt(cfg, 'max_position_embeddings');
  const positionOffset = isRoberta ? padTokenId + 1 : 0;
  const maxTokens = maxPositions - positionOffset;
  if (maxTokens < 2) throw new ModelFormatError(`max_position_embeddings ${maxPositions} leaves no room for tokens`);
  return {
    modelType: isRoberta ? 'xlm-roberta' : 'bert',
    vocabSize: positiveInt(cfg, 'vocab_size'),
    hiddenSize,
    numLayers: positiveInt(cfg, 'num_hidden_layers'),
    numHeads,
    headDim: hiddenSize / numHeads,
    intermediateSize: positiveInt(cfg, 'intermediate_size'),
    maxPositions,
    typeVocabSize: positiveInt(cfg, 'type_vocab_size', 2),
    layerNormEps: num(cfg, 'layer_norm_eps', 1e-12),
    padTokenId,
    positionOffset,
    maxTokens,
  };
}
