import { ModelFormatError, UnsupportedError } from '../errors.js';
import type { EncoderConfig } from '../weights/config.js';
import { ST_STATIC_TABLE, sentenceTransformersStaticConfig } from '../weights/static-config.js';
import type { StaticWeights, WeightParts } from '../weights/weights.js';
import { readEmbeddingTable } from './matrix.js';
import type { HfWeightOptions } from './options.js';
import type { TensorInfo, TensorSource } from './safetensors.js';

/** The table's name: model2vec saves `embeddings`, sentence-transformers' StaticEmbedding `embedding.weight`. */
const TABLE_NAMES = ['embeddings', ST_STATIC_TABLE];

/**
 * The config of a sentence-transformers static folder (no config.json), from its table's shape in
 * the safetensors header `tensors` of `file`.
 */
export function staticModuleConfig(tensors: ReadonlyMap<string, TensorInfo>, file: string): Record<string, unknown> {
  const shape = tensors.get(ST_STATIC_TABLE)?.shape;
  if (shape?.length !== 2 || !shape[1]) {
    throw new ModelFormatError(`${file} holds no 2-D ${ST_STATIC_TABLE} tensor: it is no StaticEmbedding module's`);
  }
  return sentenceTransformersStaticConfig(shape[1]);
}

/**
 * Reads a static embedder's vocabulary table (see StaticWeights). model2vec's vocabulary
 * quantization (a `mapping` from tokens to shared rows and per-token `weights`) is refused: its
 * rows are not one per token.
 */
export function staticReader(
  config: EncoderConfig,
  source: TensorSource,
  options: HfWeightOptions = {},
): WeightParts<StaticWeights> {
  const { embeddingQuant = 'f32', alloc } = options;
  const table = options.table ?? readEmbeddingTable;
  return {
    layerCount: 0,
    layer(l) {
      throw new RangeError(`a static embedder has no layer ${l}`);
    },
    async rest() {
      if (source.has('mapping') || source.has('weights')) {
        throw new UnsupportedError(
          'this model2vec model is vocabulary-quantized (its tokens share rows through a "mapping" tensor): m3web reads models with one row per token',
        );
      }
      const name = TABLE_NAMES.find((n) => source.has(n));
      if (!name)
        throw new ModelFormatError(`a model2vec model's weights hold its table as ${TABLE_NAMES.join(' or ')}: neither is there`);
      return {
        family: 'static',
        config,
        word: await table(source, name, config.vocabSize, config.hiddenSize, embeddingQuant, alloc),
      };
    },
  };
}
