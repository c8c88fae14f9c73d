import { ModelFormatError, UnsupportedError } from '../errors.js';
import { bool, ERF_GELU, nonNegativeInt, num, obj, positiveInt, TANH_GELU } from './config-fields.js';
import type { EncoderConfig, LoraSpec, MoeSpec, RopeSpec } from './encoder-config.js';

/** What bertNumbers accepts beyond BERT's defaults. */
export interface BertNumberOptions {
  /** hidden_act where the config leaves it out (ALBERT's default is gelu_new). */
  defaultAct?: string;
  /** Whether tanh-approximated GELU may run (BERT's ungated feed-forward only: the gated ones' epilogues are exact). */
  tanhGelu?: boolean;
}

/** The numbers every BERT-named config (BERT, XLM-R, ALBERT, GTE, JinaBERT) states alike, hidden_act checked. */
export function bertNumbers(cfg: Record<string, unknown>, options: BertNumberOptions = {}) {
  const act = cfg.hidden_act ?? options.defaultAct ?? 'gelu';
  const tanh = options.tanhGelu === true && typeof act === 'string' && TANH_GELU.has(act);
  if (!tanh && (typeof act !== 'string' || !ERF_GELU.has(act))) {
    const also = options.tanhGelu ? ' or its tanh approximation' : '';
    throw new UnsupportedError(`hidden_act ${JSON.stringify(act)} is not supported (only exact erf GELU${also})`);
  }
  const hiddenSize = positiveInt(cfg, 'hidden_size');
  const numHeads = positiveInt(cfg, 'num_attention_heads');
  if (hiddenSize % numHeads !== 0) {
    throw new ModelFormatError(`hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}`);
  }
  return {
    vocabSize: positiveInt(cfg, 'vocab_size'),
    hiddenSize,
    numLayers: positiveInt(cfg, 'num_hidden_layers'),
    numHeads,
    headDim: hiddenSize / numHeads,
    intermediateSize: positiveInt(cfg, 'intermediate_size'),
    maxPositions: positiveInt(cfg, 'max_position_embeddings'),
    layerNormEps: num(cfg, 'layer_norm_eps', 1e-12),
    ...(tanh ? { tanhGelu: true as const } : {}),
  };
}

/**
 * ALBERT (transformers' modeling_albert.py) and ELECTRA's small discriminators: tables
 * embedding_size wide (ElectraConfig's and AlbertConfig's default 128), widened to the hidden size
 * after their LayerNorm (ALBERT's encoder.embedding_hidden_mapping_in, ELECTRA's embeddings_project).
 * ELECTRA's projection exists only where the widths differ; ALBERT's always does.
 */
export function factorizedEmbeddings(
  cfg: Record<string, unknown>,
  modelType: 'albert' | 'electra',
  hiddenSize: number,
): Pick<EncoderConfig, 'factorized'> {
  const width = positiveInt(cfg, 'embedding_size', 128);
  return modelType === 'albert' || width !== hiddenSize ? { factorized: { width } } : {};
}

/**
 * ALBERT's layer sharing: num_hidden_groups groups of inner_group_num layers, the encoder's
 * num_hidden_layers steps each running one group. Every released ALBERT has one layer per group
 * (inner_group_num 1), the only form read here.
 */
export function albertLayerGroups(cfg: Record<string, unknown>, numLayers: number): Pick<EncoderConfig, 'layerGroups'> {
  const inner = positiveInt(cfg, 'inner_group_num', 1);
  if (inner !== 1) throw new UnsupportedError(`ALBERT inner_group_num ${inner} is not supported (only 1)`);
  const groups = positiveInt(cfg, 'num_hidden_groups', 1);
  if (groups > numLayers) throw new ModelFormatError(`num_hidden_groups ${groups} is more than num_hidden_layers ${numLayers}`);
  return { layerGroups: groups };
}

/**
 * GTE (model_type "new", or "gte" in Snowflake's copies), read from new-impl's configuration.py and
 * modeling.py: post-norm BERT layers with a fused qkv_proj (or q/k/v_proj without pack_qkv), RoPE
 * on queries and keys (rotate_half over the whole head, positions from 0), the feed-forward
 * gelu(gate) * up over up_gate_proj's [up; gate] rows, word + token-type-0 embeddings and no
 * position table. What new-impl offers beyond that and no published model uses is refused:
 * absolute positions (use the BERT config), RMSNorm layers, log-n attention scaling.
 */
