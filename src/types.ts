import type { Plan } from './budget/plan.js';
import type { GpuAdapterSummary } from './gpu/device.js';
import type { BackendKind } from './model/encoder.js';
import type { SparseVector } from './model/sparse.js';
import type { QualityTable, SearchDefaults } from './pack/manifest.js';
import type { PackLoadProgress } from './store/pack-loader.js';
import type { LateInteractionInfo } from './tokenizer/rerank-input.js';
import type { Pooling } from './weights/config.js';
import type { PromptKind, Quant } from './weights/weights.js';

export type { LateInteractionInfo, SparseVector };

export type DeviceChoice = 'auto' | 'webgpu' | 'cpu';

/** The element type of WebGPU's activations (EncoderOptions.activations). */
export type ActivationsChoice = 'auto' | 'f32' | 'f16';

export interface EncoderOptions {
  /**
   * Where the model is: a hub id (`hf:org/name`, `hf:org/name@revision`, or a bare `org/name`
   * where it cannot be a relative URL: no scheme, no leading `./` or `/`, exactly one slash), the
   * URL of a model pack folder (its manifest.json inside), or in Node a local pack folder or
   * Hugging Face folder (a bare `org/name` that exists as a folder is that folder); or, in a
   * page, a folder the user dropped or picked (see ModelFolder).
   */
  model: string | ModelFolder;
  /** For a hub id: the branch, tag or commit to read (default main); must agree with an `@revision` in `model`. */
  revision?: string;
  /** For a hub id: where the hub is (default https://huggingface.co) and an access token for gated models. */
  hub?: { url?: string; token?: string };
  /** For a hub id: how the converted weights are stored (default q8). */
  dtype?: Quant;
  /** For a hub id or Hugging Face folder: the Matryoshka widths the model was trained for (default: full width only). */
  dims?: number[];
  /**
   * 'auto' (default) times both backends on this device (once per adapter and model, cached) and
   * runs each call on the one predicted faster for its size (a short query or a batch), switching
   * if calls disagree; 'webgpu' or 'cpu' forces one.
   */
  device?: DeviceChoice;
  /**
   * The element type of the activations WebGPU keeps between kernels (each kernel sums in f32
   * either way). 'auto' (default), on an adapter with `shader-f16`: times one call at one layer
   * with each (once per adapter and model, cached, as device 'auto' does) and keeps f16 where it
   * ran at least 5% faster, else f32; f32 on other adapters. 'f16' forces it (UnsupportedError
   * where WebGPU runs on an adapter without `shader-f16`); 'f32' forces f32. The CPU ignores it.
   */
  activations?: ActivationsChoice;
  /**
   * Load only the first `layers` layers now; deeper calls fetch the rest when needed. With
   * `progressive`, the depth the background download goes to (default: every layer).
   */
  layers?: number;
  /**
   * Resolve as soon as the embeddings and the layers of the model's first trained exit are loaded,
   * and download the rest in the background: until it is done, each call of this encoder runs at
   * the deepest exit loaded so far (never deeper than asked; `embedDetailed`'s `layers` says which).
   * Indexes add documents at once at that exit too, record each row's exit, and embed those rows
   * again at their own depth once it arrives (`shallowRows` counts what is left); a search scores
   * each row against the query at the row's exit. With every file already in the offline cache
   * the whole model loads at once, as without it. Default false.
   */
  progressive?: boolean;
  /** Hears each deeper exit a progressive start makes available (its layer count), the last being the full depth. */
  onUpgrade?: (layers: number) => void;
  /** Download / cache progress while the model loads. */
  onProgress?: (progress: LoadProgress) => void;
  /** Keep downloaded shards in IndexedDB (browser; default true). */
  cache?: boolean;
  /**
   * Share one engine (model, GPU device, indexes) with every tab of this origin that opens the
   * same model, through a SharedWorker (default true where the browser has one with WebGPU in
   * it); false gives this page a dedicated worker of its own. With `device` 'cpu' or
   * 'auto' on a cross-origin isolated page the default is a dedicated worker, where the CPU path
   * can use threads (a SharedWorker cannot); `true` shares it, the CPU path on one thread.
   */
  shared?: boolean;
}

export type LoadProgress = PackLoadProgress;

/**
 * A model folder dropped or picked in a page (a Hugging Face folder or an m3web pack), as
 * `EncoderOptions.model`. A Hugging Face folder is converted in the engine's worker (dtype, dims
 * apply), tensor by tensor, with progress in weight bytes; nothing is cached.
 */
