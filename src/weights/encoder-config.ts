import type { DecoderSpec } from './decoder-config.js';
import type { DecoderRerankPrompt } from './decoder-rerankers.js';
import type { ExitNorm } from './exit-norm.js';

export type ModelType =
  | 'bert'
  | 'albert'
  | 'distilbert'
  | 'xlm-roberta'
  | 'mpnet'
  | 'jina_bert'
  | 'gte'
  | 'nomic_bert'
  | 'modernbert'
  | 'qwen3'
  | 'qwen2'
  | 'gemma3'
  | 'eurobert'
  | 't5'
  | 'deberta_v2'
  | 'model2vec'
  | 'jina_embeddings_v3';

/**
 * How token vectors become one text vector: their mean (over real tokens), the first token's, or
 * the last real token's (decoders whose causal attention gathers the text there, as Qwen3-Embedding).
 */
export type Pooling = 'mean' | 'cls' | 'last';
export const POOLINGS: readonly Pooling[] = ['mean', 'cls', 'last'];

/** ModernBERT's numbers beyond BERT's, normalised from either transformers config format. */
export interface ModernBertSpec {
  /** Per layer: true for global (full) attention, false for local (sliding-window) attention. */
  globalLayers: boolean[];
  /** A local layer's query i sees keys j with |i - j| <= windowHalf (HF: local_attention // 2). */
  windowHalf: number;
  globalRopeTheta: number;
  localRopeTheta: number;
  attentionBias: boolean;
  mlpBias: boolean;
  normBias: boolean;
  /**
   * The activation of Wi's first half, times its second: GELU (GeGLU, ModernBERT's) or SiLU
   * (SwiGLU: `hidden_activation` "silu", granite-embedding-97m-multilingual-r2).
   */
  gate: 'gelu' | 'silu';
  exitNorm: ExitNorm;
}

/** RoPE as GTE and NomicBERT compute it (rotate_half over whole heads, positions from 0). */
export interface RopeSpec {
  type: 'rope';
  ropeTheta: number;
  /**
   * rope_scaling {type: "ntk"}: new-impl builds its rotary cache for factor x max_position_embeddings
   * positions at load, which always takes the scaled branch, so the scaled frequencies apply at
   * every length (rope.ts ropeFrequencies).
   */
  ntk: { factor: number; mixedB: number | null } | null;
}

/**
 * The post-norm encoders without a position table: GTE (Alibaba-NLP/new-impl: gte-multilingual-base,
 * snowflake-arctic-embed-m-v2.0) and NomicBERT (nomic-embed-text-v1.5) with RoPE, JinaBERT v2
 * (jina-embeddings-v2) with ALiBi, all with a gated feed-forward, and jina-embeddings-v3 (XLM-R
 * with RoPE) with BERT's. The layers are BERT's, so the weights are BertWeights with no position
 * table (checkpoint/gte.ts, nomic.ts, bert.ts, jina-v3.ts).
 */
export interface GatedBertSpec {
  /** RoPE, or ALiBi: a bias of -slope_h |i - j| on head h's scores (model/alibi.ts). */
  positions: RopeSpec | { type: 'alibi' };
  /**
   * The feed-forward's gate activation: GELU (GTE, JinaBERT, NomicBERT geglu) or SiLU (NomicBERT
   * swiglu); null for BERT's ungated GELU feed-forward (jina-embeddings-v3).
   */
  gate: 'gelu' | 'silu' | null;
  /**
   * nomic-embed-text-v1.5's Matryoshka recipe: a layer norm without weights over the pooled vector
   * before it is cut to fewer dims (model card); at full width the vector is left as
   * sentence-transformers returns it.
   */
  truncateNorm: boolean;
  /**
   * jina-bert-v2-qk-post-norm (jina-embeddings-v2-base-code): query and key each go through a
   * LayerNorm over all heads before the scores, and a second LayerNorm, of the layer input plus the
   * attention block's output, feeds the feed-forward (BertLayer's qNorm, kNorm, preFfnNorm).
   */
  qkPostNorm?: true;
}