export function parseGteConfig(cfg: Record<string, unknown>): EncoderConfig {
  const numbers = bertNumbers(cfg);
  const { hiddenSize, numHeads } = numbers;
  const refuse = (what: string) => {
    throw new UnsupportedError(`GTE ${what} is not supported`);
  };
  if ((cfg.position_embedding_type ?? 'rope') !== 'rope')
    refuse(`position_embedding_type ${JSON.stringify(cfg.position_embedding_type)}`);
  if ((cfg.layer_norm_type ?? 'layer_norm') !== 'layer_norm') refuse(`layer_norm_type ${JSON.stringify(cfg.layer_norm_type)}`);
  if (bool(cfg, 'logn_attention_scale')) refuse('logn_attention_scale');
  if ((hiddenSize / numHeads) % 2 !== 0) {
    throw new ModelFormatError(
      `hidden_size ${hiddenSize} / num_attention_heads ${numHeads} must give an even head size (RoPE rotates pairs)`,
    );
  }
  const ropeTheta = num(cfg, 'rope_theta', 10000);
  if (ropeTheta <= 0) throw new ModelFormatError('config.json: "rope_theta" must be positive');
  let ntk: RopeSpec['ntk'] = null;
  if (cfg.rope_scaling !== undefined && cfg.rope_scaling !== null) {
    const scaling = obj(cfg.rope_scaling, 'rope_scaling');
    if (scaling.type !== 'ntk') refuse(`rope_scaling type ${JSON.stringify(scaling.type)} (only "ntk")`);
    const factor = num(scaling, 'factor');
    if (factor <= 0) throw new ModelFormatError('config.json: rope_scaling.factor must be positive');
    const mixedB = scaling.mixed_b === undefined || scaling.mixed_b === null ? null : num(scaling, 'mixed_b');
    // A factor of 1 or less never reaches the scaled branch within max_position_embeddings.
    if (factor > 1) ntk = { factor, mixedB };
  }
  if (numbers.maxPositions < 2)
    throw new ModelFormatError(`max_position_embeddings ${numbers.maxPositions} leaves no room for tokens`);
  return {
    modelType: 'gte',
    ...numbers,
    typeVocabSize: nonNegativeInt(cfg, 'type_vocab_size', 0),
    padTokenId: num(cfg, 'pad_token_id', 0),
    positionOffset: 0,
    maxTokens: numbers.maxPositions,
    gatedBert: { positions: { type: 'rope', ropeTheta, ntk }, gate: 'gelu', truncateNorm: false },
  };
}

/**
 * NomicBERT (model_type "nomic_bert": nomic-embed-text-v1 and v1.5), read from nomic-bert-2048's
 * configuration_hf_nomic_bert.py and modeling_hf_nomic_bert.py, whose config uses GPT-2's names
 * (n_embd, n_head, n_layer, n_inner, n_positions): post-norm layers, a fused Wqkv, RoPE with
 * rotary_emb_base over the whole head (rotate_half), the feed-forward fc2(fc11(x) * act(fc12(x)))
 * with act SiLU (swiglu) or GELU (geglu), word + token-type-0 embeddings under emb_ln. Refused:
 * partial, interleaved or xPos rotary (no published embedder uses them), pre-norm, RMSNorm,
 * parallel blocks, causal attention, grouped heads. With rotary_scaling_factor, dynamic NTK starts past
 * max_trained_positions, so inputs stop there.
 *
 * nomic-embed-text-v2-moe: activation_function "gelu" is NomicBertMLP's ungated fc2(gelu(fc1(x)))
 * (exact erf, n_inner wide, not rounded), and with moe_every_n_layers every such layer l with
 * l % n === 1 is a NomicMoELayer instead (MoeSpec); its Matryoshka cut is a plain slice (its model
 * card: truncate_dim), not v1.5's layer norm. Refused: shared experts, the expert-choice router and
 * megablocks' p-norm of the routed weights (moe_normalize_expert_weights), which it does not use.
 */
