import type { EncoderConfig } from '../weights/config.js';
import type { EncoderWeights, WeightParts } from '../weights/weights.js';
import { bertReader } from './bert.js';
import { readClassifier } from './classifier.js';
import { decoderReader } from './decoder.js';
import { gteReader } from './gte.js';
import { jinaV3Reader } from './jina-v3.js';
import { modernBertReader } from './modernbert.js';
import { nomicReader } from './nomic.js';
import type { HfWeightOptions } from './options.js';
import type { TensorSource } from './safetensors.js';
import { staticReader } from './static.js';
import { t5Reader } from './t5.js';

/**
 * A checkpoint of any supported architecture, read a part at a time (see bertReader for the
 * options); a cross-encoder's classification head comes with the rest.
 */
export function weightsReader(config: EncoderConfig, source: TensorSource, options: HfWeightOptions = {}): WeightParts {
  const reader = architectureReader(config, source, options);
  if (!config.crossEncoder) return reader;
  return { ...reader, rest: async () => ({ ...(await reader.rest()), classifier: await readClassifier(config, source) }) };
}

function architectureReader(config: EncoderConfig, source: TensorSource, options: HfWeightOptions): WeightParts {
  if (config.modelType === 't5') return t5Reader(config, source, options);
  if (config.decoder) return decoderReader(config, source, options);
  if (config.modelType === 'model2vec') return staticReader(config, source, options);
  if (config.modelType === 'gte') return gteReader(config, source, options);
  if (config.modelType === 'nomic_bert') return nomicReader(config, source, options);
  if (config.modelType === 'jina_embeddings_v3') return jinaV3Reader(config, source, options);
  return config.modern ? modernBertReader(config, source, options) : bertReader(config, source, options);
}

/** Reads a checkpoint of any supported architecture whole: every layer in memory. */
export async function weightsFromTensors(
  config: EncoderConfig,
  source: TensorSource,
  options: HfWeightOptions = {},
): Promise<EncoderWeights> {
  const reader = weightsReader(config, source, options);
  const layers = [];
  for (let l = 0; l < reader.layerCount; l++) layers.push(await reader.layer(l));
  return { ...(await reader.rest()), layers } as EncoderWeights;
}