/**
 * A mixture-of-experts feed-forward (nomic-embed-text-v2-moe: NomicBERT's NomicMoELayer, from
 * megablocks): in the layers l with l % everyN === 1, a router (a Linear H -> experts without bias)
 * takes the softmax over all experts in f32, keeps each token's topK most probable, and the
 * token's output is the sum of those experts' GELU MLPs (w1: [I, H] in, w2: [I, H] out, neither
 * with a bias) weighted by their probabilities, not renormalised, plus one bias shared by all.
 */
export interface MoeSpec {
  experts: number;
  topK: number;
  everyN: number;
}

/**
 * MPNet's and T5's relative attention bias (transformers' MPNetEncoder, T5Stack): one learned bias
 * per head and bucket of the signed distance j - i between key and query, added to the scores of
 * every layer, T5's bucketing (half the buckets per sign, exact below a quarter of them, logarithmic up to
 * maxDistance, where the last bucket takes every distance beyond); see model/relative-bias.ts.
 */
export interface RelativeAttentionSpec {
  /**
   * Buckets the distances fall into: T5's relative_attention_num_buckets; MPNetEncoder.compute_position_bias
   * passes 32 whatever the config says.
   */
  buckets: number;
  maxDistance: number;
  /** Rows of encoder.relative_attention_bias (config relative_attention_num_buckets, at least `buckets`). */
  tableRows: number;
}

/**
 * DeBERTa-v2 / v3's disentangled attention (transformers' modeling_deberta_v2.py): scores add, to
 * q_i . k_j, the query against the key projection of relative-position embedding delta (c2p) and
 * the key against its query projection (p2c), all over sqrt(head_dim x (1 + terms)); delta is
 * clamp(bucket(i - j) + span, 0, 2 span - 1), bucket the identity below buckets / 2 and
 * logarithmic up to maxPosition (make_log_bucket_position); see model/disentangled.ts.
 */
export interface DisentangledSpec {
  /** position_buckets, or max_relative_positions without buckets: rel_embeddings has 2 span rows. */
  span: number;
  /** position_buckets (0: distances are not bucketed, only clamped). */
  buckets: number;
  /** max_relative_positions (max_position_embeddings where the config gives none). */
  maxPosition: number;
  c2p: boolean;
  p2c: boolean;
  /** norm_rel_ebd "layer_norm": rel_embeddings pass encoder.LayerNorm first. */
  relNorm: boolean;
}

/**
 * Task adapters (jina-embeddings-v3's LoRA, xlm-roberta-flash-implementation's modeling_lora.py):
 * every projection's weight and the word and token-type tables have, per task t, a low-rank
 * update scale * B[t] A[t] that a call adds when it runs that task; without a task the base
 * weights run alone, as sentence-transformers does when no task is named.
 */
export interface LoraSpec {
  /** lora_adaptations: the adapters in the order the checkpoint's tensors stack them. */
  tasks: readonly string[];
  rank: number;
  /** lora_alpha / lora_rank, folded into B when the checkpoint is read. */
  scale: number;
  /** The adapter (index into tasks) that text of each retrieval kind runs; null where the model has none. */
  byKind: { query: number | null; passage: number | null };
  /** task_instructions: the prompt put before a text a task embeds ('' where none), by task. */
  instructions: Readonly<Record<string, string>>;
}

/**
 * A cross-encoder (a reranker: a *ForSequenceClassification checkpoint with one label of BERT,
 * XLM-R, GTE, ModernBERT, DistilBERT or Qwen3): it reads a query and a document as one sequence
 * and scores the pair through the classification head (weights.classifier): a hidden layer where
 * the architecture has one, then the one-logit classifier.
 */
