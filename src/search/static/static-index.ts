import { DisposedError, InputError, UnsupportedError } from '../../errors.js';
import { weighQuery } from '../../model/static-query.js';
import { SerialQueue } from '../../serial-queue.js';
import { checkText } from '../../tokenizer/check-text.js';
import { TextTokenizer } from '../../tokenizer/tokenizer.js';
import type { ModelInfo } from '../../types.js';
import { type Codec, codec, encodeQuery } from '../codec.js';
import { CpuScorer, isSet, rowScorer } from '../cpu-scorer.js';
import { embedQuery } from '../embed-docs.js';
import { metaPredicate } from '../filter.js';
import { candidateCount } from '../funnel.js';
import { bestPerDocument, type DocRank, fuse, fusionDepth, rankedAlone } from '../fuse.js';
import { highlights } from '../highlight.js';
import { bm25Rows, isCommonTerm, queryWeights, type TermPostings } from '../lexical.js';
import { Lexicon } from '../lexicon.js';
import { proximityFirst, wordPairs } from '../proximity.js';
import { parseQuery, plainQuery, type RowReader, syntaxMask } from '../query-syntax.js';
import { rerankedSearch } from '../rerank.js';
import { RowStore } from '../rows.js';
import { type StoredSparse, sparseRows } from '../sparse-postings.js';
import { typedWord } from '../terms.js';
import { type Ranked, selectTop } from '../topk.js';
import type {
  CorrectionOptions,
  IndexEncoder,
  IndexSignature,
  Meta,
  MetaFilter,
  Ranker,
  SearchHit,
  SearchOptions,
  StaticIndex,
  StaticIndexOptions,
  StaticIndexStats,
  SyncReport,
} from '../types.js';
import { type Corrections, correctable, correctedWords, correctionStem, corrections } from '../typos.js';
import { type CheckedSearch, checkCorrections, checkSearch } from '../validate.js';
import { type CompletionGroups, completionGroup, completionsIn, parseCompletionShard } from './completions.js';
import { defaultCache, fetchManifest, forgetOtherBuilds, StaticFiles, type Transfer } from './files.js';
import {
  COARSE,
  DOCS,
  parseManifest,
  QUERY_TOKENIZER,
  QUERY_TOKENIZER_CONFIG,
  QUERY_WEIGHTS,
  rowShard,
  type StaticDocs,
  type StaticManifest,
  type StaticQuery,
  termShard,
  termShardFile,
  textShard,
  tierSizes,
  weightsShard,
  weightsShardFile,
  wordsShardFile,
} from './format.js';
import { PostingsShard, WeightsShard } from './postings.js';

/** A copy whose typed-array views line up (a cached Blob's bytes may start anywhere). */
const aligned = (b: Uint8Array) => (b.byteOffset % 4 ? b.slice() : b);

function badFile(name: string, why: string): InputError {
  return new InputError(`${name} does not match its static index's manifest (${why}); rebuild it with m3web index --static`);
}

/** coarse.bin: the coarse rows' words, their scales, then each row's BM25 length (u32). */
function parseCoarse(bytes: Uint8Array, name: string, c: Codec, rows: number) {
  const b = aligned(bytes);
  if (b.length !== rows * (c.rowWords + 2) * 4) throw badFile(name, `${b.length} bytes for ${rows} rows`);
  const words = new Uint32Array(b.buffer, b.byteOffset, rows * c.rowWords);
  const scales = new Float32Array(b.buffer, b.byteOffset + words.byteLength, rows);
  const lengths = new Uint32Array(b.buffer, b.byteOffset + words.byteLength + scales.byteLength, rows);
  return { words, scales, lengths };
}

function parseJson(bytes: Uint8Array, name: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw badFile(name, 'not JSON');
  }
}

