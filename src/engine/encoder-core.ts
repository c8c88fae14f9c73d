import { type Budget, planBudget, planWorkload } from '../budget/index.js';
import { DisposedError, InputError, M3WebError, ModelFormatError, typeName, UnsupportedError } from '../errors.js';
import type { GpuSession } from '../gpu/session.js';
import { checkTolerance, DEFAULT_TOLERANCE } from '../model/adaptive.js';
import { cpuClassifier } from '../model/cpu-classifier.js';
import { cpuHead } from '../model/cpu-ops.js';
import type { AdaptiveOptions, ForwardOptions } from '../model/encoder.js';
import { LateInteractionScorer } from '../model/late-interaction.js';
import { type ListwiseBlockVectors, listwiseScores, listwiseVectors } from '../model/listwise.js';
import { PromptProjection } from '../model/projection.js';
import { lexicalWeights } from '../model/sparse.js';
import { weighQuery } from '../model/static-query.js';
import { SerialQueue } from '../serial-queue.js';
import type { ModelHandle } from '../source/model-source.js';
import { checkText } from '../tokenizer/check-text.js';
import { encodeLateDocument, encodeLateQuery, type LateInput } from '../tokenizer/late-interaction-input.js';
import { listwisePrompts } from '../tokenizer/listwise-prompt.js';
import { encodeRerankInput } from '../tokenizer/rerank-input.js';
import type {
  ActivationsChoice,
  DeviceChoice,
  EmbedOptions,
  EmbedResult,
  EncoderInfo,
  EncoderPlan,
  RerankHit,
  RerankOptions,
  SparseEmbedOptions,
  SparseVector,
  TokenEmbedOptions,
} from '../types.js';
import { type LateInteractionSpec, type ListwiseSpec, readsSegmentTypes } from '../weights/config.js';
import { taskAdapter } from '../weights/task-adapter.js';
import { PROMPT_KINDS, type Quant } from '../weights/weights.js';
import { EncoderBackends } from './backends.js';

/** Texts per backend call: bounds the latency of an abort and the size of one GPU submission. */
const CHUNK_TEXTS = 256;

/**
 * Lets the event loop run between chunks (a timer or a message: the abort of this call), which
 * a CPU forward, synchronous WebAssembly, would otherwise hold off until the whole call is done.
 */
const nextTask = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/**
 * `v`, checked finite: a forward over corrupt weights (NaN or infinite values that passed the
 * files' checksums, or were saved so) yields non-finite vectors, which must not reach a caller
 * or an index as if they were embeddings.
 */
function finite(v: Float32Array, model: string, text: number): Float32Array {
  for (const x of v) {
    if (!Number.isFinite(x)) {
      throw new ModelFormatError(`${model} gave a non-finite vector for text ${text}: its weights hold NaN or infinite values`);
    }
  }
  return v;
}
/**
 * Characters kept before tokenizing. A text this long is far past any model's token limit, so
 * cutting it first only saves tokenizer time on megabyte-sized input, never changes the ids.
 */
const CHARS_PER_TOKEN_LIMIT = 64;
const cutText = (text: string, maxTokens: number) => {
  const limit = maxTokens * CHARS_PER_TOKEN_LIMIT;
  return text.length > limit ? text.slice(0, limit) : text;
};

/** Tokens consecutive windows of a long document share (RerankOptions.long), jina-reranker-v2's default. */
const WINDOW_OVERLAP = 80;

const abortError = () => new M3WebError('ABORTED', 'the call was aborted');

function checkTexts(texts: unknown): asserts texts is string[] {
  if (!Array.isArray(texts))
    throw new InputError(`texts must be an array of strings, got ${texts === null ? 'null' : typeof texts}`);
  if (texts.length === 0) throw new InputError('texts is empty: pass at least one string');
  for (const [i, t] of texts.entries()) checkText(t, `texts[${i}]`);
}

const EMBED_OPTIONS = ['layers', 'tolerance', 'dims', 'normalize', 'kind', 'task', 'sparse', 'signal'];
const RERANK_OPTIONS = ['layers', 'instruction', 'long', 'signal'];
const TOKEN_OPTIONS = ['kind', 'layers', 'signal'];
const SPARSE_OPTIONS = ['kind', 'layers', 'signal'];

/**
 * `options` of a call: an object (or nothing) holding only the keys the call reads, so a typo
 * (`dim: 64`) is an error rather than a silent default.
 */
