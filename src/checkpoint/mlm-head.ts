import { ModelFormatError, UnsupportedError } from '../errors.js';
import type { EncoderConfig, SpladeSpec } from '../weights/encoder-config.js';
import { quantizeLinear } from '../weights/quantize.js';
import type { MlmHead } from '../weights/weights.js';
import type { TensorSource } from './safetensors.js';
import type { SentenceTransformersFiles } from './sentence-transformers.js';

/** Where each family's masked-LM head lives in its *ForMaskedLM state dict. */
interface HeadNames {
  dense: string;
  norm: string;
  decoder: string;
  /** The decoder's bias, under either name transformers has saved it by. */
  bias: readonly string[];
}

const NAMES: Partial<Record<EncoderConfig['modelType'], HeadNames>> = {
  bert: {
    dense: 'cls.predictions.transform.dense',
    norm: 'cls.predictions.transform.LayerNorm',
    decoder: 'cls.predictions.decoder.weight',
    bias: ['cls.predictions.bias', 'cls.predictions.decoder.bias'],
  },
  distilbert: {
    dense: 'vocab_transform',
    norm: 'vocab_layer_norm',
    decoder: 'vocab_projector.weight',
    bias: ['vocab_projector.bias'],
  },
  'xlm-roberta': {
    dense: 'lm_head.dense',
    norm: 'lm_head.layer_norm',
    decoder: 'lm_head.decoder.weight',
    bias: ['lm_head.bias', 'lm_head.decoder.bias'],
  },
};

const TANH_GELUS = ['gelu_new', 'gelu_fast', 'gelu_pytorch_tanh'];

/** The head's activation: BERT's `hidden_act`, DistilBERT's `activation`; RobertaLMHead always runs exact GELU. */
function headActivation(config: EncoderConfig, raw: Record<string, unknown>): SpladeSpec['headActivation'] {
  if (config.modelType === 'xlm-roberta') return 'gelu';
  const act = String((config.modelType === 'distilbert' ? raw.activation : raw.hidden_act) ?? 'gelu');
  if (act === 'gelu') return 'gelu';
  if (TANH_GELUS.includes(act)) return 'gelu_tanh';
  if (act === 'relu') return 'relu';
  throw new UnsupportedError(
    `the masked-LM head's activation ${JSON.stringify(act)} is not one m3web runs (gelu, its tanh forms, relu)`,
  );
}

/**
 * A *ForMaskedLM checkpoint's head, for a SPLADE encoder, and the activation after its dense
 * layer: the transform (dense, LayerNorm) in f32 and the decoder's bias; its weight only where it
 * is stored apart from the word table (masked-LM checkpoints tie the two, and transformers saves
 * the table once), else null.
 */
export async function mlmHeadOf(
  source: TensorSource,
  config: EncoderConfig,
  raw: Record<string, unknown>,
): Promise<{ head: MlmHead; activation: SpladeSpec['headActivation'] }> {
  const names = NAMES[config.modelType];
  if (!names)
    throw new UnsupportedError(`a SPLADE head over ${config.modelType} is not read (BERT, DistilBERT, RoBERTa / XLM-R)`);
  const H = config.hiddenSize;
  const V = config.vocabSize;
  const need = (name: string) => {
    if (!source.has(name)) {
      throw new ModelFormatError(
        `a SPLADE model's masked-LM head needs ${name}, which the checkpoint lacks (saved without its *ForMaskedLM head?)`,
      );
    }
    return name;
  };
  const biasName = names.bias.find((n) => source.has(n)) ?? need(names.bias[0] as string);
  const [w, b, gamma, beta, bias] = await Promise.all([
    source.get(need(`${names.dense}.weight`), [H, H]),
    source.get(need(`${names.dense}.bias`), [H]),
    source.get(need(`${names.norm}.weight`), [H]),
    source.get(need(`${names.norm}.bias`), [H]),
    source.get(biasName, [V]),
  ]);
  const decoder = source.has(names.decoder) ? quantizeLinear(await source.get(names.decoder, [V, H]), V, H, bias, 'f32') : null;
  return {
    head: { transform: quantizeLinear(w, H, H, b, 'f32'), norm: { gamma, beta }, decoder, bias },
    activation: headActivation(config, raw),
  };
}

/** Repository or folder names of SPLADE models: naver/splade-*, prithivida/Splade_PP_*, and their copies. */
const SPLADE_NAME = /splade/i;

/** The query weights of an inference-free sparse encoder in OpenSearch's own layout (token -> weight). */
export const IDF_FILE = 'idf.json';

/**
 * The sentence-transformers files, with SPLADE's pooling where the folder has none of its own but
 * its config names a masked LM and its name says SPLADE (naver's and prithivida's repositories
 * predate sentence-transformers' SparseEncoder): max pooling of log1p(relu), as SPLADE v2 and
 * later pool. Read otherwise, such a model would be mean-pooled as a dense embedder it is not.
 * For the same reason a masked LM with an idf.json and no sentence-transformers files
 * (OpenSearch's original layout of an inference-free model) is refused.
 */
export function spladeByName(st: SentenceTransformersFiles, raw: unknown, name: string | undefined): SentenceTransformersFiles {
  const architectures = (raw as { architectures?: unknown } | null)?.architectures;
  const maskedLm = Array.isArray(architectures) && architectures.some((a) => typeof a === 'string' && a.endsWith('ForMaskedLM'));
  if (st.modules === undefined && st.idf && maskedLm) {
    // Read as the masked LM it holds, it would give vectors unlike the model's without a word.
    throw new UnsupportedError(
      `${name ?? 'the folder'} holds a masked LM and an ${IDF_FILE}: an inference-free sparse encoder in OpenSearch's own layout, ` +
        "whose document pooling its files do not say; m3web reads such models in sentence-transformers' layout " +
        '(modules.json naming a Router, router_config.json): use a revision that has it',
    );
  }
  if (st.modules !== undefined || st.splade || !maskedLm || name === undefined || !SPLADE_NAME.test(name)) return st;
  return { ...st, splade: { config: { pooling_strategy: 'max', activation_function: 'relu' } } };
}

/**
 * Inference-free SPLADE's query weights (SparseStaticEmbedding's `weight`, one per token id) over
 * the vocabulary's V ids: a table made from an IDF file may stop at its largest id, the rest weigh 0.
 */
export async function queryWeightsOf(source: TensorSource, vocabSize: number): Promise<Float32Array> {
  const shape = source.shape('weight');
  const n = shape?.length === 1 ? (shape[0] as number) : -1;
  if (n < 1 || n > vocabSize) {
    throw new ModelFormatError(
      `the query route's model.safetensors must hold "weight", one value per token id (at most ${vocabSize}), got ${shape ? `[${shape.join(', ')}]` : 'none'}`,
    );
  }
  const weights = new Float32Array(vocabSize);
  weights.set(await source.get('weight', [n]));
  return weights;
}