function parseDocs(bytes: Uint8Array, name: string, m: StaticManifest): StaticDocs {
  const d = parseJson(bytes, name) as Partial<StaticDocs>;
  const n = m.docs;
  const ok =
    Array.isArray(d.ids) &&
    d.ids.length === n &&
    Array.isArray(d.chunks) &&
    d.chunks.length === n &&
    d.chunks.reduce((a, b) => a + b, 0) === m.rows &&
    Array.isArray(d.at) &&
    d.at.length === n &&
    d.at.every((a, i) => Number.isInteger(a) && a >= 0 && a + (d.chunks as number[])[i]! <= m.rows) &&
    (d.titles === undefined ||
      (Array.isArray(d.titles) && d.titles.length === n && d.titles.every((t) => t === null || typeof t === 'string'))) &&
    (d.meta === undefined || (Array.isArray(d.meta) && d.meta.length === n));
  if (!ok) throw badFile(name, 'documents and rows disagree');
  return d as StaticDocs;
}

function checkOptions(options: unknown): asserts options is StaticIndexOptions {
  const o = options as StaticIndexOptions;
  if (o.encoder !== undefined && (typeof o.encoder?.embedDetailed !== 'function' || typeof o.encoder?.info !== 'function'))
    throw new InputError('encoder must be an encoder from createEncoder (or an object with embedDetailed and info) or left out');
  if (typeof o.url !== 'string' || o.url === '')
    throw new InputError(`url must be a non-empty string, got ${JSON.stringify(o.url)}`);
  if (o.name !== undefined && typeof o.name !== 'string')
    throw new InputError(`name must be a string, got ${JSON.stringify(o.name)}`);
}

/** The folder's URL with a final slash; a relative one is resolved against the page. */
function folderUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url, (globalThis as { location?: { href: string } }).location?.href);
  } catch {
    throw new InputError(`url must be an absolute URL (in a page, or one relative to it), got ${JSON.stringify(url)}`);
  }
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return u.href;
}

function checkModel(s: IndexSignature, model: ModelInfo, url: string): void {
  const sameWeights = s.fingerprint === undefined || model.fingerprint === undefined || s.fingerprint === model.fingerprint;
  // A SPLADE model's index holds no vectors: dims 0.
  const width = s.dims === 0 ? model.sparseOnly === true : model.dims.includes(s.dims);
  if (s.model === model.id && sameWeights && model.exits.includes(s.layers) && width) return;
  throw new InputError(
    `the static index at ${url} was built with model "${s.model}"${s.fingerprint ? ` (weights ${s.fingerprint.slice(0, 8)})` : ''} ` +
      `at ${s.layers} layers x ${s.dims} dims; this encoder is "${model.id}"${model.fingerprint ? ` (weights ${model.fingerprint.slice(0, 8)})` : ''}: ` +
      'open it with the model it was built with',
  );
}

/** What the coarse tier says about every row and document. */
interface Tier {
  coarse: RowStore;
  /** BM25 length of each row. */
  lengths: Uint32Array;
  docs: StaticDocs;
  /** Document of each row, and each document's first row. */
  rowDoc: Uint32Array;
  row0: Uint32Array;
}

async function readTier(files: StaticFiles, m: StaticManifest): Promise<Tier> {
  const c = codec(m.coarse.vector, m.coarse.dims);
  const [rows, docs] = await Promise.all([
    files.read(COARSE, m.sizes.coarse, (b, name) => parseCoarse(b, name, c, m.rows)),
    files.read(DOCS, m.sizes.docs, (b, name) => parseDocs(b, name, m)),
  ]);
  const coarse = new RowStore(c);
  coarse.append(rows.words, rows.scales);
  const rowDoc = new Uint32Array(m.rows);
  const row0 = new Uint32Array(m.docs);
  let row = 0;
  docs.chunks.forEach((n, d) => {
    row0[d] = row;
    rowDoc.fill(d, row, row + n);
    row += n;
  });
  return { coarse, lengths: rows.lengths, docs, rowDoc, row0 };
}

class StaticSearchIndex implements StaticIndex {
  readonly backend = 'cpu';
  readonly needsRebuild = false;
  /** Built offline at its exit: never shallower. */
  readonly shallowRows = 0;
  private closed = false;
  private readonly queue = new SerialQueue(() => {
    if (this.closed) throw new DisposedError(`Index "${this.name}"`);
  });
  private readonly full: Codec;
  /** The coarse tier holds the full rows: nothing to fetch for vectors. */
  private readonly local: boolean;
  private lastSearch: Transfer = { requests: 0, bytes: 0 };
  private weigher: Promise<(query: string) => StoredSparse> | null = null;

