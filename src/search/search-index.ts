import { DisposedError, InputError, M3WebError } from '../errors.js';
import { GpuSession } from '../gpu/session.js';
import { SerialQueue } from '../serial-queue.js';
import { checkText } from '../tokenizer/check-text.js';
import type { ModelInfo } from '../types.js';
import { codec } from './codec.js';
import { Collection } from './collection.js';
import { CpuScorer } from './cpu-scorer.js';
import { docHash } from './doc-hash.js';
import { type EmbedSettings, embedDocs, embedQuery, embedRows, passageBudget } from './embed-docs.js';
import { candidateCount, coarseWidth, type RankOptions, rankRows, type ScoredStore } from './funnel.js';
import { bestPerDocument, type DocRank, fuse, fusionDepth, rankedAlone } from './fuse.js';
import { GpuScorer } from './gpu-scorer.js';
import { highlights } from './highlight.js';
import { IdleSlices } from './idle-slices.js';
import { Lexicon } from './lexicon.js';
import { type Change, SegmentLog, type StoredIndex } from './persist.js';
import { proximityFirst, wordPairs } from './proximity.js';
import { parseQuery, plainQuery, syntaxMask } from './query-syntax.js';
import { Reembedder, SLICE_ROWS, type SliceResult } from './reembed.js';
import { rerankedSearch } from './rerank.js';
import { concatSegments, type Segment, withoutDocs } from './segment.js';
import { parseIndex, serializeIndex } from './serialize.js';
import type { StoredSparse } from './sparse-postings.js';
import { mergeRanked, type Ranked } from './topk.js';
import type {
  CorrectionOptions,
  IndexDoc,
  IndexEncoder,
  IndexHost,
  IndexOptions,
  IndexSignature,
  Ranker,
  SearchHit,
  SearchOptions,
  SyncReport,
  VectorIndex,
  VectorType,
} from './types.js';
import { type Corrections, correctedWords } from './typos.js';
import { type CheckedSearch, checkCorrections, checkDocs, checkIds, checkSearch } from './validate.js';
import { metaSegment, planWrite } from './write-plan.js';

type DeviceChoice = NonNullable<IndexOptions['device']>;
const VECTOR_TYPES: readonly VectorType[] = ['f32', 'int8', 'binary'];

const signatureText = (s: IndexSignature) =>
  `model "${s.model}"${s.fingerprint ? ` (weights ${s.fingerprint.slice(0, 8)})` : ''}, ${s.layers} layers, ${s.dims} dims, ${s.vector} vectors${s.symmetric ? ', symmetric' : ''}${s.sparse ? ', lexical weights' : ''}`;
/** Indexes stored before fingerprints existed, and models without one, are matched by id alone. */
const sameWeights = (a: IndexSignature, b: IndexSignature) =>
  a.fingerprint === undefined || b.fingerprint === undefined || a.fingerprint === b.fingerprint;
const sameSignature = (a: IndexSignature, b: IndexSignature) =>
  a.model === b.model &&
  sameWeights(a, b) &&
  a.layers === b.layers &&
  a.dims === b.dims &&
  a.vector === b.vector &&
  a.symmetric === b.symmetric &&
  a.sparse === b.sparse;