export interface CrossEncoderSpec {
  /**
   * What sentence-transformers' CrossEncoder puts over the logit: its config's activation_fn, or
   * for one label, when none is named, the sigmoid it has always applied.
   */
  activation: 'sigmoid' | 'identity';
  /**
   * What the head reads: the first token's state, the mean of the pair's (ModernBERT's
   * classifier_pooling "mean"), or the last token's (a decoder's).
   */
  pooling: 'cls' | 'mean' | 'last';
  /**
   * The hidden layer: BERT's and GTE's pooler and RoBERTa's classifier.dense end in tanh,
   * DistilBERT's pre_classifier in ReLU, ModernBERT's head.dense in GELU and a LayerNorm
   * (with a bias where norm_bias says), its dense without a bias unless classifier_bias; a
   * decoder's `score` reads the final-normed state itself (null).
   */
  hidden: { activation: 'tanh' | 'relu' | 'gelu'; bias: boolean; norm: { bias: boolean } | null } | null;
  /**
   * How the query and the document become one sequence: the tokenizer's pair template, or a
   * decoder reranker's chat prompt (Qwen3-Reranker's, mxbai-rerank-v2's: an optional
   * instruction, the query and the document inside system / user / assistant turns,
   * src/tokenizer/rerank-input.ts).
   */
  input: 'pair' | DecoderRerankPrompt;
}

/**
 * A late-interaction model (ColBERT: stanford-futuredata's HF_ColBERT checkpoints, PyLate's): a
 * query and a document are encoded apart, every token's state projected (weights.lateProjection)
 * and L2-normalised, and a document scores the sum over the query's vectors of the largest dot
 * product with its own (MaxSim). Converters record it in the pack's config.json as
 * `m3web_late_interaction` (src/weights/late-interaction.ts), read from artifact.metadata or
 * config_sentence_transformers.json.
 */
export interface LateInteractionSpec {
  /** Width of the token vectors: the projection's output. */
  dim: number;
  /** Tokens of a query, specials and marker included: a longer one is cut, a shorter one expanded. */
  queryLength: number;
  /** Most tokens of a document, specials and marker included. */
  documentLength: number;
  /** The token put after the first token of a query ([unused0], PyLate's "[Q] "), or null for none. */
  queryMarker: number | null;
  documentMarker: number | null;
  /** The token a query is padded with up to queryLength (the mask token), or null where queries are not expanded. */
  expansionToken: number | null;
  /** Whether the expansion tokens are attended (attend_to_mask_tokens); by default they attend but are not attended. */
  attendExpansion: boolean;
  /** Tokens whose states a document leaves out (punctuation). */
  skiplist: readonly number[];
  /** The activation of each module of the projection chain (head shard `late.{k}`). */
  projection: readonly ('identity' | 'tanh')[];
  /** False where the first token's vector is left out of queries and documents (BGE-M3: its CLS state is the dense vector); absent: kept. */
  firstToken?: false;
  /** 'mean' where MaxSim is averaged over the query's vectors (BGE-M3's colbert_score); absent: summed, as ColBERT does. */
  score?: 'mean';
  /** True where the model also pools one vector per text (BGE-M3's dense output), so `embed` runs; absent: it makes token vectors only. */
  pooled?: true;
}

/**
 * A listwise reranker (jina-reranker-v3's JinaForRanking over Qwen3): the query and a block of
 * documents are read as one prompt (src/tokenizer/listwise-prompt.ts), each document followed by
 * `documentToken` and the query by `queryToken`; the final-normed states at those tokens go through
 * the projection (weights.lateProjection), and a document scores the cosine of its vector with the
 * query's (src/model/listwise.ts). Known by config.json's architectures; nothing is recorded.
 */
export interface ListwiseSpec {
  prompt: 'jina-reranker-v3';
  /** Width of the projected vectors. */
  dim: number;
  /** The activation of each module of the projection chain (head shard `late.{k}`). */
  projection: readonly ('identity' | 'relu')[];
  documentToken: string;
  queryToken: string;
}

/**
 * A lexical-weights head (BGE-M3's sparse_linear.pt): every token's final state through one
 * Linear to a number, ReLU, and per text the largest weight of each token id, the special tokens
 * left out: a learned sparse vector over the vocabulary, scored by the dot product over shared
 * ids. Converters record it in the pack's config.json as `m3web_sparse` (src/weights/sparse.ts);
 * the Linear is the head shard's `sparse` (weights.sparseHead).
 */