export function parseNomicConfig(cfg: Record<string, unknown>): EncoderConfig {
  const refuse = (what: string): never => {
    throw new UnsupportedError(`NomicBERT ${what} is not supported`);
  };
  const hiddenSize = positiveInt(cfg, 'n_embd');
  const numHeads = positiveInt(cfg, 'n_head');
  if (hiddenSize % numHeads !== 0 || (hiddenSize / numHeads) % 2 !== 0) {
    throw new ModelFormatError(`n_embd ${hiddenSize} / n_head ${numHeads} must give an even head size (RoPE rotates pairs)`);
  }
  const act = cfg.activation_function ?? 'swiglu';
  if (act !== 'swiglu' && act !== 'geglu' && act !== 'gelu') {
    refuse(`activation_function ${JSON.stringify(act)} (only swiglu, geglu and gelu)`);
  }
  const moe = nomicMoe(cfg, refuse);
  if (num(cfg, 'rotary_emb_fraction', 0) !== 1) refuse(`rotary_emb_fraction ${JSON.stringify(cfg.rotary_emb_fraction)} (only 1)`);
  if (bool(cfg, 'rotary_emb_interleaved')) refuse('rotary_emb_interleaved');
  if (cfg.rotary_emb_scale_base !== undefined && cfg.rotary_emb_scale_base !== null) refuse('rotary_emb_scale_base (xPos)');
  if (bool(cfg, 'prenorm')) refuse('prenorm');
  if (bool(cfg, 'use_rms_norm')) refuse('use_rms_norm');
  if (bool(cfg, 'parallel_block')) refuse('parallel_block');
  if (bool(cfg, 'causal')) refuse('causal attention');
  if (cfg.num_heads_kv !== undefined && cfg.num_heads_kv !== null && cfg.num_heads_kv !== numHeads) refuse('num_heads_kv');
  const ropeTheta = num(cfg, 'rotary_emb_base', 10000);
  if (ropeTheta <= 0) throw new ModelFormatError('config.json: "rotary_emb_base" must be positive');
  const maxPositions = positiveInt(cfg, 'n_positions');
  const scaled = cfg.rotary_scaling_factor !== undefined && cfg.rotary_scaling_factor !== null;
  const maxTokens = scaled ? Math.min(maxPositions, positiveInt(cfg, 'max_trained_positions')) : maxPositions;
  if (maxTokens < 2) throw new ModelFormatError(`n_positions ${maxPositions} leaves no room for tokens`);
  return {
    modelType: 'nomic_bert',
    vocabSize: positiveInt(cfg, 'vocab_size'),
    hiddenSize,
    numLayers: positiveInt(cfg, 'n_layer'),
    numHeads,
    headDim: hiddenSize / numHeads,
    intermediateSize: nomicMlpWidth(cfg, act === 'gelu', hiddenSize),
    maxPositions,
    typeVocabSize: nonNegativeInt(cfg, 'type_vocab_size', 2),
    layerNormEps: num(cfg, 'layer_norm_epsilon', 1e-5),
    padTokenId: num(cfg, 'pad_token_id', 0),
    positionOffset: 0,
    maxTokens,
    gatedBert: {
      positions: { type: 'rope', ropeTheta, ntk: null },
      gate: act === 'swiglu' ? 'silu' : act === 'geglu' ? 'gelu' : null,
      truncateNorm: act !== 'gelu',
    },
    ...(moe ? { moe } : {}),
  };
}

/**
 * NomicBertMLP is n_inner wide (4H when unset); NomciBertGatedMLP rounds its width up to a multiple
 * of 256 (8H/3 when n_inner is unset).
 */
function nomicMlpWidth(cfg: Record<string, unknown>, ungated: boolean, H: number): number {
  const inner = cfg.n_inner == null ? null : positiveInt(cfg, 'n_inner');
  if (ungated) return inner ?? 4 * H;
  return Math.ceil((inner ?? Math.floor((8 * H) / 3)) / 256) * 256;
}

function nomicMoe(cfg: Record<string, unknown>, refuse: (what: string) => never): MoeSpec | null {
  const everyN = nonNegativeInt(cfg, 'moe_every_n_layers', 0);
  if (everyN === 0) return null;
  if (cfg.activation_function !== 'gelu') refuse('mixture of experts with a gated activation_function');
  if (nonNegativeInt(cfg, 'num_shared_experts', 0) > 0) refuse('num_shared_experts');
  if (bool(cfg, 'expert_choice_router')) refuse('expert_choice_router');
  if (cfg.moe_normalize_expert_weights) refuse('moe_normalize_expert_weights');
  const experts = positiveInt(cfg, 'num_experts');
  const topK = positiveInt(cfg, 'moe_top_k');
  if (topK > experts) throw new ModelFormatError(`moe_top_k ${topK} is more than num_experts ${experts}`);
  return { experts, topK, everyN };
}