  constructor(
    readonly name: string,
    private readonly m: StaticManifest,
    private readonly tier: Tier,
    private readonly files: StaticFiles,
    /** Null where the index was opened without one: it ranks by words (and by its own query side, StaticQuery) only. */
    private readonly encoder: { encoder: IndexEncoder; model: ModelInfo } | null,
    private readonly lexicon: Lexicon | null,
  ) {
    this.full = codec(m.signature.vector, m.signature.dims);
    this.local = m.coarse.vector === m.signature.vector && m.coarse.dims === m.signature.dims;
    // Row records are read by byte range: the files must be exactly as long as their rows.
    const record = (this.full.rowWords + 1) * 4;
    const rowFiles = this.local ? [] : m.sizes.texts.map((_, s) => this.shardRows(s) * record);
    if (rowFiles.length !== m.sizes.rows.length || rowFiles.some((n, s) => n !== m.sizes.rows[s]))
      throw badFile(`${name} index.json`, 'row shard sizes');
  }

  get size(): number {
    return this.m.docs;
  }

  get signature(): IndexSignature {
    return { ...this.m.signature };
  }

  search(query: string, options?: SearchOptions): Promise<SearchHit[]> {
    return rerankedSearch(query, options, (q, o) => this.firstStage(q, o));
  }

  private async firstStage(query: string, options?: SearchOptions): Promise<SearchHit[]> {
    const { dims } = this.m.signature;
    const model = this.encoder?.model;
    // Without an encoder, words are all it can rank by.
    const o = checkSearch(
      query,
      options,
      dims,
      dims === 0 ? [0] : (model?.dims ?? [dims]),
      model?.search?.fusion,
      model || this.m.query ? 'hybrid' : 'lexical',
    );
    return this.queue.run(async () => {
      const before = { ...this.files.fetched };
      try {
        return await this.answer(query, o);
      } finally {
        this.lastSearch = {
          requests: this.files.fetched.requests - before.requests,
          bytes: this.files.fetched.bytes - before.bytes,
        };
      }
    });
  }

  async corrections(query: string, options?: CorrectionOptions): Promise<Corrections> {
    const prefix = checkCorrections(query, options);
    return this.queue.run(() => this.correctionsOf(parseQuery(query).text, prefix));
  }

  async translations(query: string): Promise<Record<string, string[]>> {
    checkText(query, 'translations: query');
    const lexicon = this.lexicon;
    const text = parseQuery(query).text;
    return this.queue.run(async () => (lexicon ? lexicon.byWord(text, await this.heldOf(text, lexicon)) : {}));
  }

  async stats(): Promise<StaticIndexStats> {
    return {
      tiers: tierSizes(this.m),
      fetched: { ...this.files.fetched },
      lastSearch: { ...this.lastSearch },
    };
  }

  add(): Promise<void> {
    return this.readOnly('add');
  }
  upsert(): Promise<void> {
    return this.readOnly('upsert');
  }
  sync(): Promise<SyncReport> {
    return this.readOnly('sync');
  }
  remove(): Promise<number> {
    return this.readOnly('remove');
  }
  clear(): Promise<void> {
    return this.readOnly('clear');
  }
  export(): Promise<Uint8Array> {
    return this.readOnly('export');
  }
  import(): Promise<void> {
    return this.readOnly('import');
  }

  close(): void {
    this.closed = true;
  }

  private async readOnly(method: string): Promise<never> {
    throw new InputError(
      `${method}: "${this.name}" is a static index, which is read-only; rebuild its folder with m3web index --static`,
    );
  }