export interface ModelFolder {
  /** The folder's name: the model's source, and its id for a Hugging Face folder. */
  name: string;
  /** Its files by path inside it, '/'-separated: 'config.json', '1_Pooling/config.json'. */
  files: Record<string, Blob>;
}

export interface EmbedOptions {
  /**
   * Layers to run; one of the model's exits (default: all). 'adaptive': each text stops at the
   * first exit where its vector (at `dims`) has settled, its cosine to the previous exit's vector
   * at least `tolerance`; only the texts still running go through the next layer. Needs a model
   * with two or more exits (BERT family); `embedDetailed`'s `layers` says where each text stopped.
   */
  layers?: number | 'adaptive';
  /** With `layers: 'adaptive'`: the cosine in (0, 1] at which a text stops (default 0.99; 1: never early). */
  tolerance?: number;
  /** Leading dimensions to keep; one of the model's widths (default: full). */
  dims?: number;
  /** L2-normalise the vectors (default true). */
  normalize?: boolean;
  /**
   * Adds the model's query or passage prefix, if it has one; on a model with task adapters
   * (jina-embeddings-v3) also runs the adapter of that kind (retrieval.query, retrieval.passage).
   */
  kind?: PromptKind;
  /**
   * On a model with task adapters (ModelInfo.tasks), the adapter to run by name, with its
   * instruction before each text (jina-embeddings-v3: 'text-matching' for similarity,
   * 'classification', 'separation' for clustering); not together with `kind`. Default: the
   * adapter of `kind`, else none (the base weights, as sentence-transformers without a task).
   */
  task?: string;
  /**
   * On a model with a lexical-weights head (ModelInfo.sparse: BGE-M3), also each text's lexical
   * weights from the same forward (EmbedResult.sparse), as `embedSparse` gives them; for
   * `embedDetailed` (`embed` returns vectors only), not with `layers: 'adaptive'`.
   */
  sparse?: boolean;
  signal?: AbortSignal;
}

/** Options of `rerank` (a cross-encoder's). */
export interface RerankOptions {
  /** Layers to run; one of the model's exits (default: all). */
  layers?: number;
  /**
   * What relevance means, for a reranker whose prompt takes an instruction (Qwen3-Reranker:
   * default "Given a web search query, retrieve relevant passages that answer the query";
   * mxbai-rerank-v2 and jina-reranker-v3: default none).
   */
  instruction?: string;
  /**
   * A document too long to fit beside the query: 'cut' (default) keeps its start, as
   * sentence-transformers' CrossEncoder does; 'windows' scores it in overlapping windows (80
   * tokens shared) and keeps the best window's score, as jina-reranker-v2's rerank() does (pair
   * template rerankers; a document is read up to 64 characters per token of the model's limit).
   */
  long?: 'cut' | 'windows';
  signal?: AbortSignal;
}

/** Options of `embedTokens` (a late-interaction model's token vectors). */
export interface TokenEmbedOptions {
  /**
   * 'query' (the query marker, cut and expanded to the model's query length with mask tokens) or
   * 'passage' (default: the document marker, cut at its document length, punctuation left out).
   */
  kind?: 'query' | 'passage';
  /** Layers to run; one of the model's exits (default: all). */
  layers?: number;
  signal?: AbortSignal;
}

/** Options of `embedSparse` (a model with a lexical-weights head: BGE-M3's sparse output). */
export interface SparseEmbedOptions {
  /** The model's query or passage prefix before the text, where it has them (BGE-M3 has none). */
  kind?: 'query' | 'passage';
  /** Layers to run; one of the model's exits (default: all; the head was trained after the last). */
  layers?: number;
  signal?: AbortSignal;
}

/** One document's place in a reranking: its index in the documents given, and its score (higher is more relevant). */
export interface RerankHit {
  index: number;
  /** The pair's logit, through the sigmoid unless the model's config names Identity (sentence-transformers' CrossEncoder.predict). */
  score: number;
  /**
   * Whether the pair was longer than the model's limit and the longer text (a prompted pair: the
   * document; with `long: 'windows'`, the query) was cut.
   */
  truncated: boolean;
}

export interface EmbedResult {
  vectors: Float32Array[];
  /** Token count of each text as embedded (specials included, after truncation). */
  tokens: number[];
  /** Whether each text was longer than the model's limit and cut. */
  truncated: boolean[];
  /**
   * The exit (layer count) each vector came from: the `layers` asked for, the exit each text
   * stopped at with `layers: 'adaptive'`, or a shallower exit while a progressive start is still
   * downloading the deeper ones.
   */
  layers: number[];
  /** With `sparse: true`: each text's lexical weights, from the forward its vector came from. */
  sparse?: SparseVector[];
}

