import type { EncoderConfig } from './config.js';
import type { Projection as LayerProjection } from './shapes.js';

/** How a linear layer's weight matrix is stored. Activations are always f32. */
export type Quant = 'f32' | 'f16' | 'q8' | 'q4';
export const QUANTS: readonly Quant[] = ['f32', 'f16', 'q8', 'q4'];

/** q4 shares one scale per this many consecutive weights of a row. */
export const Q4_GROUP = 32;

/**
 * A dense layer y = x W^T + b with W in Hugging Face layout: `rows` output features, each a
 * contiguous run of `cols` input weights. Keeping HF's row-major [out, in] layout means q8's
 * per-output-channel scales and q4's groups both run along contiguous memory.
 */
export interface Linear {
  quant: Quant;
  rows: number;
  cols: number;
  /**
   * Row-major weights as bytes, length a multiple of 4 (GPU buffers are read as u32 words):
   * f32: float32; f16: IEEE half bits; q8: int8; q4: two signed nibbles per byte (low nibble
   * first, value = nibble - 8), each row padded with zeros to a multiple of Q4_GROUP.
   */
  data: Uint8Array;
  /** q8: one scale per row. q4: one per group, row-major [rows, ceil(cols / Q4_GROUP)]. */
  scales?: Float32Array;
  bias: Float32Array;
}

export interface LayerNormParams {
  gamma: Float32Array;
  beta: Float32Array;
}

/** Row source for the vocabulary table: it stays on the CPU and only a batch's rows go to the GPU. */
export interface EmbeddingTable {
  readonly rows: number;
  readonly cols: number;
  /** Writes row ids[i] into out[i * cols ..]. */
  gather(ids: ArrayLike<number>, out: Float32Array): void;
}

/** Text embedded for retrieval: behind the model's query or passage prefix. */
export type PromptKind = 'query' | 'passage';
export const PROMPT_KINDS: readonly PromptKind[] = ['query', 'passage'];

/**
 * One H x H matrix per exit that maps the pooled vector of prompted text (`kinds`) into the
 * retrieval space, before truncation and normalisation; plain text never meets it, so a model's
 * symmetric vectors stay what they were. m3-mini's is trained on frozen prompted vectors
 * (training/train_head.py).
 */
export interface Projection {
  kinds: readonly PromptKind[];
  /** By exit (layer count), every exit the model has. */
  byExit: ReadonlyMap<number, Linear>;
}

/**
 * An elementwise quantizer after the Dense modules: pplx-embed's FlexibleQuantizer (int8, its
 * default) gives round(127 tanh(x)), clamped to int8. Normalized, the result has the cosines of
 * the model's own int8 vectors; unnormalized, it is them.
 */
export type OutputQuantizer = 'int8_tanh';
export const OUTPUT_QUANTIZERS: readonly OutputQuantizer[] = ['int8_tanh'];

/** What every architecture's weights may carry after pooling. */
export interface SentenceHead {
  /** sentence-transformers Dense modules applied to the pooled vector, in order (absent: none). */
  head?: DenseModule[];
  /** Applied after the Dense modules, before truncation and normalization (absent: none). */
  quantizer?: OutputQuantizer;
  projection?: Projection;
  /** A cross-encoder's classification head (config.crossEncoder), applied to the pooled pair. */
  classifier?: ClassifierHead;
  /**
   * A late-interaction model's projection of every token's state (config.lateInteraction), or a
   * listwise reranker's of the states at its marker tokens (config.listwise), in order.
   */
  lateProjection?: DenseModule[];
  /** A lexical-weights head (config.sparse): one row over the hidden size, in f32. */
  sparseHead?: Linear;
  /** A SPLADE encoder's masked-LM head (config.splade). */
  mlmHead?: MlmHead;
}

/** A masked-LM head: decoder(LayerNorm(activation(transform(state)))) + bias, one logit per vocabulary entry. */
export interface MlmHead {
  /** [H, H] with bias, f32; then SpladeSpec.headActivation. */
  transform: Linear;
  norm: LayerNormParams;
  /** [V, H]; null where it is the word table (SpladeSpec.tied). */
  decoder: Linear | null;
  /** [V] */
  bias: Float32Array;
  /** [V]: inference-free SPLADE's weight per query token id (SpladeSpec.staticQuery). */
  queryWeights?: Float32Array;
}

/**
 * What config.crossEncoder.hidden describes: the hidden layer (BERT's pooler, RoBERTa's
 * classifier.dense, ModernBERT's head.dense, ...; none for a decoder's `score`), the LayerNorm
 * after it where there is one, and the classifier's one output row. Kept in f32: two small matrices, run once per pair.
 */
