import { ModelFormatError, UnsupportedError } from '../errors.js';
import { bool, ERF_GELU } from './config-fields.js';
import { DECODER_RERANK_PROMPTS, type DecoderRerankPrompt, isCausalLm } from './decoder-rerankers.js';
import type { CrossEncoderSpec, EncoderConfig } from './encoder-config.js';

/** The architectures whose single-label sequence classifiers m3web runs, by their classification head. */
export type ClassifierFamily =
  | 'bert'
  | 'roberta'
  | 'electra'
  | 'gte'
  | 'distilbert'
  | 'modernbert'
  | 'deberta'
  | 'qwen3'
  | 'qwen2';

/**
 * A single-label *ForSequenceClassification config: a cross-encoder (reranker). Classifiers with
 * more labels, and every other architecture, open as the encoder under their head, as before.
 */
export function crossEncoderSpec(cfg: Record<string, unknown>, family: ClassifierFamily): CrossEncoderSpec | null {
  return isOneLabelClassifier(cfg) ? { activation: scoreActivation(cfg), ...headOf(family, cfg) } : null;
}

/** Whether a config is a one-label sequence classifier: a cross-encoder's. */
export function isOneLabelClassifier(cfg: Record<string, unknown>): boolean {
  // A causal LM told which answer tokens score it (vLLM's classifier_from_token) is the one-label
  // classifier the checkpoint readers turn it into.
  if (isCausalLm(cfg) && cfg.classifier_from_token !== undefined) return true;
  const classifier =
    Array.isArray(cfg.architectures) &&
    cfg.architectures.some((a) => typeof a === 'string' && a.endsWith('ForSequenceClassification'));
  const labels = cfg.num_labels ?? (typeof cfg.id2label === 'object' && cfg.id2label ? Object.keys(cfg.id2label).length : 2);
  return classifier && labels === 1;
}

function headOf(family: ClassifierFamily, cfg: Record<string, unknown>): Omit<CrossEncoderSpec, 'activation'> {
  if (family === 'modernbert') return modernBertHead(cfg);
  if (family === 'deberta') return debertaHead(cfg);
  // Qwen*ForSequenceClassification: `score` over the last real token's final-normed state. The
  // single-label ones are rerankers (their answer tokens' rows of the LM head as one), which read
  // their chat prompt.
  if (family === 'qwen3' || family === 'qwen2') return { pooling: 'last', hidden: null, input: decoderPrompt(cfg, family) };
  return pooledHead(family);
}

/**
 * The prompt a decoder reranker reads: the one its name told (decoder-rerankers.ts), else
 * Qwen3-Reranker's for Qwen3, the only single-label Qwen3 classifiers published; a Qwen2 one could
 * be anyone's.
 */
function decoderPrompt(cfg: Record<string, unknown>, family: 'qwen3' | 'qwen2'): DecoderRerankPrompt {
  const told = cfg.m3web_rerank_prompt;
  if (told !== undefined) {
    if (!DECODER_RERANK_PROMPTS.includes(told as DecoderRerankPrompt)) {
      throw new ModelFormatError(
        `config.json: "m3web_rerank_prompt" must be one of ${DECODER_RERANK_PROMPTS.join(', ')}, got ${JSON.stringify(told)}`,
      );
    }
    return told as DecoderRerankPrompt;
  }
  if (family === 'qwen3') return 'qwen3-reranker';
  throw new UnsupportedError(
    'a Qwen2 sequence classifier whose prompt is unknown: config.json does not say it, and m3web knows ' +
      'mxbai-rerank-v2 (by its name) only',
  );
}

function scoreActivation(cfg: Record<string, unknown>): CrossEncoderSpec['activation'] {
  const st = cfg.sentence_transformers;
  const named = typeof st === 'object' && st !== null ? (st as Record<string, unknown>).activation_fn : undefined;
  if (named === undefined || named === null || named === 'torch.nn.modules.activation.Sigmoid') return 'sigmoid';
  if (named === 'torch.nn.modules.linear.Identity') return 'identity';
  throw new UnsupportedError(`cross-encoder activation_fn ${JSON.stringify(named)} is not supported (only Sigmoid and Identity)`);
}

/**
 * BERT's and GTE's pooler, RoBERTa's and ELECTRA's classification heads, DistilBERT's
 * pre_classifier: the first token through one dense layer, then tanh (ELECTRA: exact GELU,
 * DistilBERT: ReLU).
 */
function pooledHead(family: 'bert' | 'roberta' | 'electra' | 'gte' | 'distilbert'): Omit<CrossEncoderSpec, 'activation'> {
  const activation = family === 'distilbert' ? 'relu' : family === 'electra' ? 'gelu' : 'tanh';
  return { pooling: 'cls', hidden: { activation, bias: true, norm: null }, input: 'pair' };
}

/**
 * DebertaV2ForSequenceClassification's ContextPooler: the first token through pooler.dense and
 * pooler_hidden_act (exact GELU; the default), as wide as the hidden size, then the classifier.
 */
function debertaHead(cfg: Record<string, unknown>): Omit<CrossEncoderSpec, 'activation'> {
  const act = cfg.pooler_hidden_act ?? 'gelu';
  if (typeof act !== 'string' || !ERF_GELU.has(act)) {
    throw new UnsupportedError(`pooler_hidden_act ${JSON.stringify(act)} is not supported (only exact erf GELU)`);
  }
  const width = cfg.pooler_hidden_size;
  if (width !== undefined && width !== cfg.hidden_size) {
    throw new UnsupportedError(`a DeBERTa pooler of ${JSON.stringify(width)} features (not hidden_size) is not supported`);
  }
  return { pooling: 'cls', hidden: { activation: 'gelu', bias: true, norm: null }, input: 'pair' };
}

/**
 * ModernBertForSequenceClassification (transformers' modeling_modernbert.py): the final-normed
 * states pooled by classifier_pooling, then ModernBertPredictionHead, norm(act(dense(x))).
 */
function modernBertHead(cfg: Record<string, unknown>): Omit<CrossEncoderSpec, 'activation'> {
  const pooling = cfg.classifier_pooling ?? 'cls';
  if (pooling !== 'cls' && pooling !== 'mean') {
    throw new UnsupportedError(`ModernBERT classifier_pooling ${JSON.stringify(pooling)} is not supported (only cls and mean)`);
  }
  const act = cfg.classifier_activation ?? 'gelu';
  if (typeof act !== 'string' || !ERF_GELU.has(act)) {
    throw new UnsupportedError(`ModernBERT classifier_activation ${JSON.stringify(act)} is not supported (only exact erf GELU)`);
  }
  return {
    pooling,
    hidden: { activation: 'gelu', bias: bool(cfg, 'classifier_bias'), norm: { bias: bool(cfg, 'norm_bias') } },
    input: 'pair',
  };
}

/**
 * Whether a pair's second segment reads its own token-type row: only a cross-encoder with two
 * types or more (XLM-R, DistilBERT and ModernBERT have one or none, and their tokenizers' pair
 * types are not model inputs).
 */
export function readsSegmentTypes(config: EncoderConfig): boolean {
  return config.crossEncoder !== undefined && config.typeVocabSize > 1;
}