/**
 * JinaBERT v2 (jina-embeddings-v2-*: model_type bert, position_embedding_type alibi), read from
 * jina-bert-implementation's JinaBertModel as its ports give it: BERT's post-norm attention with
 * ALiBi on the scores instead of a position table, the feed-forward wo(gelu(up[:I]) * up[I:]) over
 * mlp.gated_layers under its own post-norm, word + token-type-0 embeddings. Only the GeGLU
 * feed-forward (feed_forward_type "geglu", what the embedding models use) is read. A config whose
 * remote code (auto_map) is jinaai/jina-bert-v2-qk-post-norm, jina-embeddings-v2-base-code's, norms
 * query and key and adds a norm before the feed-forward (GatedBertSpec.qkPostNorm); nothing else in
 * its config.json sets it apart.
 */
export function parseJinaConfig(cfg: Record<string, unknown>, numbers: ReturnType<typeof bertNumbers>): EncoderConfig {
  const ffn = cfg.feed_forward_type ?? 'original';
  if (ffn !== 'geglu') {
    throw new UnsupportedError(`JinaBERT feed_forward_type ${JSON.stringify(ffn)} is not supported (only geglu)`);
  }
  const autoMap = cfg.auto_map && typeof cfg.auto_map === 'object' ? Object.values(cfg.auto_map) : [];
  const qkPostNorm = autoMap.some((v) => typeof v === 'string' && v.includes('jina-bert-v2-qk-post-norm'));
  return {
    modelType: 'jina_bert',
    ...numbers,
    typeVocabSize: nonNegativeInt(cfg, 'type_vocab_size', 2),
    padTokenId: num(cfg, 'pad_token_id', 0),
    positionOffset: 0,
    maxTokens: numbers.maxPositions,
    gatedBert: { positions: { type: 'alibi' }, gate: 'gelu', truncateNorm: false, ...(qkPostNorm ? { qkPostNorm } : {}) },
  };
}

/**
 * jina-embeddings-v3 (model_type xlm-roberta with position_embedding_type rotary, the config of
 * jinaai/xlm-roberta-flash-implementation; or jina_embeddings_v3, transformers' port), read from
 * that implementation's modeling_xlm_roberta.py, mha.py, block.py and modeling_lora.py: XLM-R's
 * post-norm layers with a fused Wqkv, RoPE over whole heads (rotate_half, rotary_emb_base,
 * positions from 0) instead of a position table, BERT's GELU feed-forward (fc1, fc2), word +
 * token-type-0 embeddings under emb_ln, and the task adapters of LoraSpec. Refused: interleaved,
 * partial or xPos rotary, which no published checkpoint of this implementation uses.
 */
export function parseJinaV3Config(cfg: Record<string, unknown>, numbers: ReturnType<typeof bertNumbers>): EncoderConfig {
  const refuse = (what: string) => {
    throw new UnsupportedError(`jina-embeddings-v3 ${what} is not supported`);
  };
  const { headDim } = numbers;
  if (headDim % 2 !== 0) throw new ModelFormatError(`head size ${headDim} must be even (RoPE rotates pairs)`);
  if (bool(cfg, 'rotary_emb_interleaved')) refuse('rotary_emb_interleaved');
  if (cfg.rotary_emb_scale_base !== undefined && cfg.rotary_emb_scale_base !== null) refuse('rotary_emb_scale_base (xPos)');
  if (num(cfg, 'rotary_emb_dim', headDim) !== headDim)
    refuse(`rotary_emb_dim ${JSON.stringify(cfg.rotary_emb_dim)} (only the whole head)`);
  const ropeTheta = num(cfg, 'rotary_emb_base', 10000);
  if (ropeTheta <= 0) throw new ModelFormatError('config.json: "rotary_emb_base" must be positive');
  if (numbers.maxPositions < 2)
    throw new ModelFormatError(`max_position_embeddings ${numbers.maxPositions} leaves no room for tokens`);
  const lora = loraSpec(cfg);
  return {
    modelType: 'jina_embeddings_v3',
    ...numbers,
    typeVocabSize: nonNegativeInt(cfg, 'type_vocab_size', 1),
    padTokenId: num(cfg, 'pad_token_id', 1),
    positionOffset: 0,
    maxTokens: numbers.maxPositions,
    gatedBert: { positions: { type: 'rope', ropeTheta, ntk: null }, gate: null, truncateNorm: false },
    ...(lora ? { lora } : {}),
  };
}