export interface ClassifierHead {
  hidden: Linear | null;
  norm: LayerNormParams | null;
  out: Linear;
}

/**
 * One projection's task adapters (config.lora): when task t runs, its weight is W + B[t] A[t], the
 * low-rank update kept apart from W so that every task shares W and its quantization.
 */
export interface LoraPair {
  /** A, [tasks, rank, cols]. */
  down: Float32Array;
  /** B times the adapters' scale, [tasks, rows, rank]. */
  up: Float32Array;
}

/**
 * The embeddings' task adapters: word row v of task t gains down[t][v] . up[t] (A is [vocab, rank]
 * here, B [rank, H], as modeling_lora.py stores an Embedding's), and the token-type row,
 * constant per task, gains tokenType[t].
 */
export interface EmbeddingAdapters {
  /** [tasks, vocab, rank]. */
  down: Float32Array;
  /** Times the scale, [tasks, rank, H]. */
  up: Float32Array;
  /** [tasks, H]. */
  tokenType: Float32Array;
}

export interface BertLayer {
  /** Query, key and value projections stacked into one [3H, H] matrix: one matmul instead of three. */
  qkv: Linear;
  attnOut: Linear;
  attnNorm: LayerNormParams;
  /** [I, H]; the gated ones' (config.gatedBert) is [2I, H], rows [0, I) through the activation, rows [I, 2I) the factor. */
  ffnIn: Linear;
  ffnOut: Linear;
  ffnNorm: LayerNormParams;
  /**
   * jina-bert-v2-qk-post-norm's extra norms (config.gatedBert.qkPostNorm): query and key, each
   * normed over all H columns before the scores, and preFfnNorm, LayerNorm(x + attnNorm's output)
   * with x the layer input, which feeds the feed-forward and is its residual.
   */
  qNorm?: LayerNormParams;
  kNorm?: LayerNormParams;
  preFfnNorm?: LayerNormParams;
  /**
   * A mixture of experts (config.moe, in its layers only): the router, [experts, H] in f32 with a
   * zero bias, so that quantization never changes which experts a token goes to, and the one bias
   * the experts share, added after their weighted sum. There ffnIn stacks the experts' first
   * projections, [E I, H], and ffnOut their second ones, [E H, I] (expert e's [H, I] at rows
   * e H), both with zero biases: each expert is a block of rows (weights/linear-blocks.ts).
   */
  experts?: { router: Linear; bias: Float32Array };
  /** The projections' task adapters where the model has some (config.lora). */
  adapters?: Record<LayerProjection, LoraPair>;
}

/**
 * The post-norm encoders: BERT and XLM-R, and GTE, NomicBERT and JinaBERT v2 (config.gatedBert),
 * which have no position table and whose token-type row is added into the word rows when they
 * are read.
 */
export interface BertWeights extends SentenceHead {
  family: 'bert';
  config: EncoderConfig;
  word: EmbeddingTable;
  /** [maxPositions, H]; null for the gated ones. */
  position: Float32Array | null;
  /** [typeVocabSize, H]; null for the gated ones. */
  tokenType: Float32Array | null;
  embNorm: LayerNormParams;
  /**
   * Factorized embeddings' widening (config.factorized: ALBERT's embedding_hidden_mapping_in,
   * ELECTRA's embeddings_project), [H, width]: the tables and embNorm above are `width` wide.
   */
  embedProject?: Linear;
  /** MPNet's encoder.relative_attention_bias, [tableRows, heads] (config.relativeAttention); absent elsewhere. */
  relativeBias?: Float32Array | null;
  /**
   * DeBERTa's encoder.rel_embeddings, [2 span, H], and encoder.LayerNorm where norm_rel_ebd says
   * every layer reads them through it (config.disentangled; model/disentangled.ts applies it).
   */
  relEmbeddings?: { table: Float32Array; norm: LayerNormParams | null } | null;
  /** The embeddings' task adapters where the model has some (config.lora). */
  adapters?: EmbeddingAdapters;
  /**
   * May hold fewer than config.numLayers when only the first layers were loaded. Layers sharing
   * weights (config.layerGroups) are the same object, so each is placed and uploaded once.
   */
  layers: BertLayer[];
}

/**
 * One pre-norm ModernBERT layer. Absent biases (attention_bias / mlp_bias / norm_bias false, as in
 * the public checkpoints) are stored as zeros, so every kernel and pack tensor has one shape.
 */
