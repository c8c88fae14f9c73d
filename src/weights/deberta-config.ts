import { ModelFormatError, UnsupportedError } from '../errors.js';
import { bertNumbers } from './bert-configs.js';
import { num } from './config-fields.js';
import type { DisentangledSpec, EncoderConfig } from './encoder-config.js';

type Raw = Record<string, unknown>;

/**
 * DeBERTa-v2 and v3 (model_type "deberta-v2": mDeBERTa-v3, mxbai-rerank-v1), read as
 * DebertaV2Config defaults them: BERT's post-norm layers and GELU feed-forward; embeddings the word
 * rows and their LayerNorm (v3 has neither a position table, position_biased_input false, nor token
 * types, type_vocab_size 0); disentangled attention over relative positions in every layer, the
 * query and key projections shared with the positions (share_att_key). What the v3 checkpoints do
 * not use is refused: absolute positions added to the input, token types, the convolution
 * beside layer 0 (conv_kernel_size, deberta-v2-xlarge), separate position projections, a factorised
 * embedding (embedding_size).
 */
export function parseDebertaV2Config(cfg: Raw): EncoderConfig {
  const numbers = bertNumbers(cfg);
  const refuse = (what: string) => {
    throw new UnsupportedError(`DeBERTa with ${what} is not supported (the DeBERTa-v3 form only)`);
  };
  if (cfg.position_biased_input !== false) refuse('absolute positions (position_biased_input)');
  if (num(cfg, 'type_vocab_size', 0) !== 0) refuse('token types (type_vocab_size > 0)');
  if (num(cfg, 'conv_kernel_size', 0) > 0) refuse('a convolution layer (conv_kernel_size)');
  if (cfg.share_att_key !== true) refuse('separate position projections (share_att_key false)');
  if (cfg.embedding_size !== undefined && cfg.embedding_size !== numbers.hiddenSize) refuse('embedding_size');
  if (cfg.relative_attention !== true) refuse('no relative attention');
  // The attention kernels read a head four values at a time (every published DeBERTa has 64).
  if (numbers.headDim % 4 !== 0)
    throw new UnsupportedError(`a DeBERTa head size of ${numbers.headDim} is not supported (a multiple of 4)`);
  const types = Array.isArray(cfg.pos_att_type)
    ? cfg.pos_att_type
    : typeof cfg.pos_att_type === 'string'
      ? cfg.pos_att_type
          .toLowerCase()
          .split('|')
          .map((t) => t.trim())
      : [];
  if (types.some((t) => t !== 'c2p' && t !== 'p2c')) {
    throw new UnsupportedError(`pos_att_type ${JSON.stringify(cfg.pos_att_type)} is not supported (c2p and p2c)`);
  }
  const norm =
    typeof cfg.norm_rel_ebd === 'string'
      ? cfg.norm_rel_ebd
          .toLowerCase()
          .split('|')
          .map((t) => t.trim())
      : ['none'];
  if (norm.some((t) => t !== 'layer_norm' && t !== 'none')) {
    throw new UnsupportedError(`norm_rel_ebd ${JSON.stringify(cfg.norm_rel_ebd)} is not supported (layer_norm or none)`);
  }
  const maxRelative = num(cfg, 'max_relative_positions', -1);
  const maxPosition = maxRelative < 1 ? numbers.maxPositions : maxRelative;
  const buckets = num(cfg, 'position_buckets', -1);
  const span = buckets > 0 ? buckets : maxPosition;
  if (buckets > 0 && (!Number.isInteger(buckets) || buckets % 2 !== 0 || buckets < 4 || maxPosition - 1 <= buckets / 2)) {
    throw new ModelFormatError(`position_buckets ${buckets} must be even, at least 4, and below max_relative_positions`);
  }
  const disentangled: DisentangledSpec = {
    span,
    buckets: buckets > 0 ? buckets : 0,
    maxPosition,
    c2p: types.includes('c2p'),
    p2c: types.includes('p2c'),
    relNorm: norm.includes('layer_norm'),
  };
  const pad = cfg.pad_token_id;
  return {
    modelType: 'deberta_v2',
    ...numbers,
    layerNormEps: num(cfg, 'layer_norm_eps', 1e-7),
    typeVocabSize: 0,
    padTokenId: typeof pad === 'number' && Number.isInteger(pad) && pad >= 0 ? pad : 0,
    positionOffset: 0,
    maxTokens: numbers.maxPositions,
    disentangled,
  };
}