function checkOptions(options: unknown, known: readonly string[], call: string): void {
  if (options === undefined || options === null) return;
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new InputError(`${call} options must be an object, got ${typeName(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new InputError(`${call}: unknown option "${key}" (${known.join(', ')})`);
  }
}

function checkChoice(name: string, value: unknown, allowed: readonly number[]): void {
  if (!allowed.includes(value as number)) {
    throw new InputError(`${name} must be one the model was trained for (${allowed.join(', ')}), got ${JSON.stringify(value)}`);
  }
}

/**
 * How deep a chunk runs: every text to one exit (`sparse`: with every token's lexical-weights
 * head output), or each to where it settles; or every token's projected vector at one exit (a
 * late-interaction model's), the first `attended` tokens of each text attended.
 */
type Depth =
  | { kind: 'fixed'; options: ForwardOptions; sparse?: true }
  | { kind: 'adaptive'; options: AdaptiveOptions }
  | { kind: 'tokens'; layers: number; attended?: number[] }
  | { kind: 'splade'; layers: number }
  | { kind: 'hidden'; layers: number };

/**
 * The tolerance of an adaptive call (null for a fixed one). Throws InputError for a tolerance
 * without 'adaptive', one outside (0, 1], or 'adaptive' on a model with a single exit.
 */
function readAdaptive(options: EmbedOptions, exits: readonly number[]): number | null {
  if (options.layers !== 'adaptive') {
    if (options.tolerance !== undefined) throw new InputError("tolerance applies only with layers: 'adaptive'");
    return null;
  }
  if (exits.length < 2) {
    throw new InputError(`layers: 'adaptive' needs a model with two or more trained exits; this one has ${exits.join(', ')}`);
  }
  return checkTolerance(options.tolerance ?? DEFAULT_TOLERANCE);
}

/** Whether a call runs at the layers it asks for, or at the deepest loaded while a progressive start downloads. */
export type EmbedDepth = 'asked' | 'loaded';

/** What the encoder itself knows of EncoderInfo; the engine adds how it is shared. */
export type CoreInfo = Omit<EncoderInfo, 'engine'>;

/**
 * The encoder behind createEncoder: runs in the engine (a worker in the browser, in-process in
 * Node). Owns the model, the tokenizer and the backends (EncoderBackends: which one runs a call),
 * whose GPU device comes from the engine's session (shared with the engine's indexes); every call
 * goes through one queue, so concurrent callers wait their turn instead of racing for a
 * half-loaded model.
 */
export class EncoderCore {
  private backends: EncoderBackends | null = null;
  private readonly queue = new SerialQueue(() => this.checkAlive());
  private disposed = false;
  /** The depth upgradeTo is bringing the model to, while it runs: 'loaded' calls run at what is loaded. */
  private upgradingTo: number | null = null;
  private projector: PromptProjection | null = null;

  private constructor(
    private readonly handle: ModelHandle,
    private readonly device: DeviceChoice,
    private readonly session: GpuSession,
    private readonly activations: ActivationsChoice,
  ) {}

  static async create(
    handle: ModelHandle,
    device: DeviceChoice,
    session: GpuSession,
    activations: ActivationsChoice = 'auto',
  ): Promise<EncoderCore> {
    if (!['auto', 'webgpu', 'cpu'].includes(device))
      throw new InputError(`device must be auto, webgpu or cpu, got ${JSON.stringify(device)}`);
    if (!['auto', 'f32', 'f16'].includes(activations))
      throw new InputError(`activations must be auto, f32 or f16, got ${JSON.stringify(activations)}`);
    const core = new EncoderCore(handle, device, session, activations);
    await core.ensureBackends();
    return core;
  }

  /** The model's projection of prompted text, made runnable on first use (again if the weights object is replaced). */
  private projection(): PromptProjection | null {
    const source = this.handle.model.weights.projection;
    if (!source) return null;
    if (this.projector?.source !== source) this.projector = new PromptProjection(source);
    return this.projector;
  }

  /** The model this encoder runs. */
  get model(): ModelHandle['info'] {
    return this.handle.info;
  }

  info(): CoreInfo {
    this.checkAlive();
    const b = this.backends;
    // Between a lost device and the next call there is no set; say what a new one would start from.
    const pending = { backend: this.device === 'cpu' ? 'cpu' : 'webgpu', reason: 'the backends are being made again' } as const;
    const backends = b?.uses() ?? { short: pending, batch: pending };
    return {
      model: this.handle.info,
      backend: backends.short.backend,
      backends,
      adapter: b?.adapter ?? null,
      activations: b?.activations ?? null,
      fallbackReason: b?.fallbackReason ?? null,
      loadedLayers: this.handle.model.weights.layers.length,
      fromCache: this.handle.fromCache,
    };
  }

  /**
   * Embeds `texts`. `depth` 'asked' (an index's queries and re-embedded rows, and every call
   * without a progressive start) runs at the layers asked for, downloading them first if they
   * are missing; 'loaded' (a progressive client's calls, and the documents an index adds) runs,
   * while deeper exits are still downloading, at the deepest exit loaded so far that is not
   * deeper than asked.
   */
  embedDetailed(texts: unknown, options: EmbedOptions = {}, depth: EmbedDepth = 'asked'): Promise<EmbedResult> {
    this.checkAlive();
    checkTexts(texts);
    checkOptions(options, EMBED_OPTIONS, 'embed');
    options ??= {};
    if (options.normalize !== undefined && typeof options.normalize !== 'boolean')
      throw new InputError(`normalize must be a boolean, got ${typeName(options.normalize)}`);
    const { info } = this.handle;
    if (this.handle.model.config.splade) {
      if (options.sparse !== true) {
        throw new UnsupportedError(
          `${info.id} is a SPLADE sparse encoder: it weighs the vocabulary with embedSparse and makes no dense vector`,
        );
      }
      if (options.layers === 'adaptive') throw new InputError("sparse: true does not go with layers: 'adaptive'");
      return this.spladeWeights(texts as string[], options);
    }
    const tolerance = readAdaptive(options, info.exits);
    // An adaptive call may go as deep as the model does.
    const layers = options.layers === 'adaptive' || options.layers === undefined ? Math.max(...info.exits) : options.layers;
    const dims = options.dims ?? Math.max(...info.dims);
    checkChoice('layers', layers, info.exits);
    checkChoice('dims', dims, info.dims);
    if (options.kind !== undefined && !PROMPT_KINDS.includes(options.kind)) {
      throw new InputError(`kind must be "query" or "passage", got ${JSON.stringify(options.kind)}`);
    }
    if (this.handle.model.config.crossEncoder || this.handle.model.config.listwise) {
      throw new UnsupportedError(
        `${info.id} is a ${this.handle.model.config.listwise ? 'listwise reranker' : 'cross-encoder (a reranker)'}: ` +
          'it scores a query against documents with rerank() and makes no text vectors',
      );
    }
    if (this.handle.model.config.lateInteraction && !this.handle.model.config.lateInteraction.pooled) {
      throw new UnsupportedError(
        `${info.id} is a late-interaction (ColBERT) model: it scores a query against documents with rerank() ` +
          '(token vectors and MaxSim) and makes no single vector per text',
      );
    }
    const { adapter, instruction } = taskAdapter(options, this.handle.model.config.lora);
    const sparse = this.handle.model.config.sparse;
    if (options.sparse !== undefined && typeof options.sparse !== 'boolean')
      throw new InputError(`sparse must be a boolean, got ${typeName(options.sparse)}`);
    if (options.sparse && !sparse)
      throw new UnsupportedError(`${info.id} has no lexical-weights head: sparse: true needs a model with one (BGE-M3's)`);
    if (options.sparse && tolerance !== null) throw new InputError("sparse: true does not go with layers: 'adaptive'");
    const normalize = options.normalize ?? true;
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(abortError());
    return this.afterFetch(depth === 'loaded' && this.upgradingTo !== null ? null : layers).then(() =>
      this.queued(async () => {
        if (signal?.aborted) throw abortError();
        const exit = depth === 'loaded' ? this.servable(layers) : layers;
        if (await this.handle.ensureLayers(exit)) this.resetBackends();
        const backends = await this.ensureBackends();
        const prefix = instruction ?? (options.kind && info.prefixes[options.kind]) ?? '';
        const { tokens, truncated } = this.tokenize(texts as string[], prefix);
        // A projected call reads back full-width, unnormalised vectors and finishes them after the projection.
        const projection = this.projection();
        const projected = projection?.appliesTo(options.kind) ? projection : null;
        const width = projected ? this.handle.model.config.hiddenSize : dims;
        const backendNormalizes = normalize && !projected;
        const task = adapter === null ? {} : { task: adapter };
        const fixed = { layers: exit, dims: width, pooling: info.pooling, normalize: backendNormalizes, ...task };
        // While a progressive start has loaded one exit only, adaptive has nothing to choose from.
        const exits = info.exits.filter((e) => e <= exit).sort((a, b) => a - b);
        const forward: Depth =
          tolerance !== null && exits.length > 1
            ? {
                kind: 'adaptive',
                options: { exits, tolerance, dims: width, pooling: info.pooling, normalize: backendNormalizes, ...task },
              }
            : { kind: 'fixed', options: fixed, ...(options.sparse ? { sparse: true as const } : {}) };
        const vectors: Float32Array[] = [];
        const layersUsed: number[] = [];
        const weights: SparseVector[] = [];
        for (let i = 0; i < tokens.length; i += CHUNK_TEXTS) {
          if (i > 0) await nextTask();
          if (signal?.aborted) throw abortError();
          const chunk = tokens.slice(i, i + CHUNK_TEXTS);
          const done = await this.run(backends, chunk, forward);
          const finished = projected ? projected.finish(done.vectors, done.layers, dims, normalize) : done.vectors;
          vectors.push(...finished.map((v, j) => finite(v, info.id, i + j)));
          layersUsed.push(...done.layers);
          if (done.scores && sparse)
            weights.push(...done.scores.map((s, j) => lexicalWeights(finite(s, info.id, i + j), chunk[j] as number[], sparse)));
        }
        const result = { vectors, tokens: tokens.map((t) => t.length), truncated, layers: layersUsed };
        return options.sparse ? { ...result, sparse: weights } : result;
      }),
    );
  }

  /** Each text behind `prefix`, cut to the model's length: its token ids and whether it was cut. */
  private tokenize(texts: readonly string[], prefix: string): { tokens: number[][]; truncated: boolean[] } {
    const { tokenizer, config } = this.handle.model;
    const { maxTokens } = config;
    const tokens: number[][] = [];
    const truncated: boolean[] = [];
    // What the prefix and the specials alone encode to: a text adding nothing to it has no
    // character the tokenizer reads, and its vector would be the model's bias alone. A static
    // embedder's is zeros, as model2vec gives for a text of unknown tokens.
    const bare = this.handle.info.layers === 0 ? -1 : tokenizer.encode(prefix, maxTokens).ids.length;
    for (const [i, text] of texts.entries()) {
      const enc = tokenizer.encode(prefix + cutText(text, maxTokens), maxTokens);
      if (enc.ids.length <= bare) throw new InputError(`texts[${i}] has no character the model's tokenizer reads`);
      tokens.push(enc.ids);
      truncated.push(enc.truncated);
    }
    return { tokens, truncated };
  }

  /**
   * A cross-encoder's scores of `query` against each of `documents` (read as one pair each, by the
   * tokenizer's pair template or the model's prompt), best first.
   */
  rerank(query: unknown, documents: unknown, options: RerankOptions = {}): Promise<RerankHit[]> {
    this.checkAlive();
    const { info, model } = this.handle;
    const cross = model.config.crossEncoder;
    const late = model.config.lateInteraction;
    const listwise = model.config.listwise;
    if (!late && !listwise && (!cross || !model.weights.classifier)) {
      throw new UnsupportedError(
        `${info.id} is an embedding model: rerank needs a cross-encoder (a reranker: a *ForSequenceClassification checkpoint ` +
          'with one label) or a late-interaction (ColBERT) model',
      );
    }
    checkText(query, 'query');
    if (!Array.isArray(documents))
      throw new InputError(`documents must be an array of strings, got ${documents === null ? 'null' : typeof documents}`);
    checkOptions(options, RERANK_OPTIONS, 'rerank');
    options ??= {};
    for (const [i, d] of documents.entries()) checkText(d, `documents[${i}]`);
    // A text the tokenizer reads nothing of (control, zero-width or unpaired surrogate characters) pairs as nothing.
    for (const [i, t] of [query, ...documents].entries()) {
      if (model.tokenizer.tokenIds(cutText(t as string, model.config.maxTokens), false).length === 0)
        throw new InputError(`${i === 0 ? 'query' : `documents[${i - 1}]`} has no character the model's tokenizer reads`);
    }
    const layers = options.layers ?? Math.max(...info.exits);
    checkChoice('layers', layers, info.exits);
    const { instruction } = options;
    if (instruction !== undefined) {
      checkText(instruction, 'instruction');
      // Only a decoder reranker's prompt reads one.
      if (!listwise && (!cross || cross.input === 'pair'))
        throw new InputError(
          `${info.id} reads no instruction: only a reranker with an instruction prompt (Qwen3-Reranker, mxbai-rerank-v2, jina-reranker-v3) does`,
        );
    }
    const long = options.long ?? 'cut';
    if (long !== 'cut' && long !== 'windows')
      throw new InputError(`long must be "cut" or "windows", got ${JSON.stringify(long)}`);
    if (late && long === 'windows')
      throw new InputError(
        `${info.id} is a late-interaction model: it reads a document's first ${late.documentLength} tokens; long: "windows" is for cross-encoders`,
      );
    if (listwise && long === 'windows')
      throw new InputError(
        `${info.id} is a listwise reranker: it reads each document's first tokens in one prompt with the others; long: "windows" is for pair cross-encoders`,
      );
    const windows = long === 'windows' ? { overlap: WINDOW_OVERLAP } : undefined;
    if (documents.length === 0) return Promise.resolve([]);
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(abortError());
    if (late) return this.lateRerank(query as string, documents as string[], layers, late, signal);
    if (listwise) return this.listwiseRerank(query as string, documents as string[], layers, listwise, instruction, signal);
    if (!cross || !model.weights.classifier) throw new Error('unreachable: a cross-encoder without its head');
    const head = cpuClassifier(model.weights.classifier, cross, model.config.layerNormEps);
    const segments = readsSegmentTypes(model.config);
    return this.afterFetch(layers).then(() =>
      this.queued(async () => {
        if (signal?.aborted) throw abortError();
        if (await this.handle.ensureLayers(layers)) this.resetBackends();
        const backends = await this.ensureBackends();
        const { maxTokens } = model.config;
        // Every document's inputs (one, or its windows), each tagged with the document's index.
        const pairs = (documents as string[]).flatMap((d, index) =>
          encodeRerankInput(model.tokenizer, cross, cutText(query as string, maxTokens), cutText(d, maxTokens), maxTokens, {
            segmentTypes: segments,
            instruction,
            windows,
          }).map((input) => ({ ...input, index })),
        );
        const H = model.config.hiddenSize;
        const best = new Map<number, RerankHit>();
        for (let i = 0; i < pairs.length; i += CHUNK_TEXTS) {
          if (i > 0) await nextTask();
          if (signal?.aborted) throw abortError();
          const chunk = pairs.slice(i, i + CHUNK_TEXTS);
          // The pooled state, full width, unnormalised: what the classifier head reads.
          const pooled = {
            layers,
            dims: H,
            pooling: cross.pooling,
            normalize: false,
            secondSegment: chunk.map((p) => p.secondSegment),
          };
          const done = await this.run(
            backends,
            chunk.map((p) => p.ids),
            { kind: 'fixed', options: pooled },
          );
          done.vectors.forEach((state, j) => {
            const { index, truncated } = chunk[j] as (typeof chunk)[number];
            const logit = head(finite(state, info.id, index));
            const score = cross.activation === 'sigmoid' ? 1 / (1 + Math.exp(-logit)) : logit;
            const seen = best.get(index);
            if (!seen || score > seen.score) best.set(index, { index, score, truncated });
          });
        }
        return [...best.values()].sort((a, b) => b.score - a.score || a.index - b.index);
      }),
    );
  }

  /**
   * A late-interaction model's token vectors (`info().model.lateInteraction`): per text, its
   * kept tokens' vectors, L2-normalised, side by side ([n, dim]); `kind` 'query' cuts and expands
   * as a query, 'passage' (default) reads a document. What `rerank` scores by `maxSim`, for a page
   * that keeps its documents' vectors.
   */
  embedTokens(texts: unknown, options: TokenEmbedOptions = {}): Promise<Float32Array[]> {
    this.checkAlive();
    const { info, model } = this.handle;
    const spec = model.config.lateInteraction;
    if (!spec) {
      throw new UnsupportedError(`${info.id} makes no token vectors: embedTokens needs a late-interaction (ColBERT) model`);
    }
    checkTexts(texts);
    checkOptions(options, TOKEN_OPTIONS, 'embedTokens');
    options ??= {};
    const kind = options.kind ?? 'passage';
    if (!PROMPT_KINDS.includes(kind)) throw new InputError(`kind must be "query" or "passage", got ${JSON.stringify(kind)}`);
    const layers = options.layers ?? Math.max(...info.exits);
    checkChoice('layers', layers, info.exits);
    const encode = kind === 'query' ? encodeLateQuery : encodeLateDocument;
    const length = kind === 'query' ? spec.queryLength : spec.documentLength;
    // What the specials and the marker alone encode to: a text adding nothing has no character the tokenizer reads.
    const bare = encode(model.tokenizer, spec, '').tokens;
    const inputs = (texts as string[]).map((t, i) => {
      const input = encode(model.tokenizer, spec, cutText(t, length));
      if (input.tokens <= bare) throw new InputError(`texts[${i}] has no character the model's tokenizer reads`);
      return { ...input, document: kind === 'passage' };
    });
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortError());
    return this.lateVectors(inputs, layers, spec, signal).then((done) => done.map((d) => d.vectors));
  }

  /**
   * The lexical weights of `texts` (a model with a lexical-weights head: `info().model.sparse`),
   * each tokenized as `embed` does (`kind`: the model's prefix, where it has one): per text the
   * token ids that weigh and their weights, compared by `sparseScore`.
   */
  embedSparse(texts: unknown, options: SparseEmbedOptions = {}): Promise<SparseVector[]> {
    this.checkAlive();
    const { info, model } = this.handle;
    if (model.config.splade) {
      checkTexts(texts);
      checkOptions(options, SPARSE_OPTIONS, 'embedSparse');
      return this.spladeWeights(texts as string[], options ?? {}).then((r) => r.sparse as SparseVector[]);
    }
    if (!model.config.sparse) {
      throw new UnsupportedError(
        `${info.id} has no lexical-weights head: embedSparse needs a model with one (BGE-M3's sparse_linear.pt)`,
      );
    }
    checkOptions(options, SPARSE_OPTIONS, 'embedSparse');
    // The pooled vectors come with them: one more dispatch and a few bytes, not another path through the backends.
    return this.embedDetailed(texts, { ...(options ?? {}), sparse: true }).then((r) => r.sparse as SparseVector[]);
  }

  /**
   * A SPLADE encoder's weights over the vocabulary, as embedDetailed({ sparse: true }) returns
   * them: each text tokenized as `embed` does, the forward, the masked-LM head and SpladePooling on
   * the backend (on WebGPU one vocabulary-wide row per text comes back). `vectors` are empty: the
   * model makes no dense one.
   */
  private spladeWeights(texts: string[], options: SparseEmbedOptions | EmbedOptions): Promise<EmbedResult> {
    const { info } = this.handle;
    if (options.kind !== undefined && !PROMPT_KINDS.includes(options.kind))
      throw new InputError(`kind must be "query" or "passage", got ${JSON.stringify(options.kind)}`);
    // embedDetailed refused 'adaptive' before calling.
    const layers = (options.layers ?? Math.max(...info.exits)) as number;
    checkChoice('layers', layers, info.exits);
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortError());
    const prefix = (options.kind && info.prefixes[options.kind]) ?? '';
    if (options.kind === 'query' && this.handle.model.config.splade?.staticQuery)
      return Promise.resolve(this.staticQueryWeights(texts, prefix, layers));
    return this.afterFetch(layers).then(() =>
      this.queued(async () => {
        if (signal?.aborted) throw abortError();
        if (await this.handle.ensureLayers(layers)) this.resetBackends();
        const backends = await this.ensureBackends();
        const { tokens, truncated } = this.tokenize(texts, prefix);
        const sparse: SparseVector[] = [];
        for (let i = 0; i < tokens.length; i += CHUNK_TEXTS) {
          if (i > 0) await nextTask();
          if (signal?.aborted) throw abortError();
          const chunk = tokens.slice(i, i + CHUNK_TEXTS);
          const done = await this.run(backends, chunk, { kind: 'splade', layers });
          (done.splade ?? []).forEach((v, j) => {
            finite(v.values, info.id, i + j);
            sparse.push(v);
          });
        }
        return {
          vectors: texts.map(() => new Float32Array(0)),
          tokens: tokens.map((t) => t.length),
          truncated,
          layers: texts.map(() => layers),
          sparse,
        };
      }),
    );
  }

  /**
   * Inference-free SPLADE's queries, weighed by its table with no forward (staticQueryVector): each
   * text's tokens without the special ones, as SparseStaticEmbedding reads them, cut to the model's length.
   */
  private staticQueryWeights(texts: string[], prefix: string, layers: number): EmbedResult {
    const { tokenizer, config, weights } = this.handle.model;
    const table = weights.mlmHead?.queryWeights;
    if (!table) throw new ModelFormatError(`${this.handle.info.id}: its query weights are missing from the pack's head`);
    const weighed = texts.map((text, i) => {
      const w = weighQuery(tokenizer, prefix + cutText(text, config.maxTokens), config.maxTokens, table);
      if (w.tokens === 0) throw new InputError(`texts[${i}] has no character the model's tokenizer reads`);
      return w;
    });
    return {
      vectors: texts.map(() => new Float32Array(0)),
      tokens: weighed.map((w) => w.tokens),
      truncated: weighed.map((w) => w.truncated),
      layers: texts.map(() => layers),
      sparse: weighed.map((w) => w.vector),
    };
  }

  /**
   * A late-interaction model's rerank: the query's token vectors, each document's, and the MaxSim
   * of the two (RerankHit.score: a sum over the query's tokens, or BGE-M3's mean; not a probability).
   */
  private async lateRerank(
    query: string,
    documents: string[],
    layers: number,
    spec: LateInteractionSpec,
    signal: AbortSignal | undefined,
  ): Promise<RerankHit[]> {
    const { tokenizer } = this.handle.model;
    const q = { ...encodeLateQuery(tokenizer, spec, cutText(query, spec.queryLength)), document: false };
    const docs = documents.map((d) => ({
      ...encodeLateDocument(tokenizer, spec, cutText(d, spec.documentLength)),
      document: true,
    }));
    const scorer = new LateInteractionScorer(spec);
    // The query rides with the first chunk of documents: one submission and one readback.
    const [queryVectors, ...done] = await this.lateVectors([q, ...docs], layers, spec, signal);
    return done
      .map((d, index) => ({
        index,
        score: scorer.score((queryVectors as (typeof done)[number]).vectors, d.vectors),
        truncated: q.truncated || d.truncated,
      }))
      .sort((a, b) => b.score - a.score || a.index - b.index);
  }

  /**
   * A listwise reranker's rerank: each block of documents read with the query as one prompt, the
   * states at its document and query tokens projected on the CPU, and the blocks' scores merged
   * (listwiseScores: cosines, not probabilities).
   */
  private listwiseRerank(
    query: string,
    documents: string[],
    layers: number,
    spec: ListwiseSpec,
    instruction: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<RerankHit[]> {
    const { info, model } = this.handle;
    const project = cpuHead(model.weights.lateProjection);
    const H = model.config.hiddenSize;
    return this.afterFetch(layers).then(() =>
      this.queued(async () => {
        if (signal?.aborted) throw abortError();
        if (await this.handle.ensureLayers(layers)) this.resetBackends();
        const backends = await this.ensureBackends();
        // Prompts as long as the backends take: a GPU with small buffers gets more, shorter blocks.
        const texts = [query, ...documents].map((t) => cutText(t, model.config.maxTokens));
        const { blocks, truncated } = listwisePrompts(
          model.tokenizer,
          spec,
          texts[0] as string,
          texts.slice(1),
          backends.maxTextTokens,
          instruction,
        );
        const vectors: ListwiseBlockVectors[] = [];
        // One prompt a run: a block is as long as the model allows, so a batch of them would not fit where one does.
        for (const [b, block] of blocks.entries()) {
          if (b > 0) await nextTask();
          if (signal?.aborted) throw abortError();
          const [states] = (await this.run(backends, [block.ids], { kind: 'hidden', layers })).vectors;
          const v = listwiseVectors(states as Float32Array, H, block, project);
          for (const d of [...v.documents, v.query]) finite(d, info.id, block.documents[0] as number);
          vectors.push(v);
        }
        const scores = listwiseScores(vectors);
        return blocks
          .flatMap((block) => block.documents)
          .map((index, k) => ({ index, score: scores[k] as number, truncated: truncated[index] as boolean }))
          .sort((a, b) => b.score - a.score || a.index - b.index);
      }),
    );
  }

  /** The token vectors of texts already tokenized (`document`: read as a document: its skiplist applies), in chunks of CHUNK_TEXTS. */
  private lateVectors(
    inputs: (LateInput & { document: boolean })[],
    layers: number,
    spec: LateInteractionSpec,
    signal: AbortSignal | undefined,
  ): Promise<{ vectors: Float32Array; truncated: boolean }[]> {
    const { info } = this.handle;
    const scorer = new LateInteractionScorer(spec);
    return this.afterFetch(layers).then(() =>
      this.queued(async () => {
        if (signal?.aborted) throw abortError();
        if (await this.handle.ensureLayers(layers)) this.resetBackends();
        const backends = await this.ensureBackends();
        const out: { vectors: Float32Array; truncated: boolean }[] = [];
        for (let i = 0; i < inputs.length; i += CHUNK_TEXTS) {
          if (i > 0) await nextTask();
          if (signal?.aborted) throw abortError();
          const chunk = inputs.slice(i, i + CHUNK_TEXTS);
          const done = await this.run(
            backends,
            chunk.map((t) => t.ids),
            { kind: 'tokens', layers, attended: chunk.map((t) => t.attended) },
          );
          done.vectors.forEach((projected, j) => {
            const { ids, truncated, document } = chunk[j] as (typeof chunk)[number];
            out.push({ vectors: scorer.vectors(finite(projected, info.id, i + j), ids, document), truncated });
          });
        }
        return out;
      }),
    );
  }

  async embed(texts: unknown, options: EmbedOptions = {}): Promise<Float32Array[]> {
    return (await this.embedDetailed(texts, options)).vectors;
  }

  /**
   * The (layers, dims) with the best measured quality that fits `budget` on this device, predicted
   * on the backend that calls of the budget's size run on. A forced device is probed on the first
   * plan (a short timed run of one layer); 'auto' probed both backends when it was made. Probes
   * are cached per adapter and model (IndexedDB; in Node, for the process).
   */
  plan(budget: Budget = {}): Promise<EncoderPlan> {
    this.checkAlive();
    return this.queued(async () => {
      const { info } = this.handle;
      const quant = info.quantization as Quant;
      const model = {
        exits: info.exits,
        dims: info.dims,
        config: this.handle.model.config,
        quantization: { linear: quant, embeddings: quant },
        maxTokens: info.maxTokens,
        ...(info.quality ? { quality: info.quality } : {}),
      };
      const { batch, seqLen } = planWorkload(model, budget);
      const { backend, cost } = await (await this.ensureBackends()).costFor(batch, seqLen);
      return { ...planBudget(model, cost, budget), backend };
    });
  }

  /**
   * Brings the model from the layers loaded to `target`, one trained exit at a time, for a
   * progressive start: each exit's files download outside the queue, so calls go on at the depth
   * already loaded, then join the model between two calls (the backends are made again with
   * them); `onUpgrade` hears each exit once it can serve. A failed download ends it: calls then
   * fetch the layers they ask for, as without a progressive start, and report the failure.
   */
  async upgradeTo(target: number, onUpgrade: (layers: number) => void): Promise<void> {
    const loaded = this.handle.model.weights.layers.length;
    const next = this.handle.info.exits.filter((e) => e > loaded && e <= target).sort((a, b) => a - b);
    this.upgradingTo = next.at(-1) ?? null;
    try {
      for (const exit of next) {
        await this.handle.fetchLayers(exit);
        await this.queued(async () => {
          if (await this.handle.ensureLayers(exit)) this.resetBackends();
          await this.ensureBackends();
        });
        onUpgrade(exit);
      }
    } finally {
      this.upgradingTo = null;
    }
  }

  /**
   * Whether the upgrade under way is still to load the first `layers` layers: a caller that
   * needs them can wait for its onUpgrade instead of fetching them itself.
   */
  upgradeBrings(layers: number): boolean {
    return this.upgradingTo !== null && this.upgradingTo >= layers && this.handle.model.weights.layers.length < layers;
  }

  /** Destroys the GPU device now, as a driver reset would; the next call recovers. */
  async simulateDeviceLoss(): Promise<void> {
    this.checkAlive();
    await this.session.loseDevice();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.resetBackends();
  }

  private checkAlive(): void {
    if (this.disposed) throw new DisposedError('This encoder');
  }

  /**
   * Waits, outside the queue, until the files of the first `layers` layers are here (none: no
   * wait), so a call that needs a download does not hold up the calls queued behind it.
   */
  private async afterFetch(layers: number | null): Promise<void> {
    if (layers !== null && layers > this.handle.model.weights.layers.length) await this.handle.fetchLayers(layers);
  }

  /** The exit a 'loaded' call asking for `asked` runs at: the deepest loaded, while an upgrade is under way. */
  private servable(asked: number): number {
    if (this.upgradingTo === null) return asked;
    const loaded = Math.min(asked, this.handle.model.weights.layers.length);
    // The first exit is loaded before an upgrade starts (Engine.open), so one always fits.
    return Math.max(...this.handle.info.exits.filter((e) => e <= loaded));
  }

  private queued<T>(job: () => Promise<T>): Promise<T> {
    return this.queue.run(job);
  }

  /**
   * Runs one chunk on the backend for its size and reports the time to 'auto' (for an adaptive
   * chunk, at the mean depth its texts ran). A lost GPU device fails the call that saw it;
   * dropping the backends here makes the next call create a new device and upload the weights again.
   */
  private async run(
    backends: EncoderBackends,
    tokens: number[][],
    depth: Depth,
  ): Promise<{ vectors: Float32Array[]; layers: number[]; scores?: Float32Array[]; splade?: SparseVector[] }> {
    const seqLen = Math.max(...tokens.map((t) => t.length));
    const backend = await backends.forCall(tokens.length, seqLen);
    try {
      const start = performance.now();
      let done: { vectors: Float32Array[]; layers: number[]; scores?: Float32Array[]; splade?: SparseVector[] };
      let meanLayers: number;
      if (depth.kind === 'fixed' && depth.sparse) {
        const both = await backend.embedWithScores(tokens, depth.options);
        done = { ...both, layers: tokens.map(() => depth.options.layers) };
        meanLayers = depth.options.layers;
      } else if (depth.kind === 'fixed') {
        done = { vectors: await backend.embed(tokens, depth.options), layers: tokens.map(() => depth.options.layers) };
        meanLayers = depth.options.layers;
      } else if (depth.kind === 'splade') {
        const splade = await backend.spladeVectors(tokens, depth.layers);
        done = { vectors: [], splade, layers: tokens.map(() => depth.layers) };
        meanLayers = depth.layers;
      } else if (depth.kind === 'hidden') {
        done = { vectors: await backend.hiddenStates(tokens, depth.layers), layers: tokens.map(() => depth.layers) };
        meanLayers = depth.layers;
      } else if (depth.kind === 'tokens') {
        done = {
          vectors: await backend.tokenVectors(tokens, depth.layers, depth.attended),
          layers: tokens.map(() => depth.layers),
        };
        meanLayers = depth.layers;
      } else {
        const adaptive = await backend.embedAdaptive(tokens, depth.options);
        done = adaptive;
        meanLayers = adaptive.textsPerLayer.reduce((a, b) => a + b, 0) / tokens.length;
      }
      backends.record(backend.kind, meanLayers, tokens.length, seqLen, performance.now() - start);
      return done;
    } catch (err) {
      if (err instanceof M3WebError && err.code === 'GPU_DEVICE_LOST') this.resetBackends();
      throw err;
    }
  }

  private resetBackends(): void {
    this.backends?.dispose();
    this.backends = null;
  }

  /** The backends, rebuilt when their device was lost (by this encoder's call or an index's). */
  private async ensureBackends(): Promise<EncoderBackends> {
    if (this.backends?.lost) this.resetBackends();
    const { info, model } = this.handle;
    this.backends ??= await EncoderBackends.create(
      model.weights,
      this.device,
      this.session,
      `${info.id}:${info.quantization}`,
      Math.max(...info.exits),
      this.activations,
    );
    return this.backends;
  }
}