  private async answer(query: string, o: CheckedSearch): Promise<SearchHit[]> {
    if (o.prefix && !this.m.sizes.words) {
      throw new UnsupportedError(
        'prefix: this static index was written without a word list to complete a word from (by m3web before 2026-12-06); ' +
          'write it again with m3web index --static, or search it without prefix',
      );
    }
    const { signature } = this.m;
    if (o.mode === 'sparse' && !signature.sparse) {
      throw new UnsupportedError(
        "mode 'sparse': this static index holds no lexical weights (built from a model without a sparse head); search it hybrid, vector or lexical",
      );
    }
    if (o.mode === 'vector' && signature.dims === 0) {
      throw new InputError(
        `mode 'vector': this static index holds no vectors (model "${signature.model}" is a SPLADE sparse encoder); search by 'sparse', 'lexical' or 'hybrid'`,
      );
    }
    const byVector = (o.mode === 'vector' || o.mode === 'hybrid') && signature.dims > 0;
    const bySparse = (o.mode === 'sparse' || o.mode === 'hybrid') && signature.sparse === true;
    // An inference-free SPLADE model's folder weighs queries itself.
    if ((byVector || (bySparse && !this.m.query)) && !this.encoder) {
      throw new InputError(
        `mode '${o.mode}': the static index "${this.name}" was opened without an encoder and ranks by words only; ` +
          'open it with { encoder } (the model it was built with) to rank by vectors or lexical weights',
      );
    }
    const parsed = o.syntax ? parseQuery(query) : plainQuery(query);
    query = parsed.text;
    if (this.m.docs === 0 || query.trim() === '') return [];
    const mask = await syntaxMask(parsed, this.mask(o.filter), this.rowReader());
    const depth = o.mode === 'hybrid' ? fusionDepth(o.k) : o.k;
    const lists: Partial<Record<Ranker, DocRank[]>> = {};
    const [embedded, lexical] = await Promise.all([
      byVector || bySparse ? this.queryOf(parsed.words, o.dims, bySparse) : null,
      o.mode === 'lexical' || o.mode === 'hybrid' ? this.lexicalRows(query, mask, o) : null,
    ]);
    if (embedded && byVector) lists.vector = await this.vectorDocs(embedded.vector, o, mask, depth);
    if (embedded?.sparse) lists.sparse = this.bestDocs(await this.weightedRows(embedded.sparse, mask), depth);
    if (lexical)
      lists.lexical = await proximityFirst(wordPairs(query), this.bestDocs(lexical.ranked, depth), o.k, this.rowReader().textsOf);
    // As the in-memory index: common words unmarked where the lexical ranker ran.
    const common = lexical ? (term: string) => isCommonTerm(lexical.df.get(term) ?? 0, this.m.rows) : undefined;
    const fused = o.mode === 'hybrid' ? fuse(lists, o.fusion, o.k) : rankedAlone(lists[o.mode] as DocRank[], o.mode);
    const how = { common, prefix: o.prefix, also: lexical?.also ?? [] };
    return Promise.all(
      fused.map(async (d) => {
        const doc = this.tier.rowDoc[d.row] as number;
        const index = d.row - (this.tier.row0[doc] as number);
        const meta = this.tier.docs.meta?.[doc] ?? {};
        const title = this.tier.docs.titles?.[doc];
        const text = await this.text(d.row);
        return {
          id: d.id,
          score: d.score,
          ranks: d.ranks,
          meta: structuredClone(meta),
          chunk: { index, text, highlights: highlights(query, text, how) },
          ...(title ? { title: { text: title, highlights: highlights(query, title, how) } } : {}),
        };
      }),
    );
  }

  /** Its rows as the query syntax and the proximity bonus read them (RowReader): texts come from the text shards. */
  private rowReader(): RowReader {
    const { docs, row0, rowDoc } = this.tier;
    return {
      rows: this.m.rows,
      rowsWith: async (word) => {
        const entries = (await this.postingsOf(word))?.entries ?? [];
        return Array.from({ length: entries.length / 2 }, (_, i) => entries[2 * i] as number);
      },
      textsOf: async (row) => ({ chunk: await this.text(row), title: docs.titles?.[rowDoc[row] as number] ?? undefined }),
      documentRows: (row) => {
        const d = rowDoc[row] as number;
        return { first: row0[d] as number, count: docs.chunks[d] as number };
      },
    };
  }

