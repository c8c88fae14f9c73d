import { ModelFormatError, UnsupportedError } from '../errors.js';
import { type GgufFile, ggufNumber } from './gguf.js';

// config.json for each architecture m3web reads from GGUF, from the metadata llama.cpp's converter
// wrote where transformers' config.json was.

/** A number the file must carry. */
export const requiredNumber = (file: GgufFile, key: string): number => {
  const v = ggufNumber(file, key);
  if (v === undefined) throw new ModelFormatError(`${file.name}: metadata ${key} is missing`);
  return v;
};

/**
 * What the two decoder architectures here write in config.json beyond the shared numbers, and
 * whether the architecture itself attends both ways (else the file's attention.causal says).
 */
const DECODERS = {
  qwen3: { config: { architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3', tie_word_embeddings: true }, bothWays: false },
  eurobert: { config: { architectures: ['EuroBertModel'], model_type: 'eurobert' }, bothWays: true },
} as const;

/**
 * A decoder's config: grouped-query heads of `key_length`, RMSNorm, RoPE (llama.cpp's base when
 * the file names none). Qwen3-Embedding (`qwen3`): causal unless the converter wrote causal false
 * (Qwen3 embedders that attend both ways). EuroBERT (`eurobert`, jina-embeddings-v5-text-nano):
 * Llama's layers attending both ways, which the converter writes as causal false; a file saying
 * true asks llama.cpp for another model than EuroBERT.
 */
function decoderConfig(
  file: GgufFile,
  arch: keyof typeof DECODERS,
  vocabSize: number,
  padding: { pad_token_id?: number },
): Record<string, unknown> {
  const hp = (key: string) => requiredNumber(file, `${arch}.${key}`);
  const heads = hp('attention.head_count');
  const [key, value] = ['key', 'value'].map((k) => ggufNumber(file, `${arch}.attention.${k}_length`));
  if (key !== undefined && value !== undefined && key !== value)
    throw new UnsupportedError(`${file.name}: attention key length ${key} differs from value length ${value}`);
  const scaling = file.metadata.get(`${arch}.rope.scaling.type`);
  const causal = file.metadata.get(`${arch}.attention.causal`);
  const { config, bothWays } = DECODERS[arch];
  if (bothWays && causal === true)
    throw new UnsupportedError(`${file.name}: a ${arch} file that asks for causal attention; the architecture attends both ways`);
  return {
    ...config,
    vocab_size: vocabSize,
    hidden_size: hp('embedding_length'),
    num_hidden_layers: hp('block_count'),
    num_attention_heads: heads,
    num_key_value_heads: ggufNumber(file, `${arch}.attention.head_count_kv`) ?? heads,
    ...(key === undefined ? {} : { head_dim: key }),
    intermediate_size: hp('feed_forward_length'),
    max_position_embeddings: hp('context_length'),
    rms_norm_eps: ggufNumber(file, `${arch}.attention.layer_norm_rms_epsilon`) ?? 1e-6,
    rope_theta: ggufNumber(file, `${arch}.rope.freq_base`) ?? 10000,
    rope_scaling: scaling === undefined || scaling === 'none' ? null : { type: scaling },
    hidden_act: 'silu',
    ...(!bothWays && causal === false ? { is_causal: false } : {}),
    ...padding,
  };
}

/**
 * EmbeddingGemma's config as llama.cpp runs a `gemma-embedding` file: bidirectional; a layer is
 * sliding where `attention.sliding_window_pattern` says (a flag per layer, or every n-th layer
 * full), else every sixth layer is full; local layers rotate by `rope.freq_base_swa` (10000 where
 * older files leave it out), full ones by `rope.freq_base`; queries scaled by 1/sqrt(key_length).
 */
function gemmaConfig(file: GgufFile, vocabSize: number, padding: { pad_token_id?: number }): Record<string, unknown> {
  const a = 'gemma-embedding';
  const hp = (key: string) => requiredNumber(file, `${a}.${key}`);
  const layers = hp('block_count');
  const heads = hp('attention.head_count');
  const headDim = ggufNumber(file, `${a}.attention.key_length`) ?? hp('embedding_length') / heads;
  const pattern = file.metadata.get(`${a}.attention.sliding_window_pattern`);
  const every = typeof pattern === 'number' ? pattern : 6;
  const sliding = Array.from({ length: layers }, (_, l) =>
    Array.isArray(pattern) ? pattern[l] === true : l % every < every - 1,
  );
  const softcap = ggufNumber(file, `${a}.attn_logit_softcapping`);
  return {
    architectures: ['Gemma3TextModel'],
    model_type: 'gemma3_text',
    use_bidirectional_attention: true,
    vocab_size: vocabSize,
    hidden_size: hp('embedding_length'),
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: ggufNumber(file, `${a}.attention.head_count_kv`) ?? heads,
    head_dim: headDim,
    query_pre_attn_scalar: headDim,
    intermediate_size: hp('feed_forward_length'),
    max_position_embeddings: hp('context_length'),
    rms_norm_eps: ggufNumber(file, `${a}.attention.layer_norm_rms_epsilon`) ?? 1e-6,
    rope_theta: ggufNumber(file, `${a}.rope.freq_base`) ?? 10000,
    rope_local_base_freq: ggufNumber(file, `${a}.rope.freq_base_swa`) ?? 10000,
    sliding_window: hp('attention.sliding_window'),
    layer_types: sliding.map((s) => (s ? 'sliding_attention' : 'full_attention')),
    hidden_activation: 'gelu_pytorch_tanh',
    ...(softcap === undefined ? {} : { attn_logit_softcapping: softcap }),
    ...padding,
  };
}

/**
 * ModernBERT's config as llama.cpp runs a `modern-bert` file: where `attention.sliding_window` is
 * set, a layer is local by `attention.sliding_window_pattern` (every n-th layer global from layer 0,
 * 3 where the file says nothing; or a flag per layer, true for local), else every layer is global;
 * global layers rotate by `rope.freq_base` (llama.cpp's 10000 where the file names none), local
 * ones by `rope.freq_base_swa` (else the global base, as llama.cpp rotates them). The epsilon is
 * `attention.layer_norm_epsilon`, which llama.cpp's loader reads; current converters write
 * ModernBERT's `norm_eps` as `layer_norm_rms_epsilon` instead, read where the other is missing.
 * Biases where the file holds them (transformers' attention_bias, mlp_bias, norm_bias).
 */
function modernConfig(file: GgufFile, vocabSize: number, padding: { pad_token_id?: number }): Record<string, unknown> {
  const a = 'modern-bert';
  const hp = (key: string) => requiredNumber(file, `${a}.${key}`);
  const layers = hp('block_count');
  const heads = hp('attention.head_count');
  const kvHeads = ggufNumber(file, `${a}.attention.head_count_kv`) ?? heads;
  if (kvHeads !== heads)
    throw new UnsupportedError(`${file.name}: ${kvHeads} key-value heads for ${heads} query heads; ModernBERT has one each`);
  const window = ggufNumber(file, `${a}.attention.sliding_window`) ?? 0;
  const pattern = file.metadata.get(`${a}.attention.sliding_window_pattern`);
  const every = typeof pattern === 'number' ? pattern : 3;
  const local = Array.from({ length: layers }, (_, l) =>
    window <= 0 ? false : Array.isArray(pattern) ? pattern[l] === true : every === 0 || l % every !== 0,
  );
  const scaling = file.metadata.get(`${a}.rope.scaling.type`);
  const globalTheta = ggufNumber(file, `${a}.rope.freq_base`) ?? 10000;
  const act = file.metadata.get(`${a}.hidden_activation`);
  const has = (tensor: string) => file.tensors.has(tensor);
  return {
    architectures: ['ModernBertModel'],
    model_type: 'modernbert',
    vocab_size: vocabSize,
    hidden_size: hp('embedding_length'),
    num_hidden_layers: layers,
    num_attention_heads: heads,
    intermediate_size: hp('feed_forward_length'),
    max_position_embeddings: hp('context_length'),
    layer_types: local.map((s) => (s ? 'sliding_attention' : 'full_attention')),
    local_attention: Math.max(window, 2),
    global_rope_theta: globalTheta,
    local_rope_theta: ggufNumber(file, `${a}.rope.freq_base_swa`) ?? globalTheta,
    rope_scaling: scaling === undefined || scaling === 'none' ? null : { type: scaling },
    norm_eps:
      ggufNumber(file, `${a}.attention.layer_norm_epsilon`) ?? ggufNumber(file, `${a}.attention.layer_norm_rms_epsilon`) ?? 1e-5,
    hidden_activation: typeof act === 'string' ? act : 'gelu',
    attention_bias: has('blk.0.attn_qkv.bias'),
    mlp_bias: has('blk.0.ffn_up.bias'),
    norm_bias: has('token_embd_norm.bias'),
    ...padding,
  };
}

/**
 * config.json in transformers' form from a GGUF file's `{arch}.*` metadata, and the position rows
 * the converter cut (XLM-R's and RoBERTa's, which start after the padding id), which the reader puts
 * back as zeros.
 */
export function ggufConfig(
  file: GgufFile,
  arch: string,
  vocabSize: number,
  roberta: 'xlm-roberta' | 'roberta' | null,
): { config: Record<string, unknown>; zeroPositions: number } {
  const hp = (key: string) => requiredNumber(file, `${arch}.${key}`);
  const eps = ggufNumber(file, `${arch}.attention.layer_norm_epsilon`) ?? 1e-12;
  const types = file.tensors.get('token_types.weight')?.shape[0] ?? 0;
  const pad = ggufNumber(file, 'tokenizer.ggml.padding_token_id') ?? (roberta ? 1 : undefined);
  const padding = pad === undefined ? {} : { pad_token_id: pad };
  // BERT's and JinaBERT's config.json name these alike.
  const bertShape = () => ({
    vocab_size: vocabSize,
    hidden_size: hp('embedding_length'),
    num_hidden_layers: hp('block_count'),
    num_attention_heads: hp('attention.head_count'),
    intermediate_size: hp('feed_forward_length'),
    hidden_act: 'gelu',
  });
  if (arch === 'qwen3' || arch === 'eurobert') return { config: decoderConfig(file, arch, vocabSize, padding), zeroPositions: 0 };
  if (arch === 'gemma-embedding') return { config: gemmaConfig(file, vocabSize, padding), zeroPositions: 0 };
  if (arch === 'modern-bert') return { config: modernConfig(file, vocabSize, padding), zeroPositions: 0 };
  if (arch === 'jina-bert-v2') {
    const config = {
      architectures: ['JinaBertModel'],
      model_type: 'bert',
      position_embedding_type: 'alibi',
      feed_forward_type: 'geglu',
      ...bertShape(),
      max_position_embeddings: hp('context_length'),
      type_vocab_size: types,
      layer_norm_eps: eps,
      ...padding,
    };
    return { config, zeroPositions: 0 };
  }
  if (arch === 'nomic-bert' || arch === 'nomic-bert-moe') {
    // nomic-embed-text-v2-moe: GELU feed-forwards, every moe_every_n_layers-th of them a mixture of experts.
    const moe =
      arch === 'nomic-bert-moe'
        ? {
            activation_function: 'gelu',
            moe_every_n_layers: hp('moe_every_n_layers'),
            num_experts: hp('expert_count'),
            moe_top_k: hp('expert_used_count'),
          }
        : { activation_function: 'swiglu' };
    const config = {
      architectures: ['NomicBertModel'],
      model_type: 'nomic_bert',
      vocab_size: vocabSize,
      n_embd: hp('embedding_length'),
      n_layer: hp('block_count'),
      n_head: hp('attention.head_count'),
      n_inner: hp('feed_forward_length'),
      n_positions: hp('context_length'),
      ...moe,
      rotary_emb_base: ggufNumber(file, `${arch}.rope.freq_base`) ?? 10000,
      rotary_emb_fraction: 1,
      layer_norm_epsilon: eps,
      type_vocab_size: types,
      ...padding,
    };
    return { config, zeroPositions: 0 };
  }
  // XLM-R's and RoBERTa's positions start after the padding id; llama.cpp cut those rows off, so zero rows stand in for them.
  const zeroPositions = roberta ? (pad as number) + 1 : 0;
  const config = {
    architectures: [roberta === 'xlm-roberta' ? 'XLMRobertaModel' : roberta === 'roberta' ? 'RobertaModel' : 'BertModel'],
    model_type: roberta ?? 'bert',
    ...bertShape(),
    max_position_embeddings: (file.tensors.get('position_embd.weight')?.shape[0] ?? hp('context_length')) + zeroPositions,
    type_vocab_size: types,
    layer_norm_eps: eps,
    ...padding,
  };
  return { config, zeroPositions };
}