export interface SparseSpec {
  /** Token ids that never weigh (the tokenizer's cls, eos, pad and unk tokens, as FlagEmbedding leaves them out). */
  exclude: readonly number[];
}

/**
 * A SPLADE sparse encoder (sentence-transformers' MLMTransformer + SpladePooling): every token's
 * last state through the masked-LM head (dense, activation, LayerNorm, then the decoder to the
 * vocabulary), log(1 + ReLU(logit)) (twice over for `log1p_relu`, OpenSearch's models), then the
 * largest (`max`) or the sum over the text's tokens: a weight per vocabulary entry, most of them
 * zero. It makes no dense vector. Converters record it as `m3web_splade` (src/weights/splade.ts);
 * the head is weights.mlmHead.
 */
export interface SpladeSpec {
  pooling: 'max' | 'sum';
  activation: 'relu' | 'log1p_relu';
  /** The decoder is the word table (no weights of its own stored), as masked-LM checkpoints tie them. */
  tied: boolean;
  /** The head's activation after its dense layer (BERT's hidden_act, DistilBERT's activation). */
  headActivation: 'gelu' | 'gelu_tanh' | 'relu';
  /**
   * Inference-free SPLADE: a query is weighed by a table, one weight per token id it holds
   * (MlmHead.queryWeights), not by the model; documents go through the model as above.
   */
  staticQuery?: true;
}

/** The architecture numbers the forward pass needs, normalised from a Hugging Face config.json. */
export interface EncoderConfig {
  modelType: ModelType;
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  headDim: number;
  intermediateSize: number;
  maxPositions: number;
  typeVocabSize: number;
  layerNormEps: number;
  padTokenId: number;
  /**
   * Position id of the first real token. BERT counts from 0; RoBERTa/XLM-R count from
   * padding_idx + 1 because position `padding_idx` is reserved for pads.
   */
  positionOffset: number;
  /** Longest token sequence (specials included) the position table can address. */
  maxTokens: number;
  /** Present exactly when modelType is 'modernbert'. */
  modern?: ModernBertSpec;
  /** Present exactly when modelType is 'jina_bert', 'gte', 'nomic_bert' or 'jina_embeddings_v3'. */
  gatedBert?: GatedBertSpec;
  /** Present exactly when modelType is 'mpnet' or 't5'. */
  relativeAttention?: RelativeAttentionSpec;
  /** Present exactly when modelType is 'deberta_v2'. */
  disentangled?: DisentangledSpec;
  /** Present for NomicBERT with experts (moe_every_n_layers > 0). */
  moe?: MoeSpec;
  /** Present exactly when modelType is 'qwen3', 'qwen2', 'gemma3', 'eurobert' or 't5'. */
  decoder?: DecoderSpec;
  /** Present when the checkpoint carries task adapters (jina_embeddings_v3). */
  lora?: LoraSpec;
  /** Present for a single-label sequence classifier: a cross-encoder. */
  crossEncoder?: CrossEncoderSpec;
  /** Present for a late-interaction (ColBERT) model. */
  lateInteraction?: LateInteractionSpec;
  /** Present for a listwise reranker (jina-reranker-v3). */
  listwise?: ListwiseSpec;
  /** Present for a model with a lexical-weights head (BGE-M3's sparse output). */
  sparse?: SparseSpec;
  /** Present for a SPLADE sparse encoder. */
  splade?: SpladeSpec;
  /**
   * Factorized embeddings (ALBERT; ELECTRA's small discriminators, embedding_size below the hidden
   * size): the word, position and token-type tables and the embedding LayerNorm are `width` wide,
   * and one Linear (BertWeights.embedProject, [hiddenSize, width]) widens the normed sum.
   */
  factorized?: { width: number };
  /**
   * ALBERT's shared layers (num_hidden_groups): layer l runs the weights of group
   * trunc(l / (numLayers / layerGroups)), as AlbertTransformer picks it, so the weights are stored
   * and uploaded once per group (layerGroup in weights/config.ts).
   */
  layerGroups?: number;
  /** The ungated feed-forward through tanh-approximated GELU (gelu_new: ALBERT's) instead of exact GELU. */
  tanhGelu?: true;
}