function checkOptions(options: unknown): asserts options is IndexOptions {
  if (typeof options !== 'object' || options === null)
    throw new InputError('createIndex needs an options object: { encoder, name, ... }');
  const o = options as IndexOptions;
  if (typeof o.encoder?.embedDetailed !== 'function' || typeof o.encoder?.info !== 'function') {
    throw new InputError('encoder must be an encoder from createEncoder (or an object with embedDetailed and info)');
  }
  if (typeof o.name !== 'string' || o.name === '')
    throw new InputError(`name must be a non-empty string, got ${JSON.stringify(o.name)}`);
  const oneOf = (what: string, v: unknown, allowed: readonly unknown[]) => {
    if (v !== undefined && !allowed.includes(v))
      throw new InputError(`${what} must be ${allowed.join(', ')} or left out, got ${JSON.stringify(v)}`);
  };
  oneOf('store', o.store, ['indexeddb', 'memory']);
  oneOf('vector', o.vector, VECTOR_TYPES);
  oneOf('device', o.device, ['auto', 'webgpu', 'cpu']);
  oneOf('ngrams', o.ngrams, [true, false]);
  oneOf('lexicalWarmup', o.lexicalWarmup, [true, false]);
  oneOf('symmetric', o.symmetric, [true, false]);
  oneOf('sparse', o.sparse, [true, false]);
  if (o.chunkTokens !== undefined && !(Number.isInteger(o.chunkTokens) && o.chunkTokens >= 1))
    throw new InputError(`chunkTokens must be a positive integer or left out, got ${JSON.stringify(o.chunkTokens)}`);
}

/**
 * What this index will encode with. Options left out keep what a stored index of the same
 * model was built with, else default to the model's deepest exit and widest width, f32.
 */
function resolveSignature(o: IndexOptions, model: ModelInfo, stored: IndexSignature | null): IndexSignature {
  const same = stored?.model === model.id ? stored : null;
  const layers = o.layers ?? same?.layers ?? Math.max(...model.exits);
  if (!model.exits.includes(layers))
    throw new InputError(`layers must be one of the model's exits (${model.exits.join(', ')}), got ${JSON.stringify(layers)}`);
  const rows = model.sparseOnly ? sparseOnlyRows(o, model) : vectorRows(o, model, same);
  return {
    model: model.id,
    ...(model.fingerprint ? { fingerprint: model.fingerprint } : {}),
    layers,
    dims: rows.dims,
    vector: rows.vector,
    ...((o.symmetric ?? same?.symmetric) ? { symmetric: true } : {}),
    ...(rows.sparse ? { sparse: true } : {}),
  };
}

type Rows = Pick<IndexSignature, 'dims' | 'vector'> & { sparse: boolean };

/** What a dense model's rows hold: a vector of one of its widths, and its lexical weights where it has a head for them. */
function vectorRows(o: IndexOptions, model: ModelInfo, same: IndexSignature | null): Rows {
  const dims = o.dims ?? same?.dims ?? Math.max(...model.dims);
  if (!model.dims.includes(dims))
    throw new InputError(`dims must be one of the model's widths (${model.dims.join(', ')}), got ${JSON.stringify(dims)}`);
  if (o.sparse && !model.sparse)
    throw new InputError(
      `sparse: model "${model.id}" has no lexical-weights head (BGE-M3's sparse_linear.pt) to store weights from`,
    );
  return {
    dims,
    vector: o.vector ?? same?.vector ?? 'f32',
    sparse: o.sparse ?? (same ? same.sparse === true : model.sparse === true),
  };
}

/**
 * A SPLADE model's rows: its weights over the vocabulary and no vector (`dims` 0: empty rows),
 * ranked by SPLADE's dot product, BM25, or both fused.
 */
function sparseOnlyRows(o: IndexOptions, model: ModelInfo): Rows {
  const no = (what: string) =>
    new InputError(`${what}: model "${model.id}" is a SPLADE sparse encoder, and its index stores its weights, not vectors`);
  if (o.dims !== undefined) throw no('dims');
  if (o.vector !== undefined) throw no('vector');
  if (o.sparse === false) throw no('sparse: false');
  return { dims: 0, vector: 'f32', sparse: true };
}

/**
 * Binary rows (48 bytes at 384 dims) are already smaller than a coarse copy would make the
 * first pass, so binary indexes always search exactly.
 */
function newCollection(s: IndexSignature, model: ModelInfo, ngrams: boolean): Collection {
  const coarse = s.vector === 'binary' || s.dims === 0 ? null : coarseWidth(s.dims, model.dims);
  return new Collection(codec(s.vector, s.dims), coarse === null ? null : codec('int8', coarse), ngrams, s.layers);
}

