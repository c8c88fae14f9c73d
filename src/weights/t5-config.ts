import { ModelFormatError, UnsupportedError } from '../errors.js';
import { ERF_GELU, num, positiveInt } from './config-fields.js';
import type { FeedForwardActivation } from './decoder-config.js';
import type { EncoderConfig } from './encoder-config.js';
import type { ExitNorm } from './exit-norm.js';

type Raw = Record<string, unknown>;

/** transformers' ACT2FN names a T5 config may give, as the feed-forward kernels run them. */
const ACTIVATIONS: Readonly<Record<string, FeedForwardActivation>> = {
  relu: 'relu',
  gelu_new: 'gelu_tanh',
  gelu_pytorch_tanh: 'gelu_tanh',
  gelu_fast: 'gelu_tanh',
  silu: 'silu',
  swish: 'silu',
  ...Object.fromEntries([...ERF_GELU].map((name) => [name, 'gelu' as const])),
};

/**
 * The feed-forward as T5Config resolves it: feed_forward_proj "relu", "gelu", "gated-gelu" (whose
 * activation is gelu_new), "gated-silu"; a config saved by transformers also stores the result
 * (dense_act_fn, is_gated_act), which wins because PretrainedConfig sets stored fields last.
 */
function feedForward(raw: Raw): { activation: FeedForwardActivation; gated: boolean } {
  const proj = raw.feed_forward_proj ?? 'relu';
  const parts = typeof proj === 'string' ? proj.split('-') : [];
  if (parts.length === 0 || parts.length > 2 || (parts.length === 2 && parts[0] !== 'gated')) {
    throw new ModelFormatError(`config.json: feed_forward_proj ${JSON.stringify(proj)} is not "gated-{ACT}" or "{ACT}"`);
  }
  const gated = typeof raw.is_gated_act === 'boolean' ? raw.is_gated_act : parts[0] === 'gated';
  const derived = proj === 'gated-gelu' ? 'gelu_new' : (parts[parts.length - 1] as string);
  const name = typeof raw.dense_act_fn === 'string' ? raw.dense_act_fn : derived;
  const activation = ACTIVATIONS[name];
  // The kernels have gated SiLU / GELU epilogues and plain ReLU / exact GELU ones.
  const runs = activation !== undefined && (gated ? activation !== 'relu' : activation === 'relu' || activation === 'gelu');
  if (!runs) {
    throw new UnsupportedError(`a T5 feed-forward of ${gated ? 'gated ' : ''}${name} is not supported`);
  }
  return { activation: activation as FeedForwardActivation, gated };
}

/**
 * T5 and mT5 encoders (transformers models/t5, T5EncoderModel; the decoder of a full checkpoint is
 * never read): pre-norm layers with RMSNorm (no bias, no mean), no position table but one relative
 * bias table, read from layer 0 and added in every layer, scores not scaled (the 1/sqrt(d) is
 * folded into the weights at training), the plain ReLU or gated GELU feed-forward, a final norm.
 * T5 has no longest input; n_positions (512 where a config gives none) is what its tokenizer
 * truncates at.
 */
export function parseT5Config(cfg: Raw, exitNorm: ExitNorm): EncoderConfig {
  const hiddenSize = positiveInt(cfg, 'd_model');
  const numHeads = positiveInt(cfg, 'num_heads');
  const headDim = positiveInt(cfg, 'd_kv');
  if (headDim % 4 !== 0) throw new UnsupportedError(`d_kv ${headDim} is not supported (a multiple of 4)`);
  const numLayers = positiveInt(cfg, 'num_layers');
  const buckets = positiveInt(cfg, 'relative_attention_num_buckets', 32);
  const maxDistance = positiveInt(cfg, 'relative_attention_max_distance', 128);
  // Half the buckets per sign, an exact quarter: fewer than 4 leave no logarithmic range.
  if (buckets < 4 || buckets % 2 !== 0) {
    throw new ModelFormatError(`relative_attention_num_buckets ${buckets} must be even and at least 4`);
  }
  if (maxDistance <= buckets / 4) {
    throw new ModelFormatError(`relative_attention_max_distance ${maxDistance} must exceed a quarter of the buckets`);
  }
  const maxTokens = positiveInt(cfg, 'n_positions', 512);
  const pad = cfg.pad_token_id;
  return {
    modelType: 't5',
    vocabSize: positiveInt(cfg, 'vocab_size'),
    hiddenSize,
    numLayers,
    numHeads,
    headDim,
    intermediateSize: positiveInt(cfg, 'd_ff'),
    maxPositions: maxTokens,
    typeVocabSize: 0,
    layerNormEps: num(cfg, 'layer_norm_epsilon', 1e-6),
    padTokenId: typeof pad === 'number' && Number.isInteger(pad) && pad >= 0 ? pad : 0,
    positionOffset: 0,
    maxTokens,
    relativeAttention: { buckets, maxDistance, tableRows: buckets },
    decoder: {
      numKvHeads: numHeads,
      causal: false,
      windowHalf: new Array<number>(numLayers).fill(Number.POSITIVE_INFINITY),
      ropeTheta: null,
      attnScale: 1,
      embedScale: 1,
      ...feedForward(cfg),
      qkNorm: false,
      qkvBias: false,
      sandwichNorms: false,
      exitNorm,
    },
  };
}
