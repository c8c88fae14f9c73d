import type { EncoderConfig } from '../weights/config.js';
import type { DenseModule } from '../weights/weights.js';
import { readBiasedLinear } from './matrix.js';
import type { TensorSource } from './safetensors.js';

/**
 * A cross-encoder's head (config.crossEncoder) from a *ForSequenceClassification checkpoint, kept
 * in f32 (two small matrices): BertForSequenceClassification's `{p}pooler.dense` (tanh) and
 * `classifier`, XLMRobertaForSequenceClassification's `classifier.dense` (tanh) and
 * `classifier.out_proj` (transformers' RobertaClassificationHead). `p` is the encoder's prefix.
 */
export async function readClassifier(config: EncoderConfig, source: TensorSource, p: string): Promise<DenseModule[]> {
  const H = config.hiddenSize;
  const dense = async (name: string, rows: number, activation: DenseModule['activation']): Promise<DenseModule> => ({
    linear: await readBiasedLinear(source, [{ name: `${name}.weight`, rows, bias: `${name}.bias` }], H, 'f32'),
    activation,
  });
  return config.modelType === 'bert'
    ? [await dense(`${p}pooler.dense`, H, 'tanh'), await dense('classifier', 1, 'identity')]
    : [await dense('classifier.dense', H, 'tanh'), await dense('classifier.out_proj', 1, 'identity')];
}
