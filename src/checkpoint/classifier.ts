import type { CrossEncoderSpec, EncoderConfig } from '../weights/config.js';
import type { ClassifierHead } from '../weights/weights.js';
import { readBiasedLinear } from './matrix.js';
import { tensorPrefix } from './prefix.js';
import type { TensorSource } from './safetensors.js';

const POOLER = 'pooler.dense.weight';

/**
 * Where each architecture's *ForSequenceClassification keeps its head: BERT's and GTE's pooler
 * under the encoder's prefix (BertForSequenceClassification, new-impl's
 * NewForSequenceClassification), RoBERTa's classification head (XLM-R, and jinaai's
 * xlm-roberta-flash-implementation the same; ELECTRA's over BERT's layers), DistilBERT's pre_classifier, ModernBERT's
 * head.{dense, norm}; each ends in `classifier` (RoBERTa's in classifier.out_proj), a decoder's
 * in `score`, without a bias.
 */
function headNames(
  config: EncoderConfig,
  source: TensorSource,
): { hidden: string | null; norm: string | null; out: string; outBias: boolean } {
  switch (config.modelType) {
    case 'xlm-roberta':
      return { hidden: 'classifier.dense', norm: null, out: 'classifier.out_proj', outBias: true };
    case 'distilbert':
      return { hidden: 'pre_classifier', norm: null, out: 'classifier', outBias: true };
    case 'modernbert':
      return { hidden: 'head.dense', norm: 'head.norm', out: 'classifier', outBias: true };
    case 'qwen3':
    case 'qwen2':
      return { hidden: null, norm: null, out: 'score', outBias: false };
    default:
      // ELECTRA's head is RoBERTa's, over BERT's layers (no pooler).
      if (source.has('classifier.out_proj.weight'))
        return { hidden: 'classifier.dense', norm: null, out: 'classifier.out_proj', outBias: true };
      return {
        hidden: `${tensorPrefix(source, POOLER, 'sequence classifier')}pooler.dense`,
        norm: null,
        out: 'classifier',
        outBias: true,
      };
  }
}

/** A cross-encoder's head (config.crossEncoder) from its checkpoint, in f32. */
export async function readClassifier(config: EncoderConfig, source: TensorSource): Promise<ClassifierHead> {
  const H = config.hiddenSize;
  const { hidden } = config.crossEncoder as CrossEncoderSpec;
  const names = headNames(config, source);
  const linear = (name: string, rows: number, bias: boolean) =>
    readBiasedLinear(source, [{ name: `${name}.weight`, rows, bias: bias ? `${name}.bias` : null }], H, 'f32');
  const norm =
    names.norm && hidden?.norm
      ? {
          gamma: await source.get(`${names.norm}.weight`, [H]),
          beta: hidden.norm.bias ? await source.get(`${names.norm}.bias`, [H]) : new Float32Array(H),
        }
      : null;
  return {
    hidden: names.hidden && hidden ? await linear(names.hidden, H, hidden.bias) : null,
    norm,
    out: await linear(names.out, 1, names.outBias),
  };
}