  /** Rows of documents whose meta passes `filter` (null: every row). */
  private mask(filter: MetaFilter | undefined): Uint32Array | null {
    if (!filter) return null;
    const keep = metaPredicate(filter);
    const mask = new Uint32Array(Math.ceil(this.m.rows / 32));
    const { docs, row0 } = this.tier;
    docs.chunks.forEach((n, d) => {
      if (!keep((docs.meta?.[d] ?? {}) as Meta)) return;
      for (let r = row0[d] as number; r < (row0[d] as number) + n; r++)
        mask[r >>> 5] = (mask[r >>> 5] as number) | (1 << (r & 31));
    });
    return mask;
  }

  /** Where `row` sits in the row and text shards. */
  private position(row: number): number {
    const d = this.tier.rowDoc[row] as number;
    return (this.tier.docs.at[d] as number) + row - (this.tier.row0[d] as number);
  }

  private shardRows(s: number): number {
    return Math.min(this.m.shardRows, this.m.rows - s * this.m.shardRows);
  }

  private async text(row: number): Promise<string> {
    const p = this.position(row);
    const s = Math.floor(p / this.m.shardRows);
    const texts = await this.files.read(textShard(s), this.m.sizes.texts[s] as number, (b, name) => {
      const t = parseJson(b, name);
      if (!Array.isArray(t) || t.length !== this.shardRows(s)) throw badFile(name, 'wrong number of texts');
      return t as string[];
    });
    return texts[p % this.m.shardRows] as string;
  }

  private bestDocs(ranked: Ranked, k: number): DocRank[] {
    return bestPerDocument(ranked, k, (row) => this.tier.docs.ids[this.tier.rowDoc[row] as number] as string);
  }

  /**
   * Every row sharing a term with the query, ranked by BM25 exactly as LexicalIndex.top scores
   * it (same terms, statistics and order of additions), from the postings shards of its terms;
   * with `typos`, the corrections of the query words no row holds, with `translate`, their
   * translations, and with `prefix`, the words the query's last word begins, from the word list.
   * Also the document frequency of each query term, and the corrections and translations.
   */
  private async lexicalRows(
    query: string,
    mask: Uint32Array | null,
    { prefix, typos, translate }: { prefix: boolean; typos: boolean; translate: boolean },
  ): Promise<{ ranked: Ranked; df: Map<string, number>; also: string[] }> {
    const corrections = typos ? correctedWords(await this.correctionsOf(query, prefix)) : [];
    const lexicon = translate ? this.lexicon : null;
    const translations = lexicon ? lexicon.translations(query, await this.heldOf(query, lexicon)) : [];
    const tf = queryWeights(query, this.m.ngrams, corrections, translations);
    const typed = prefix ? typedWord(query) : null;
    for (const word of typed === null ? [] : await this.completions(typed)) if (!tf.has(word)) tf.set(word, 1);
    const postings = await Promise.all([...tf].map(async ([term, qtf]) => [qtf, await this.postingsOf(term)] as const));
    const { lengths } = this.tier;
    const df = new Map([...tf.keys()].map((term, i) => [term, postings[i]?.[1]?.df ?? 0]));
    const avgLength = this.m.totalLength / this.m.rows;
    const ranked = bm25Rows(postings, this.m.rows, this.m.rows, avgLength, (row) => lengths[row] as number, mask);
    return { ranked, df, also: [...corrections, ...translations] };
  }

  /** A term's postings, from the shard its hash names. */
  private async postingsOf(term: string): Promise<TermPostings | null> {
    const s = termShard(term, this.m.sizes.terms.length);
    const read = (b: Uint8Array, name: string) => new PostingsShard(b, name);
    return (await this.files.read(termShardFile(s), this.m.sizes.terms[s] as number, read)).get(term);
  }

  /**
   * LexicalIndex.corrections from the postings and the word list's shards; none from a folder
   * without a word list (written before 2026-12-06).
   */
  private async correctionsOf(query: string, prefix: boolean): Promise<Corrections> {
    if (!this.m.sizes.words) return {};
    const typed = prefix ? typedWord(query) : null;
    const found = await Promise.all(
      correctable(query).map(async (word): Promise<[string, string[]]> => {
        if (((await this.postingsOf(word))?.df ?? 0) > 0) return [word, []];
        if (word === typed && (await this.completions(word)).length > 0) return [word, []];
        const stem = correctionStem(word);
        return [word, corrections(word, (await this.wordGroups(stem))[completionGroup(stem)] ?? [], word === typed)];
      }),
    );
    return Object.fromEntries(found.filter(([, c]) => c.length > 0));
  }

