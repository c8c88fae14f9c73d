import type { EncoderConfig } from '../weights/config.js';
import type { EncoderWeights } from '../weights/weights.js';
import { bertWeightsFromTensors } from './bert.js';
import { decoderWeightsFromTensors } from './decoder.js';
import { modernBertWeightsFromTensors } from './modernbert.js';
import type { HfWeightOptions } from './options.js';
import type { TensorSource } from './safetensors.js';

/** Reads a checkpoint of any supported architecture (see bertWeightsFromTensors for the options). */
export function weightsFromTensors(
  config: EncoderConfig,
  source: TensorSource,
  options: HfWeightOptions = {},
): Promise<EncoderWeights> {
  if (config.decoder) return decoderWeightsFromTensors(config, source, options);
  return config.modern ? modernBertWeightsFromTensors(config, source, options) : bertWeightsFromTensors(config, source, options);
}