/** The adapters a config names (lora_adaptations), unless it says the checkpoint has none trained. */
function loraSpec(cfg: Record<string, unknown>): LoraSpec | null {
  const tasks = cfg.lora_adaptations;
  if (tasks === undefined || tasks === null || cfg.load_trained_adapters === false) return null;
  if (!Array.isArray(tasks) || tasks.length === 0 || tasks.some((t) => typeof t !== 'string')) {
    throw new ModelFormatError('config.json: "lora_adaptations" must list the adapters by name');
  }
  const rank = positiveInt(cfg, 'lora_rank', 4);
  const at = (task: string) => (tasks.includes(task) ? tasks.indexOf(task) : null);
  const given = cfg.task_instructions ?? {};
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    throw new ModelFormatError('config.json: "task_instructions" must map task names to prompts');
  }
  const instructions = Object.fromEntries(
    (tasks as string[]).map((t) => {
      const prompt = (given as Record<string, unknown>)[t] ?? '';
      if (typeof prompt !== 'string') throw new ModelFormatError(`config.json: task_instructions["${t}"] must be a string`);
      return [t, prompt];
    }),
  );
  return {
    tasks: tasks as string[],
    rank,
    scale: num(cfg, 'lora_alpha', 1) / rank,
    byKind: { query: at('retrieval.query'), passage: at('retrieval.passage') },
    instructions,
  };
}

/**
 * DistilBERT (transformers' DistilBertConfig names: dim, n_layers, n_heads, hidden_dim): BERT's
 * post-norm layers over word + learned position embeddings, no token types (the reader supplies a
 * zero row), LayerNorm eps fixed at 1e-12 in modeling_distilbert.py.
 */
export function parseDistilBertConfig(cfg: Record<string, unknown>): EncoderConfig {
  const act = cfg.activation ?? 'gelu';
  if (typeof act !== 'string' || !ERF_GELU.has(act)) {
    throw new UnsupportedError(`DistilBERT activation ${JSON.stringify(act)} is not supported (only exact erf GELU)`);
  }
  const hiddenSize = positiveInt(cfg, 'dim');
  const numHeads = positiveInt(cfg, 'n_heads');
  if (hiddenSize % numHeads !== 0) throw new ModelFormatError(`dim ${hiddenSize} is not divisible by n_heads ${numHeads}`);
  const maxPositions = positiveInt(cfg, 'max_position_embeddings', 512);
  if (maxPositions < 2) throw new ModelFormatError(`max_position_embeddings ${maxPositions} leaves no room for tokens`);
  return {
    modelType: 'distilbert',
    vocabSize: positiveInt(cfg, 'vocab_size'),
    hiddenSize,
    numLayers: positiveInt(cfg, 'n_layers'),
    numHeads,
    headDim: hiddenSize / numHeads,
    intermediateSize: positiveInt(cfg, 'hidden_dim'),
    maxPositions,
    typeVocabSize: 1,
    layerNormEps: 1e-12,
    padTokenId: num(cfg, 'pad_token_id', 0),
    positionOffset: 0,
    maxTokens: maxPositions,
  };
}

/**
 * MPNet (transformers' modeling_mpnet.py: all-mpnet-base-v2 and the other MPNet sentence
 * embedders): BERT's post-norm layers under other names, word + learned position embeddings with
 * RoBERTa's positions (padding_idx 1, hard-coded, so real tokens count from 2), no token types,
 * and a relative attention bias by bucketed distance shared by every layer.
 */
export function parseMpnetConfig(cfg: Record<string, unknown>): EncoderConfig {
  const numbers = bertNumbers(cfg);
  const buckets = 32;
  const tableRows = positiveInt(cfg, 'relative_attention_num_buckets', buckets);
  if (tableRows < buckets) {
    throw new UnsupportedError(
      `MPNet relative_attention_num_buckets ${tableRows} is not supported: MPNetEncoder buckets distances into ${buckets}`,
    );
  }
  const positionOffset = 2;
  if (numbers.maxPositions <= positionOffset + 1)
    throw new ModelFormatError(`max_position_embeddings ${numbers.maxPositions} leaves no room for tokens`);
  return {
    modelType: 'mpnet',
    ...numbers,
    typeVocabSize: 1,
    padTokenId: num(cfg, 'pad_token_id', 1),
    positionOffset,
    maxTokens: numbers.maxPositions - positionOffset,
    relativeAttention: { buckets, maxDistance: 128, tableRows },
  };
}