  /** Which of the query's words that `lexicon` translates some row holds, by their postings: Lexicon's `held`. */
  private async heldOf(query: string, lexicon: Lexicon): Promise<(word: string) => boolean> {
    const words = lexicon.translatable(query);
    const df = await Promise.all(words.map(async (w) => (await this.postingsOf(w))?.df ?? 0));
    const held = new Set(words.filter((_, i) => (df[i] as number) > 0));
    return (w) => held.has(w);
  }

  /** The indexed words `typed` begins, as the in-memory index completes it, from its group's word list shard. */
  private async completions(typed: string): Promise<string[]> {
    return completionsIn(await this.wordGroups(typed), typed);
  }

  /** The word list's shard that holds the group of words `begun` reads (completionGroup). */
  private wordGroups(begun: string): Promise<CompletionGroups> {
    const sizes = this.m.sizes.words as number[];
    const s = termShard(completionGroup(begun), sizes.length);
    return this.files.read(wordsShardFile(s), sizes[s] as number, parseCompletionShard);
  }

  /** The query's vector at `dims` and, with `sparse`, its lexical weights, from one encoder call. */
  private async queryOf(query: string, dims: number, sparse: boolean): ReturnType<typeof embedQuery> {
    if (!this.encoder) return { vector: new Float32Array(0), sparse: (await this.queryWeigher())(query) };
    const { layers, symmetric } = this.m.signature;
    return embedQuery(this.encoder.encoder, query, layers, dims, symmetric, sparse);
  }

  /**
   * The folder's own query side (StaticQuery: an inference-free SPLADE model's tokenizer and
   * weight per token id), fetched on the first search that needs it, then cached as every file is.
   */
  private queryWeigher(): Promise<(query: string) => StoredSparse> {
    this.weigher ??= (async () => {
      const q = this.m.query as StaticQuery;
      const sizes = this.m.sizes.query as NonNullable<StaticManifest['sizes']['query']>;
      const [json, config, table] = await Promise.all([
        this.files.read(QUERY_TOKENIZER, sizes.tokenizer, parseJson),
        sizes.config === undefined ? undefined : this.files.read(QUERY_TOKENIZER_CONFIG, sizes.config, parseJson),
        this.files.read(QUERY_WEIGHTS, sizes.weights, (b) => {
          const a = aligned(b);
          return new Float32Array(a.buffer, a.byteOffset, q.vocab);
        }),
      ]);
      const tokenizer = TextTokenizer.fromJson(json, config);
      return (query: string) => {
        const { vector, tokens } = weighQuery(tokenizer, q.prefix + query, q.maxTokens, table);
        if (tokens === 0) throw new InputError("search: the query has no character the model's tokenizer reads");
        return { indices: Array.from(vector.indices), values: Array.from(vector.values) };
      };
    })();
    this.weigher.catch(() => {
      this.weigher = null;
    });
    return this.weigher;
  }

  /**
   * Every row sharing a token id with the query's lexical weights, ranked by sparseRows as the
   * in-memory index ranks them, from the lexical-weights shards of the query's ids.
   */
  private async weightedRows(q: StoredSparse, mask: Uint32Array | null): Promise<Ranked> {
    const sizes = this.m.sizes.sparse ?? [];
    const shards = new Map(
      await Promise.all(
        q.indices.map(async (id) => {
          const s = weightsShard(id, sizes.length);
          const shard = await this.files.read(weightsShardFile(s), sizes[s] as number, (b, name) => new WeightsShard(b, name));
          return [id, shard] as const;
        }),
      ),
    );
    return sparseRows(q, (id) => shards.get(id)?.get(id), this.m.rows, mask);
  }

  /** The depth best documents by cosine: the funnel's candidates grow until they cover that many. */
  private async vectorDocs(vector: Float32Array, o: CheckedSearch, mask: Uint32Array | null, depth: number): Promise<DocRank[]> {
    const rows = this.m.rows;
    for (let want = Math.min(rows, depth * Math.ceil(rows / this.m.docs)); ; want = Math.min(rows, want * 4)) {
      const { ranked, complete } = await this.rankRows(vector, o, mask, want);
      const docs = this.bestDocs(ranked, depth);
      if (docs.length === depth || complete) return docs;
    }
  }