export interface ModelInfo {
  id: string;
  source: string;
  layers: number;
  hiddenSize: number;
  exits: number[];
  dims: number[];
  pooling: Pooling;
  maxTokens: number;
  quantization: string;
  prefixes: { query?: string; passage?: string };
  /** The task adapters a call may name (EmbedOptions.task); absent on models without. */
  tasks?: string[];
  /** True for a cross-encoder (a reranker): it scores pairs with `rerank` and makes no vectors. */
  crossEncoder?: true;
  /**
   * A reranker whose prompt takes an instruction (Qwen3-Reranker, mxbai-rerank-v2, jina-reranker-v3):
   * the one it reads by default (RerankOptions.instruction), '' where it reads none unless given one.
   */
  rerankInstruction?: string;
  /**
   * True for a listwise reranker (jina-reranker-v3, with crossEncoder): it reads the query with up to
   * 125 documents in one prompt, so a document's score depends on the others beside it; scores are
   * cosines in [-1, 1], not probabilities.
   */
  listwise?: true;
  /**
   * Present for a late-interaction (ColBERT) model: it scores documents against a query with
   * `rerank` (MaxSim over token vectors) or gives the token vectors (`embedTokens`, `dim` numbers
   * each), and makes no single vector per text. Queries are cut and expanded to `queryLength`
   * tokens, documents cut at `documentLength`.
   */
  lateInteraction?: LateInteractionInfo;
  /**
   * True for a model with a lexical-weights head (BGE-M3's sparse output): `embedSparse` gives each
   * text's weighted token ids beside its dense vector from `embed`.
   */
  sparse?: true;
  /**
   * True for a SPLADE sparse encoder: `embedSparse` gives each text's weights over the vocabulary
   * (the model's own expansion terms included) and it makes no dense vector (`embed` refuses;
   * `embedDetailed` with `sparse: true` returns empty vectors beside the weights, and an index
   * over it stores the weights alone).
   */
  sparseOnly?: true;
  /**
   * True for an inference-free SPLADE encoder: `embedSparse(texts, { kind: 'query' })` weighs each
   * token id a query holds by a table, with no forward (a search costs a tokenizer call);
   * documents (`kind: 'passage'` or none) go through the model.
   */
  staticQuery?: true;
  quality: QualityTable | null;
  /** Hybrid search fusion chosen for this model on a dev set; absent: equal weights, k 60. */
  search?: SearchDefaults;
  /**
   * Identifies the weights (from the pack's file hashes): a model republished under the same id
   * has another. Absent for a checkpoint folder opened without a pack.
   */
  fingerprint?: string;
}

/** The element type of WebGPU's activations, and why. */
export interface ActivationsUse {
  type: 'f32' | 'f16';
  /** A sentence: the timings that decided, the adapter's missing `shader-f16`, or the forced type. */
  reason: string;
}

/** The backend calls of one size run on, and why. */
export interface BackendUse {
  backend: BackendKind;
  /** A sentence: the predicted times that decided, a switch, or the forced device. */
  reason: string;
}

export interface EncoderInfo {
  model: ModelInfo;
  /** The backend short calls (one query) run on; `backends` has batches too. */
  backend: BackendKind;
  /** Per size class: `short` (one text of up to ~128 tokens) and `batch`. */
  backends: { short: BackendUse; batch: BackendUse };
  /** The WebGPU adapter, while a WebGPU backend is loaded. */
  adapter: GpuAdapterSummary | null;
  /** The element type of the WebGPU backend's activations, while one is loaded. */
  activations: ActivationsUse | null;
  /** Why 'auto' runs on the CPU alone because WebGPU is missing or failed, if it does. */
  fallbackReason: string | null;
  loadedLayers: number;
  /** True when the weights came from the offline cache, with no download. */
  fromCache: boolean;
  engine: EngineInfo;
}

/** Where the encoder's engine runs and whom it serves. */
export interface EngineInfo {
  /** True when the engine is a SharedWorker that every tab of this origin opening this model shares. */
  shared: boolean;
  /** Encoders (tabs, or createEncoder calls) the engine serves now, this one included. */
  clients: number;
}

/** A plan, and the backend its predicted latency is for (the one its workload's calls run on). */
export interface EncoderPlan extends Plan {
  backend: BackendKind;
}