export interface ModernBertLayer {
  /** Wqkv, [3H, H]: query, key and value rows, as transformers stores it. */
  qkv: Linear;
  attnOut: Linear;
  /** null for layer 0, whose attention reads the embedding output directly (HF: nn.Identity). */
  attnNorm: LayerNormParams | null;
  /** Wi, [2I, H]: rows [0, I) are the GELU input, rows [I, 2I) the gate. */
  ffnIn: Linear;
  ffnOut: Linear;
  ffnNorm: LayerNormParams;
}

export interface ModernBertWeights extends SentenceHead {
  family: 'modernbert';
  config: EncoderConfig;
  word: EmbeddingTable;
  embNorm: LayerNormParams;
  /** May hold fewer than config.numLayers when only the first layers were loaded. */
  layers: ModernBertLayer[];
  finalNorm: LayerNormParams;
}

/**
 * One pre-norm decoder layer (Qwen3, Qwen2, Gemma 3). RMSNorm weights are stored as the factor the norm
 * multiplies by: Gemma's (1 + w) is folded in when the checkpoint is read.
 */
export interface DecoderLayer {
  /** q_proj, k_proj, v_proj stacked: [(heads + 2 kvHeads) * headDim, H]. */
  qkv: Linear;
  /** o_proj, [H, heads * headDim]. */
  attnOut: Linear;
  /** gate_proj and up_proj stacked, [2I, H]: rows [0, I) are activated, rows [I, 2I) multiply them. */
  ffnIn: Linear;
  ffnOut: Linear;
  inputNorm: Float32Array;
  /** Per-head RMSNorm of queries and keys, [headDim] each; null where the family has none (Qwen2). */
  qNorm: Float32Array | null;
  kNorm: Float32Array | null;
  /** Gemma only (sandwichNorms): the attention output's norm. */
  postAttnNorm: Float32Array | null;
  /** Before the MLP: Qwen3's post_attention_layernorm, Gemma's pre_feedforward_layernorm. */
  ffnNorm: Float32Array;
  /** Gemma only (sandwichNorms): the MLP output's norm. */
  postFfnNorm: Float32Array | null;
}

export interface DecoderWeights extends SentenceHead {
  family: 'decoder';
  config: EncoderConfig;
  word: EmbeddingTable;
  /** May hold fewer than config.numLayers when only the first layers were loaded. */
  layers: DecoderLayer[];
  finalNorm: Float32Array;
  /** T5's block-0 relative_attention_bias, [tableRows, heads] (config.relativeAttention); absent elsewhere. */
  relativeBias?: Float32Array | null;
}

/**
 * A static embedder (model2vec): the vocabulary table and no layers. A text's vector is the mean
 * of its tokens' rows, what every forward computes at zero layers with no embedding norm.
 */
export interface StaticWeights extends SentenceHead {
  family: 'static';
  config: EncoderConfig;
  word: EmbeddingTable;
  layers: never[];
}

/** The weights of any supported architecture; `family` tells which forward runs them. */
export type EncoderWeights = BertWeights | ModernBertWeights | DecoderWeights | StaticWeights;

/** A sentence-transformers Dense module after pooling: y = activation(x W^T + b). */
export interface DenseModule {
  linear: Linear;
  activation: 'identity' | 'tanh' | 'relu';
}

export class F32EmbeddingTable implements EmbeddingTable {
  constructor(
    readonly data: Float32Array,
    readonly rows: number,
    readonly cols: number,
  ) {}

  gather(ids: ArrayLike<number>, out: Float32Array): void {
    const { cols, rows, data } = this;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      if (id < 0 || id >= rows) throw new RangeError(`token id ${id} outside the vocabulary (${rows})`);
      out.set(data.subarray(id * cols, (id + 1) * cols), i * cols);
    }
  }
}

/** An architecture's weights without the layers: the embeddings, final norms and head. */
export type WeightsRest<W extends EncoderWeights = EncoderWeights> = W extends EncoderWeights ? Omit<W, 'layers'> : never;

/**
 * Weights handed over a part at a time, as a converter reads a checkpoint: what is not a layer,
 * then each layer on its own, so a pack can be written without every layer in memory at once.
 */
export interface WeightParts<W extends EncoderWeights = EncoderWeights> {
  readonly layerCount: number;
  rest(): Promise<WeightsRest<W>>;
  layer(l: number): Promise<W['layers'][number]>;
  /** Everything handed out so far is no longer used: its memory may be reused for the next parts. */
  release?(): void;
}