  /**
   * Rows ranked by cosine at o.dims: the funnel (every coarse row scored here, the best
   * `candidates` re-scored from the row shards that hold them, fetched as needed), or every row
   * (exact, or when the candidates would be every row; the coarse tier itself when it holds full
   * rows). Unlike the in-memory index, a search no wider than the coarse tier still re-scores
   * from full rows, so it never needs every shard. `complete`: every row in the mask was ranked.
   */
  private async rankRows(
    vector: Float32Array,
    o: CheckedSearch,
    mask: Uint32Array | null,
    want: number,
  ): Promise<{ ranked: Ranked; complete: boolean }> {
    const { coarse } = this.tier;
    const c = coarse.codec;
    const candidates = Math.max(o.candidates ?? candidateCount(want), want);
    if (this.local) {
      const ranked = await new CpuScorer(coarse).top(encodeQuery(c, vector, o.dims), o.dims, want, mask);
      return { ranked, complete: ranked.rows.length < want || want === this.m.rows };
    }
    if (!o.exact && candidates < this.m.rows) {
      const width = Math.min(c.dims, o.dims);
      const { rows } = await new CpuScorer(coarse).top(encodeQuery(c, vector, width), width, candidates, mask);
      return { ranked: await this.rescore(vector, o.dims, Array.from(rows)), complete: rows.length < candidates };
    }
    const all = Array.from({ length: this.m.rows }, (_, r) => r).filter((r) => isSet(mask, r));
    return { ranked: await this.rescore(vector, o.dims, all), complete: true };
  }

  /** `rows` ranked by their full-width cosine, read from the row shards (the same scorer as in memory). */
  private async rescore(vector: Float32Array, width: number, rows: number[]): Promise<Ranked> {
    const rw = this.full.rowWords;
    const shardRows = this.m.shardRows;
    const byShard = new Map<number, number[]>();
    rows.forEach((r, i) => {
      const s = Math.floor(this.position(r) / shardRows);
      const list = byShard.get(s);
      if (list) list.push(i);
      else byShard.set(s, [i]);
    });
    const words = new Uint32Array(rows.length * rw);
    const scales = new Float32Array(rows.length);
    await Promise.all(
      [...byShard].map(async ([s, at]) => {
        const path = rowShard(s);
        const records = await this.files.records(
          path,
          (rw + 1) * 4,
          at.map((i) => this.position(rows[i] as number) % shardRows),
        );
        at.forEach((i, j) => {
          const rec = records[j] as Uint8Array;
          const view = new DataView(rec.buffer, rec.byteOffset, rec.byteLength);
          for (let w = 0; w < rw; w++) words[i * rw + w] = view.getUint32(w * 4, true);
          scales[i] = view.getFloat32(rw * 4, true);
        });
      }),
    );
    const store = new RowStore(this.full);
    store.append(words, scales);
    const score = rowScorer(store, encodeQuery(this.full, vector, width), width);
    return selectTop(
      Float64Array.from(rows, (_, i) => score(i)),
      rows,
      rows.length,
    );
  }
}

/** Opens the static index at `options.url` (see StaticIndexOptions): fetches the manifest and the coarse tier. */
export async function openStaticIndex(options: StaticIndexOptions): Promise<StaticIndex> {
  checkOptions(options);
  const lexicon = options.lexicons === undefined ? null : new Lexicon(options.lexicons);
  const base = folderUrl(options.url);
  const model = options.encoder ? (await options.encoder.info()).model : null;
  const cache = defaultCache();
  const m = parseManifest(await fetchManifest(base, cache), base);
  if (model) checkModel(m.signature, model, base);
  await forgetOtherBuilds(cache, base, m.build);
  const files = new StaticFiles(base, m.build, cache);
  const tier = await readTier(files, m);
  const encoder = options.encoder && model ? { encoder: options.encoder, model } : null;
  return new StaticSearchIndex(options.name ?? base, m, tier, files, encoder, lexicon);
}