/** The collection and the scorers over it (on the GPU session's device, or the CPU). */
interface Scoring {
  collection: Collection;
  full: ScoredStore;
  coarse: ScoredStore | null;
}

/** Scoring on WebGPU unless the choice, the encoder's own backend or a missing adapter say CPU. */
async function openScoring(
  collection: Collection,
  device: DeviceChoice,
  encoderBackend: string,
  session: GpuSession,
): Promise<Scoring> {
  const { store, coarse } = collection;
  const onCpu = (): Scoring => ({
    collection,
    full: { scorer: new CpuScorer(store), store },
    coarse: coarse && { scorer: new CpuScorer(coarse), store: coarse },
  });
  // An index without vectors (a SPLADE model's) scores none.
  if (device === 'cpu' || (device === 'auto' && encoderBackend === 'cpu') || store.codec.dims === 0) return onCpu();
  try {
    const { gpu, queue } = await session.acquire();
    const [full, first] = await Promise.all([
      GpuScorer.create(gpu, store, {}, queue),
      coarse && GpuScorer.create(gpu, coarse, {}, queue),
    ]);
    return { collection, full: { scorer: full, store }, coarse: coarse && first && { scorer: first, store: coarse } };
  } catch (err) {
    if (device === 'webgpu') throw err;
    return onCpu();
  }
}

function closeScoring(s: Scoring): void {
  s.full.scorer.dispose();
  s.coarse?.scorer.dispose();
}

/**
 * A memory or IndexedDB index. Under a progressive start (an engine's `host`) documents are
 * embedded at the deepest exit loaded, each row's exit recorded; once the index's own exit has
 * loaded, a Reembedder embeds those rows again a slice at a time, each slice one commit. A
 * failure of that background work rejects the index's next call, once, with its error; the rows
 * it did not reach keep their exit (and are searched at it) until the next upgrade or write
 * starts it again.
 */
class SearchIndex implements VectorIndex {
  private readonly queue = new SerialQueue(() => {
    if (this.closed) throw new DisposedError(`Index "${this.name}"`);
  });
  private closed = false;
  /** Another engine committed to the stored index since this one last read it. */
  private stale = false;
  private readonly reembed = new Reembedder((signal) => this.reembedSlice(signal));
  /** Makes the lexical postings in idle time, so the first lexical or hybrid search need not. */
  private readonly warmup: IdleSlices | null;
  private readonly stopUpgrades: () => void;

  constructor(
    readonly name: string,
    private readonly encoder: IndexEncoder,
    private readonly model: ModelInfo,
    private readonly device: DeviceChoice,
    private readonly encoderBackend: string,
    /** What this encoder and these options produce. */
    private readonly wanted: IndexSignature,
    /** What the stored vectors were built with; differs from `wanted` until clear() or import(). */
    private built: IndexSignature,
    private engine: Scoring,
    private readonly log: SegmentLog | null,
    private readonly gpu: GpuSession,
    private readonly ownsGpu: boolean,
    private readonly ngrams: boolean,
    private readonly chunkTokens: number | undefined,
    private readonly lexicon: Lexicon | null,
    private readonly host: IndexHost | null,
    lexicalWarmup: boolean,
  ) {
    this.warmup = lexicalWarmup ? new IdleSlices((stop) => this.engine.collection.warmLexical(stop)) : null;
    this.warmup?.start();
    log?.onChange(() => {
      this.stale = true;
    });
    this.stopUpgrades =
      host?.onUpgrade((layers) => {
        if (layers >= this.built.layers) this.reembed.start();
      }) ?? (() => {});
    this.reembedIfShallow();
  }

  get size(): number {
    return this.engine.collection.size;
  }

  get backend(): 'webgpu' | 'cpu' {
    return this.engine.full.scorer.kind;
  }

  get signature(): IndexSignature {
    return { ...this.built };
  }

  get needsRebuild(): boolean {
    return !sameSignature(this.built, this.wanted);
  }

  get shallowRows(): number {
    return this.engine.collection.shallowRows;
  }

