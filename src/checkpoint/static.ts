import { ModelFormatError, UnsupportedError } from '../errors.js';
import type { EncoderConfig } from '../weights/config.js';
import { STATIC_TABLE_NAMES } from '../weights/static-config.js';
import type { StaticWeights, WeightParts } from '../weights/weights.js';
import { readEmbeddingTable } from './matrix.js';
import type { HfWeightOptions } from './options.js';
import type { TensorSource } from './safetensors.js';

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
      const name = STATIC_TABLE_NAMES.find((n) => source.has(n));
      if (!name)
        throw new ModelFormatError(
          `a model2vec model's weights hold its table as ${STATIC_TABLE_NAMES.join(' or ')}: neither is there`,
        );
      return {
        family: 'static',
        config,
        word: await table(source, name, config.vocabSize, config.hiddenSize, embeddingQuant, alloc),
      };
    },
  };
}
