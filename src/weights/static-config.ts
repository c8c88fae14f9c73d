import { ModelFormatError } from '../errors.js';
import { positiveInt } from './config-fields.js';
import type { EncoderConfig } from './encoder-config.js';

/**
 * model2vec's StaticModel (minishlab/potion-*, M2V_*): a vocabulary table distilled from a
 * sentence encoder and no layers. A text's vector is the mean of its tokens' rows, tokenized
 * without special tokens and with the unknown token dropped (StaticModel.tokenize), at most
 * MODEL2VEC_TOKENS of them (StaticModel.encode's max_length).
 */
export function isStaticConfig(raw: unknown): boolean {
  if (typeof raw !== 'object' || raw === null) return false;
  const cfg = raw as Record<string, unknown>;
  // model2vec wrote model_type only from late 2024; its earlier configs are known by their own keys.
  return (
    cfg.model_type === 'model2vec' ||
    (cfg.model_type === undefined && MODEL2VEC_KEYS.some((k) => Object.hasOwn(cfg, k))) ||
    (Array.isArray(cfg.architectures) && cfg.architectures.includes('StaticModel'))
  );
}

/** Keys of model2vec's config.json since its first release (2024-09: tokenizer_name, apply_pca, apply_zipf). */
const MODEL2VEC_KEYS = ['apply_pca', 'apply_zipf', 'sif_coefficient', 'tokenizer_name'];

/** Where a static embedder keeps its table: model2vec saves `embeddings`, sentence-transformers' StaticEmbedding `embedding.weight`. */
export const STATIC_TABLE_NAMES = ['embeddings', 'embedding.weight'];

const MODEL2VEC_TOKENS = 512;

/**
 * sentence-transformers' StaticEmbedding reads every token (its max_seq_length is infinite):
 * m3web stops at this many, past which a mean barely moves.
 */
const ST_STATIC_TOKENS = 8192;

/**
 * The config.json sentence-transformers' static layout lacks: the same forward as model2vec's,
 * but StaticEmbedding.tokenize keeps the unknown token (the width comes from the table).
 */
export const sentenceTransformersStaticConfig = (): Record<string, unknown> => ({
  model_type: 'model2vec',
  architectures: ['StaticEmbedding'],
  drop_unknown: false,
  max_tokens: ST_STATIC_TOKENS,
});

/**
 * model2vec's config.json names neither the vocabulary nor the layers, and its older ones not the
 * width either: they are added from the tokenizer (one vector per token) and the table's shape
 * (`shapeOf`, from the weights' headers) before the config is parsed or stored in a pack, so a
 * pack's manifest reads like any other model's (hidden_size, num_hidden_layers 0, vocab_size).
 */
export function completeStaticConfig(
  raw: unknown,
  tokenizerVocab: number,
  shapeOf: (tensor: string) => readonly number[] | undefined,
): unknown {
  if (!isStaticConfig(raw)) return raw;
  const cfg = raw as Record<string, unknown>;
  const table = STATIC_TABLE_NAMES.map(shapeOf).find((shape) => shape !== undefined);
  const hidden = cfg.hidden_dim ?? table?.[1];
  return {
    ...cfg,
    model_type: 'model2vec',
    vocab_size: cfg.vocab_size ?? tokenizerVocab,
    hidden_dim: hidden,
    hidden_size: hidden,
    num_hidden_layers: 0,
  };
}

export function parseStaticConfig(cfg: Record<string, unknown>): EncoderConfig {
  if (cfg.vocab_size === undefined || cfg.hidden_dim === undefined) {
    throw new ModelFormatError(
      'a model2vec config.json is read with its tokenizer and table (completeStaticConfig): vocab_size or hidden_dim is missing',
    );
  }
  return {
    modelType: 'model2vec',
    vocabSize: positiveInt(cfg, 'vocab_size'),
    hiddenSize: positiveInt(cfg, 'hidden_dim'),
    numLayers: 0,
    numHeads: 0,
    headDim: 0,
    intermediateSize: 0,
    maxPositions: 0,
    typeVocabSize: 0,
    layerNormEps: 0,
    padTokenId: 0,
    positionOffset: 0,
    maxTokens: positiveInt(cfg, 'max_tokens', MODEL2VEC_TOKENS),
  };
}

/**
 * How texts become tokens for a model of config.json `raw`: static embedders read no special
 * tokens and, as model2vec does (not sentence-transformers' StaticEmbedding), skip unknown ones.
 */
export const tokenizing = (raw: unknown): { specialTokens: boolean; dropUnknown: boolean } =>
  isStaticConfig(raw)
    ? { specialTokens: false, dropUnknown: (raw as Record<string, unknown>).drop_unknown !== false }
    : { specialTokens: true, dropUnknown: false };

/** The narrowest width offered by default. */
const MIN_WIDTH = 16;

/**
 * The widths a model may be cut to when nothing declares them: model2vec's table is PCA-reduced,
 * its dimensions ordered by variance, so its leading halves are what `dimensionality=` gives
 * (StaticModel.from_pretrained); other models keep their full width only (not trained for it).
 */
export function defaultWidths(config: EncoderConfig): number[] {
  const widths = [config.hiddenSize];
  if (config.modelType !== 'model2vec') return widths;
  for (let w = config.hiddenSize >> 1; w >= MIN_WIDTH; w >>= 1) widths.unshift(w);
  return widths;
}