  add(docs: IndexDoc[]): Promise<void> {
    return this.write(docs, 'add');
  }

  upsert(docs: IndexDoc[]): Promise<void> {
    return this.write(docs, 'upsert');
  }

  async sync(docs: IndexDoc[]): Promise<SyncReport> {
    const checked = checkDocs(docs, 'sync');
    return this.queued(async () => {
      this.checkSignature();
      const report = await this.store(checked, 'sync');
      this.reembedIfShallow();
      return report;
    });
  }

  // The public methods are async so that bad input rejects rather than throws.
  async remove(ids: string[]): Promise<number> {
    const checked = checkIds(ids);
    return this.queued(() =>
      this.locked(async () => {
        const present = [...new Set(checked)].filter((id) => this.engine.collection.has(id));
        if (present.length) await this.commit({ add: null, remove: present, reset: false });
        return present.length;
      }),
    );
  }

  search(query: string, options?: SearchOptions): Promise<SearchHit[]> {
    return rerankedSearch(query, options, (q, o) => this.firstStage(q, o));
  }

  private async firstStage(query: string, options?: SearchOptions): Promise<SearchHit[]> {
    const vectorless = this.built.dims === 0;
    const o = checkSearch(query, options, this.built.dims, vectorless ? [0] : this.model.dims, this.model.search?.fusion);
    if (o.mode === 'sparse' && !this.built.sparse)
      throw new InputError(
        "mode 'sparse' needs an index that stores lexical weights (IndexOptions.sparse, on a model with a sparse head)",
      );
    if (o.mode === 'vector' && vectorless)
      throw new InputError(
        `mode 'vector': this index holds no vectors (model "${this.model.id}" is a SPLADE sparse encoder); search by 'sparse', 'lexical' or 'hybrid'`,
      );
    const parsed = o.syntax ? parseQuery(query) : plainQuery(query);
    query = parsed.text;
    return this.queued(async () => {
      if (this.stale && this.log) await this.log.locked(() => this.reload());
      this.checkSignature();
      const { collection } = this.engine;
      if (collection.size === 0 || query.trim() === '') return [];
      const mask = await syntaxMask(parsed, collection.mask(o.filter), collection.rowReader());
      const depth = o.mode === 'hybrid' ? fusionDepth(o.k) : o.k;
      const lists: Partial<Record<Ranker, DocRank[]>> = {};
      const bySparse = o.mode === 'sparse' || (o.mode === 'hybrid' && this.built.sparse === true);
      if (o.mode === 'vector' || o.mode === 'hybrid' || bySparse) {
        const found = await this.vectorDocs(parsed.words, o, mask, o.mode === 'sparse' || vectorless ? 0 : depth, bySparse);
        if (o.mode !== 'sparse' && !vectorless) lists.vector = found.docs;
        const weights = found.sparse;
        if (weights) lists.sparse = await this.bestDocuments(async (want) => collection.sparse.top(weights, want, mask), depth);
      }
      const byWords = o.mode === 'lexical' || o.mode === 'hybrid';
      const corrections = byWords && o.typos ? correctedWords(collection.lexical.corrections(query, o.prefix)) : [];
      const translations =
        byWords && o.translate && this.lexicon ? this.lexicon.translations(query, (w) => collection.lexical.holds(w)) : [];
      if (byWords) {
        const ranked = await this.bestDocuments(
          async (want) => collection.lexical.top(query, want, mask, o.prefix, corrections, translations),
          depth,
        );
        lists.lexical = await proximityFirst(wordPairs(query), ranked, o.k, collection.rowReader().textsOf);
      }
      const fused = o.mode === 'hybrid' ? fuse(lists, o.fusion, o.k) : rankedAlone(lists[o.mode] as DocRank[], o.mode);
      // Where the lexical ranker ran, its counts leave common words unmarked; a vector search
      // marks every query word (whatever earlier searches built), so a mode always marks alike.
      const common = lists.lexical ? (term: string) => collection.lexical.isCommon(term) : undefined;
      return fused.map((d) => {
        const at = collection.at(d.row);
        const how = { common, prefix: o.prefix, also: [...corrections, ...translations] };
        const chunk = { ...at.chunk, highlights: highlights(query, at.chunk.text, how) };
        const title = at.title ? { title: { text: at.title, highlights: highlights(query, at.title, how) } } : {};
        // A copy: the stored meta is frozen, and changing a hit's must not reach the index.
        return { id: d.id, score: d.score, ranks: d.ranks, meta: structuredClone(at.meta), chunk, ...title };
      });
    });
  }

  async corrections(query: string, options?: CorrectionOptions): Promise<Corrections> {
    const prefix = checkCorrections(query, options);
    return this.queued(async () => {
      if (this.stale && this.log) await this.log.locked(() => this.reload());
      return this.engine.collection.lexical.corrections(parseQuery(query).text, prefix);
    });
  }

  async translations(query: string): Promise<Record<string, string[]>> {
    checkText(query, 'translations: query');
    return this.queued(async () => {
      if (this.stale && this.log) await this.log.locked(() => this.reload());
      const { lexical } = this.engine.collection;
      return this.lexicon ? this.lexicon.byWord(parseQuery(query).text, (w) => lexical.holds(w)) : {};
    });
  }

  clear(): Promise<void> {
    return this.queued(() => this.locked(() => this.replace(null, this.wanted)));
  }

  export(): Promise<Uint8Array> {
    return this.queued(async () => {
      if (this.stale && this.log) await this.log.locked(() => this.reload());
      const { collection } = this.engine;
      return serializeIndex(this.built, collection.segment(collection.ids()));
    });
  }

  async import(data: Uint8Array): Promise<void> {
    const { signature, segment } = parseIndex(data);
    if (!sameSignature(signature, this.wanted)) {
      throw new InputError(
        `import: the export was built with ${signatureText(signature)}, but this index encodes with ${signatureText(this.wanted)}`,
      );
    }
    return this.queued(async () => {
      await this.locked(() => this.replace(segment, signature));
      this.reembedIfShallow();
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reembed.stop();
    this.warmup?.stop();
    this.stopUpgrades();
    closeScoring(this.engine);
    this.log?.close();
    if (this.ownsGpu) this.gpu.dispose();
  }

  private async write(docs: IndexDoc[], method: 'add' | 'upsert'): Promise<void> {
    const checked = checkDocs(docs, method);
    return this.queued(async () => {
      this.checkSignature();
      if (method === 'add') this.refuseStored(checked);
      if (checked.length) await this.store(checked, method);
      this.reembedIfShallow();
    });
  }

  /**
   * Stores `docs`, embedding only those whose text changed (by content hash); 'sync' also
   * removes every stored document not among them, all in one commit. Embedding, the slow part,
   * happens outside the lock, so other tabs keep writing meanwhile; under the lock the plan is
   * made again against what they stored, and a document another tab changed meanwhile is
   * embedded there.
   */
  private async store(docs: IndexDoc[], method: 'add' | 'upsert' | 'sync'): Promise<SyncReport> {
    const settings = this.embedSettings();
    const budget = passageBudget(settings);
    const hashes = await Promise.all(docs.map((d) => docHash(d.text, budget, d.title)));
    const early = planWrite(docs, hashes, this.engine.collection);
    const embedded = early.embed.length ? await embedDocs(early.embed, early.hashes, settings) : null;
    const done = new Set(early.embed.map((d) => d.id));
    return this.locked(async () => {
      this.checkSignature();
      // Ids another tab stored meanwhile count as present too.
      if (method === 'add') this.refuseStored(docs);
      const { collection } = this.engine;
      const plan = planWrite(docs, hashes, collection);
      const wanted = new Set(plan.embed.map((d) => d.id));
      const late = plan.embed.filter((d) => !done.has(d.id));
      const lateHashes = plan.hashes.filter((_, i) => !done.has((plan.embed[i] as IndexDoc).id));
      const parts = [
        embedded && withoutDocs(embedded, new Set([...done].filter((id) => !wanted.has(id))), collection.codec.rowWords),
        late.length ? await embedDocs(late, lateHashes, settings) : null,
        plan.meta.length ? metaSegment(plan.meta, collection) : null,
      ].filter((p): p is Segment => p !== null && p.docs.length > 0);
      const given = new Set(docs.map((d) => d.id));
      const changed = [...plan.embed, ...plan.meta].map((d) => d.id);
      const stale = method === 'sync' ? collection.ids().filter((id) => !given.has(id)) : [];
      const replaced = changed.filter((id) => collection.has(id));
      const added = changed.length - replaced.length;
      if (parts.length || stale.length) {
        await this.commit({ add: parts.length ? concatSegments(parts) : null, remove: [...replaced, ...stale], reset: false });
      }
      return { added, updated: replaced.length, removed: stale.length, unchanged: plan.unchanged, embedded: plan.embed.length };
    });
  }

  private refuseStored(docs: readonly IndexDoc[]): void {
    const present = docs.filter((d) => this.engine.collection.has(d.id)).map((d) => d.id);
    if (present.length) {
      throw new InputError(
        `add: ${present.length} id(s) already in the index (first "${present[0]}"); use upsert to replace them`,
      );
    }
  }

  /**
   * How documents are embedded: under a progressive start at the deepest exit loaded (each row
   * records its exit), else at the index's layers.
   */
  private embedSettings(): EmbedSettings {
    const { host } = this;
    const symmetric = this.built.symmetric === true;
    const sparse = this.built.sparse === true;
    return {
      // Lexical weights come from the last layer's head: such an index waits for its layers rather than store shallower rows.
      encoder: host && !sparse ? { embedDetailed: (texts, options) => host.embedLoaded(texts, options ?? {}) } : this.encoder,
      layers: this.built.layers,
      codec: this.engine.collection.codec,
      maxTokens: this.model.maxTokens,
      ...(this.chunkTokens === undefined ? {} : { chunkTokens: this.chunkTokens }),
      passagePrefix: symmetric ? '' : (this.model.prefixes.passage ?? ''),
      symmetric,
      sparse,
    };
  }

  /**
   * Runs a write holding the stored index's lock, after reading what other engines committed
   * since; a memory index just runs it.
   */
  private locked<T>(job: () => Promise<T>): Promise<T> {
    const { log } = this;
    if (!log) return job();
    return log.locked(async () => {
      if (this.stale || (await log.changedElsewhere())) await this.reload();
      return job();
    });
  }

  /** Replaces memory with the stored index as it is now (call under the log's lock). */
  private async reload(): Promise<void> {
    this.stale = false;
    const stored: StoredIndex = await (this.log as SegmentLog).read();
    const signature = stored.signature ?? this.wanted;
    const engine = await openScoring(
      newCollection(signature, this.model, this.ngrams),
      this.device,
      this.encoderBackend,
      this.gpu,
    );
    for (const segment of stored.segments) engine.collection.append(segment);
    closeScoring(this.engine);
    this.engine = engine;
    this.built = signature;
    this.warmup?.start();
  }

  /** Stores the change first (a failed write leaves memory as it was), then applies it in memory. */
  private async commit(change: Change): Promise<void> {
    const { collection } = this.engine;
    await this.log?.commit(change, this.built, (ids) => collection.segment(ids));
    collection.remove(change.remove);
    if (change.add) collection.append(change.add);
    this.warmup?.start();
  }

  /** Replaces every document (clear, import), switching to `signature`'s vector layout if it differs. */
  private async replace(add: Segment | null, signature: IndexSignature): Promise<void> {
    await this.log?.commit({ add, remove: [], reset: true }, signature, (ids) => this.engine.collection.segment(ids));
    if (sameSignature(signature, this.built)) this.engine.collection.clear();
    else {
      const engine = await openScoring(
        newCollection(signature, this.model, this.ngrams),
        this.device,
        this.encoderBackend,
        this.gpu,
      );
      closeScoring(this.engine);
      this.engine = engine;
      this.built = signature;
    }
    if (add) this.engine.collection.append(add);
    this.warmup?.start();
  }

  /**
   * Ranks on the scorer. After a lost GPU device it retries once on the session's replacement
   * (made once for the encoder and every index on the session), the vectors uploaded again.
   */
  private async rank(vector: Float32Array, o: RankOptions): Promise<Ranked> {
    try {
      return await rankRows(this.engine.full, this.engine.coarse, vector, o);
    } catch (err) {
      if (!(err instanceof M3WebError && err.code === 'GPU_DEVICE_LOST')) throw err;
      closeScoring(this.engine);
      this.engine = await openScoring(this.engine.collection, this.device, this.encoderBackend, this.gpu);
      return rankRows(this.engine.full, this.engine.coarse, vector, o);
    }
  }

  /**
   * The vector ranker's documents. Rows of each exit present (one, unless a progressive start
   * left some shallower) are ranked against the query embedded at that exit, and the lists
   * merged by score: no row is ever scored against another exit's query vector. With `sparse`,
   * also the query's lexical weights, from the forward at the index's exit.
   */
  private async vectorDocs(
    query: string,
    o: CheckedSearch,
    mask: Uint32Array | null,
    depth: number,
    sparse: boolean,
  ): Promise<{ docs: DocRank[]; sparse?: StoredSparse }> {
    const groups = this.engine.collection.byExit(mask);
    if (groups.length === 0) return { docs: [] };
    const vectors: Float32Array[] = [];
    let weights: StoredSparse | undefined;
    for (const g of groups) {
      // The query's lexical weights come from the forward at the index's exit, where its rows' came from.
      const q = await embedQuery(
        this.encoder,
        query,
        g.exit,
        o.dims,
        this.built.symmetric,
        sparse && g.exit === this.built.layers,
      );
      vectors.push(q.vector);
      weights ??= q.sparse;
    }
    // depth 0: only the query's lexical weights are wanted.
    const docs =
      depth === 0
        ? []
        : await this.bestDocuments(async (want) => {
            const lists: Ranked[] = [];
            for (const [i, g] of groups.entries()) {
              lists.push(
                await this.rank(vectors[i] as Float32Array, {
                  width: o.dims,
                  k: want,
                  mask: g.mask,
                  exact: o.exact,
                  candidates: Math.max(o.candidates ?? candidateCount(want), want),
                }),
              );
            }
            return mergeRanked(lists, want);
          }, depth);
    return weights ? { docs, sparse: weights } : { docs };
  }

  /** Starts the background re-embedding when rows below the index's exit exist. */
  private reembedIfShallow(): void {
    if (this.engine.collection.shallowRows > 0) this.reembed.start();
  }

  /**
   * Embeds the next few documents with rows below the index's exit again, at that exit, and
   * commits them in place of the shallow ones. While the progressive start is still to bring
   * that exit it waits for the upgrade; otherwise (the exit is here, or the download failed or
   * stops short of it) the encoder call fetches what it lacks, as any call at that depth does.
   * The embedding runs outside the queue (searches and writes go on meanwhile); under the lock,
   * a document removed or rewritten since keeps what it has now.
   */
  private async reembedSlice(signal: AbortSignal): Promise<SliceResult> {
    const ids = this.engine.collection.shallowIds(SLICE_ROWS);
    if (ids.length === 0) return 'done';
    const signature = this.built;
    if (this.host?.upgradeBrings(signature.layers)) return 'wait';
    const before = this.engine.collection.segment(ids).docs;
    // The stored chunks, not the documents' texts: each was embedded whole, so the rows equal a fresh build's.
    const rows = await embedRows(before, { ...this.embedSettings(), encoder: this.encoder, signal });
    await this.queue.run(() =>
      this.locked(async () => {
        if (!sameSignature(this.built, signature)) return;
        const { collection } = this.engine;
        const rw = collection.codec.rowWords;
        const parts: Segment[] = [];
        let row = 0;
        for (const d of before) {
          const n = d.chunks.length;
          if (collection.isShallowWith(d.id, d.chunks)) {
            const { exits: _shallow, ...record } = collection.segment([d.id]).docs[0] as Segment['docs'][number];
            parts.push({
              docs: [record],
              words: rows.words.subarray(row * rw, (row + n) * rw),
              scales: rows.scales.subarray(row, row + n),
            });
          }
          row += n;
        }
        if (parts.length === 0) return;
        const ids = parts.map((p) => (p.docs[0] as Segment['docs'][number]).id);
        await this.commit({ add: concatSegments(parts), remove: ids, reset: false });
      }),
    );
    this.host?.changed();
    return 'more';
  }

  /**
   * The k best documents by their best row. Chunks of one document compete for places: rows
   * are asked for enough to cover k documents, and for more in the rare case the best rows
   * crowd into fewer documents than that.
   */
  private async bestDocuments(rank: (want: number) => Promise<Ranked>, k: number): Promise<DocRank[]> {
    const { collection } = this.engine;
    const live = collection.liveRows;
    for (let want = Math.min(live, k * Math.ceil(live / collection.size)); ; want = Math.min(live, want * 4)) {
      const ranked = await rank(want);
      const docs = bestPerDocument(ranked, k, (row) => collection.at(row).id);
      if (docs.length === k || ranked.rows.length < want || want === live) return docs;
    }
  }

  private checkSignature(): void {
    if (sameSignature(this.built, this.wanted)) return;
    throw new InputError(
      `index "${this.name}" was built with ${signatureText(this.built)}, but this encoder and these options give ${signatureText(this.wanted)}; ` +
        'open it with the same model and options, or clear() it to rebuild',
    );
  }

  /** Runs a public call in the queue; the first after a failed re-embedding reports that failure instead. */
  private queued<T>(job: () => Promise<T>): Promise<T> {
    return this.queue.run(() => {
      const failed = this.reembed.takeFailure();
      if (failed) throw failed.error;
      return job();
    });
  }
}

/**
 * Opens a semantic search index over `encoder`: in memory, or in IndexedDB under
 * `m3web-index-<name>`, where an index built earlier is loaded back (garbage from an interrupted
 * write is removed). Documents are embedded as passages, queries as queries, at the same layers
 * and width; an index built with another model, layers, width or vector type refuses to add or
 * search (InputError naming both) until it is cleared. GPU scoring runs on `gpu`'s device (the
 * encoder's, in an engine); without one the index makes a session of its own. `host` is the
 * engine's, for a progressive start (IndexHost).
 */
export async function openIndex(options: IndexOptions, gpu?: GpuSession, host?: IndexHost): Promise<VectorIndex> {
  checkOptions(options);
  const lexicon = options.lexicons === undefined ? null : new Lexicon(options.lexicons);
  const info = await options.encoder.info();
  const opened =
    options.store === 'indexeddb' ? await SegmentLog.open(options.name, (s) => codec(s.vector, s.dims).rowWords) : null;
  const wanted = resolveSignature(options, info.model, opened?.signature ?? null);
  const built = opened?.signature ?? wanted;
  const ngrams = options.ngrams ?? true;
  const collection = newCollection(built, info.model, ngrams);
  for (const segment of opened?.segments ?? []) collection.append(segment);
  const device = options.device ?? 'auto';
  const session = gpu ?? new GpuSession();
  try {
    const scoring = await openScoring(collection, device, info.backend, session);
    return new SearchIndex(
      options.name,
      options.encoder,
      info.model,
      device,
      info.backend,
      wanted,
      built,
      scoring,
      opened?.log ?? null,
      session,
      gpu === undefined,
      ngrams,
      options.chunkTokens,
      lexicon,
      host ?? null,
      options.lexicalWarmup ?? true,
    );
  } catch (err) {
    opened?.log.close();
    if (gpu === undefined) session.dispose();
    throw err;
  }
}
