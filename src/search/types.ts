import type { EmbedOptions, EmbedResult, EncoderInfo, RerankHit } from '../types.js';
import type { Highlight } from './highlight.js';
import type { LexiconData } from './lexicon.js';

export type { Highlight } from './highlight.js';

/** How stored vectors are kept: 4 bytes, 1 byte (plus one scale per vector) or 1 bit per dimension. */
export type VectorType = 'f32' | 'int8' | 'binary';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type Meta = { [key: string]: JsonValue };

export interface IndexDoc {
  id: string;
  text: string;
  /**
   * The document's title (a page's, a section's heading): every chunk is embedded behind it, so a
   * chunk deep in a long page still carries what the page is about, and its words count twice
   * in each chunk's BM25 terms (TITLE_WEIGHT), so a page titled with the query's words ranks
   * above one that only mentions them. Hits carry it with its highlights.
   */
  title?: string;
  meta?: Meta;
}

/** The two encoder calls an index needs; a createEncoder encoder has them. */
export interface IndexEncoder {
  embedDetailed(texts: string[], options?: EmbedOptions): Promise<EmbedResult>;
  /** The model, and where the encoder runs (an index on a CPU encoder scores on the CPU too). */
  info(): Promise<Pick<EncoderInfo, 'model' | 'backend'>> | Pick<EncoderInfo, 'model' | 'backend'>;
}

/**
 * What an engine gives the indexes it holds besides the encoder (the engine's own core): how to
 * embed documents while a progressive start is still downloading deeper exits, and when those
 * arrive. An index without it (your own encoder) embeds at its layers and never waits for one.
 */
export interface IndexHost {
  /** Embeds at the deepest exit loaded that is not deeper than asked, instead of waiting for a download. */
  embedLoaded(texts: string[], options: EmbedOptions): Promise<EmbedResult>;
  /**
   * Whether the progressive start's background download is still to bring the first `layers`
   * layers: the index then waits for onUpgrade instead of having them fetched for itself.
   */
  upgradeBrings(layers: number): boolean;
  /** Hears each deeper exit the progressive start loads; returns the unsubscribe. */
  onUpgrade(listener: (layers: number) => void): () => void;
  /** Told after the index changed by itself (a slice re-embedded), so its clients see the new state. */
  changed(): void;
}

export interface IndexOptions {
  encoder: IndexEncoder;
  /** Names the IndexedDB database (`m3web-index-<name>`); a label for a memory index. */
  name: string;
  /** Width of the stored vectors: one of the model's dims (default: its widest). */
  dims?: number;
  /** 'indexeddb' survives reloads; 'memory' (default) lives as long as the object. */
  store?: 'indexeddb' | 'memory';
  /** Default 'f32'. */
  vector?: VectorType;
  /** Encoder layers used for documents and queries (default: the model's deepest exit). */
  layers?: number;
  /**
   * Where scoring runs. 'auto' (default): WebGPU unless the encoder itself runs on the CPU or no
   * adapter exists, then plain TypeScript. 'webgpu' fails when WebGPU is unavailable.
   */
  device?: 'auto' | 'webgpu' | 'cpu';
  /**
   * The lexical ranker also indexes character 4-grams of words (default true): they match
   * inflections, cognates across languages and typos (xquad-dev BM25 R@1 92.4% -> 93.7%
   * monolingual, 40.1% -> 43.5% against English paragraphs) for about 2.2 times the lexical
   * postings' memory and making time (xquad-dev's 1,440 paragraphs ten times over, 1.6 million
   * words: 79 -> 172 MiB, 3.3 -> 7.1 s in Node). false for very large indexes where memory counts.
   */
  ngrams?: boolean;
  /**
   * Make the lexical postings in idle slices after the index opens and after each write
   * (default true), so the first lexical or hybrid search does not wait for them. false: made
   * by the first such search; an index only ever searched by vector then never holds them.
   */
  lexicalWarmup?: boolean;
  /**
   * Queries and documents are the same kind of text (sentences against sentences, titles, FAQ
   * questions, translations): both are embedded plainly, without the model's query and passage
   * prefixes, which are for short queries against longer passages. Default false; kept from a
   * stored index like layers and dims. m3-mini's prompt tokens, for instance, lift question ->
   * paragraph retrieval but cost translated sentences found by their translations 20 points.
   */
  symmetric?: boolean;
  /**
   * On a model with a lexical-weights head (ModelInfo.sparse: BGE-M3), store each chunk's lexical
   * weights (from the forward that makes its vector) and fuse a third ranker, their dot product
   * with the query's, into hybrid search (and `mode: 'sparse'` alone). Default: true on such a
   * model; kept from a stored index like layers and dims. Documents of such an index are embedded
   * at its layers even while a progressive start is still downloading them.
   */
  sparse?: boolean;
  /**
   * The most tokens of text (estimated, see chunk.ts) a document chunk holds; documents are cut
   * into overlapping chunks of at most this many, each its own vector and BM25 row. Default and
   * upper bound: what the model takes in one input. Smaller chunks suit a small model trained
   * on short texts (m3-mini, trained on up to 128 tokens: xquad-dev vector R@1 6.3% -> 14.9% at
   * 64), but BM25 finds whole paragraphs better than their pieces (92.1% -> 89.5%), so hybrid
   * search keeps the default (docs/search.md, "Chunks"). Not stored: upsert and sync re-embed
   * a document whose chunking a new value changes.
   */
  chunkTokens?: number;
  /**
   * Lexicons (fetchLexicons; public/lexicons) whose translations of a query's words the lexical
   * ranker also looks for (SearchOptions.translate): questions in another language than the
   * pages find them by more than the names they share (xquad-dev, lexical R@1 against English
   * paragraphs 46.1% -> 62.3%; docs/search.md, "Across languages"). Not stored.
   */
  lexicons?: readonly LexiconData[];
  /** Not for these options: a static index is opened with StaticIndexOptions. */
  url?: never;
}

/**
 * Opens the folder `m3web index --static` wrote, as a static host serves it: read-only, its
 * model, layers, width, vector type and n-grams fixed by its manifest (the encoder must be that
 * model). The coarse tier (coarse vectors, documents, BM25 lengths) is fetched once; each search
 * fetches only the row shards holding its candidates and the postings shards of its terms. Every
 * file fetched is cached (IndexedDB in a page or worker, memory in Node), so what was seen
 * answers offline.
 */
export interface StaticIndexOptions {
  /**
   * The model the folder was built with, for vector and hybrid search. Left out, the index ranks
   * by words alone (`mode` 'lexical', its default then) and nothing of a model is downloaded: a
   * page can search while its model loads, then open the folder again with the encoder (the
   * files fetched are cached), or search a static site by words only. A folder of an
   * inference-free SPLADE model carries its query side, so it also ranks by the model's weights
   * ('sparse', and 'hybrid' by default) without one.
   */
  encoder?: IndexEncoder;
  /** The folder's URL; in a page it may be relative to the page. */
  url: string;
  /** A label (default: the URL). */
  name?: string;
  /** As IndexOptions.lexicons; each translation's terms are postings the search fetches. */
  lexicons?: readonly LexiconData[];
  /** Not for a static index, which lives on its host (and in the cache). */
  store?: never;
}

/** Bytes a static index has on its host, and what it fetched. */
export interface StaticIndexStats {
  /** Bytes of each tier: coarse (coarse rows and documents, fetched at open), postings (of words and lexical weights, with an inference-free model's query side), full-width rows, chunk texts. */
  tiers: { coarse: number; postings: number; rows: number; texts: number };
  /** Requests to the host and bytes received since the index opened (cache hits excluded). */
  fetched: { requests: number; bytes: number };
  /** What the last search fetched. */
  lastSearch: { requests: number; bytes: number };
}

/** A read-only index over a static folder: add, upsert, sync, remove, clear, import and export reject (InputError). */
export interface StaticIndex extends VectorIndex {
  stats(): Promise<StaticIndexStats>;
}

/**
 * The rankers: cosine of embeddings, BM25 over words (src/search/lexical.ts), and, in an index
 * that stores them (IndexOptions.sparse), the model's lexical weights (BGE-M3's sparse output).
 */
export type Ranker = 'vector' | 'lexical' | 'sparse';

/** 'hybrid' fuses the rankers' lists (SearchOptions.fusion). */
export type SearchMode = 'hybrid' | Ranker;

/** Keeps documents whose meta passes the function, or equals every key of the object. */
export type MetaFilter = ((meta: Meta) => boolean) | Meta;

export interface SearchOptions {
  /** Number of documents to return (default 10). */
  k?: number;
  filter?: MetaFilter;
  /** Search at a narrower width: one of the model's dims, at most the index's. */
  dims?: number;
  /** Score every vector at full width instead of the coarse-to-fine funnel. */
  exact?: boolean;
  /** Funnel candidates re-scored at full width (default max(10 k, 200)); more costs time, buys recall. */
  candidates?: number;
  /**
   * Which rankers order the results (default 'hybrid'). 'lexical' needs no encoder call, so it
   * answers as fast as the user types.
   */
  mode?: SearchMode;
  /**
   * The query's last word is still being typed (a search box that answers on each keystroke):
   * it also matches the indexed words it begins, the MAX_COMPLETIONS most frequent of them, in
   * the lexical ranker and in the highlights. A query ending in a space or punctuation has no
   * such word. A static index completes from its word list (folders written before 2026-12-06
   * have none and refuse it).
   */
  prefix?: boolean;
  /**
   * Typo tolerance in the lexical ranker (default true): a query word that no indexed text holds
   * also matches the indexed words nearest it in spelling (typos.ts: the same first two letters,
   * one edit from 4 letters, two from 8, the nearest and most frequent, at most three), in the
   * ranking and in the highlights; with `prefix`, a last word that begins indexed words is left
   * to its completions, and one that begins none is measured against their beginnings ("recie"
   * finds "receive"). A static index written before 2026-12-06 has no word list to correct from
   * and ranks by the words as typed.
   */
  typos?: boolean;
  /**
   * Where the index was opened with `lexicons`, the lexical ranker also looks for the
   * translations of the query's words (default true; lexicon.ts), in the ranking and in the
   * highlights. false: the words as typed.
   */
  translate?: boolean;
  /**
   * Query syntax (default true): "quoted words" must stand one after another in a hit's chunk or
   * title (a phrase no row holds is searched as its words), and -word (a minus starting a word; -"quoted words" too) keeps out every document that
   * holds it; the rest, the phrases' words included, is ranked as usual (query-syntax.ts). Words
   * compare folded, as the lexical ranker reads them. false: the query is read as plain text.
   */
  syntax?: boolean;
  /**
   * How 'hybrid' fuses the rankers. method 'ranks': reciprocal rank fusion, a document scoring
   * the sum of weight / (k + rank) over the rankers that found it; 'scores': the sum of weight x
   * score, BM25 and lexical weights over their list's best, cosines as they are (no k). Default:
   * the model's measured fusion (manifest `search.fusion`, docs/search.md), else 'ranks' with k 60
   * and equal weights; a `k` without a method means 'ranks', and a call for the other method than
   * the model's starts from that method's equal weights.
   */
  fusion?: { method?: 'ranks' | 'scores'; k?: number; weights?: Partial<Record<Ranker, number>> };
  /**
   * A second stage: a cross-encoder (an encoder of a reranker model, `info().model.crossEncoder`)
   * scores the query against the best chunk of each of the first stage's best `top` documents
   * (default max(20, 3 k)), and the best k of those come back in its order, with `rerankScore`.
   * Runs in the caller's thread, calling the reranker's engine.
   */
  rerank?: {
    reranker: { rerank(query: string, documents: string[], options?: { instruction?: string }): Promise<RerankHit[]> };
    top?: number;
    /** What relevance means, for a reranker whose prompt takes an instruction (RerankOptions.instruction). */
    instruction?: string;
  };
}

export interface SearchHit {
  id: string;
  /** The cosine ('vector'), the BM25 score with its proximity bonus ('lexical', proximity.ts), the lexical weights' dot product ('sparse') or the fused score ('hybrid'). */
  score: number;
  /** 1-based rank of the document in each ranker's list that found it. */
  ranks: Partial<Record<Ranker, number>>;
  meta: Meta;
  /**
   * The document's best-matching chunk, and where its text holds the query's words
   * (`highlights`: [start, end) runs of UTF-16 code units, in order, one a word; the words the
   * lexical ranker matches, by folded form or prefix, whatever the mode; where the index knows
   * its term counts, words in more than half its chunks stay unmarked). Empty where no word
   * matches, as a vector hit of other words may.
   */
  chunk: { index: number; text: string; highlights: Highlight[] };
  /** The document's title (IndexDoc.title) and where it holds the query's words, as for the chunk; absent without one. */
  title?: { text: string; highlights: Highlight[] };
  /** With SearchOptions.rerank: the cross-encoder's score of the query against the chunk, which orders the hits. */
  rerankScore?: number;
}

/** What sync() changed. */
export interface SyncReport {
  added: number;
  updated: number;
  removed: number;
  unchanged: number;
  /** Documents embedded (new or changed text); a meta-only change keeps its vectors. */
  embedded: number;
}

/** What an index was built with; a query must be encoded the same way. */
export interface IndexSignature {
  model: string;
  /** The model's weights fingerprint (ModelInfo.fingerprint), where it has one. */
  fingerprint?: string;
  layers: number;
  dims: number;
  vector: VectorType;
  /** Present when documents and queries were embedded without prefixes (IndexOptions.symmetric). */
  symmetric?: true;
  /** Present when each chunk's lexical weights are stored beside its vector (IndexOptions.sparse). */
  sparse?: true;
}

/** Options of VectorIndex.corrections. */
export interface CorrectionOptions {
  /** The query's last word is still being typed (SearchOptions.prefix). */
  prefix?: boolean;
}

export interface VectorIndex {
  readonly name: string;
  /** Number of documents. */
  readonly size: number;
  /** Where scoring runs. */
  readonly backend: 'webgpu' | 'cpu';
  readonly signature: IndexSignature;
  /**
   * True when the stored vectors were built with another model, layers, width or vector type
   * than this encoder and these options give: searches and writes refuse (InputError) until
   * clear() or a sync after clear() rebuilds it. Vectors of two models are never mixed.
   */
  readonly needsRebuild: boolean;
  /**
   * Rows holding vectors of a shallower exit than `signature.layers`: documents added while a
   * progressive start was still downloading, embedded again in the background once the index's
   * exit has loaded (0 when none; a page can show "upgrading" meanwhile). Searches score each
   * row against the query embedded at that row's exit.
   */
  readonly shallowRows: number;
  /** Adds new documents; an id already in the index is an InputError (use upsert). */
  add(docs: IndexDoc[]): Promise<void>;
  /**
   * Adds documents, replacing those whose id is already in the index. Only documents whose text
   * changed are embedded again (by content hash); a changed meta alone keeps the vectors.
   */
  upsert(docs: IndexDoc[]): Promise<void>;
  /**
   * Makes the index hold exactly `docs`: adds the new, re-embeds the changed, removes the rest,
   * in one commit (a reload mid-way finds the old state or the new one).
   */
  sync(docs: IndexDoc[]): Promise<SyncReport>;
  /** Removes documents by id; returns how many were there. */
  remove(ids: string[]): Promise<number>;
  /** The k best documents, best first, each with its best chunk. */
  search(query: string, options?: SearchOptions): Promise<SearchHit[]>;
  /**
   * The corrections a lexical or hybrid search makes for `query` (SearchOptions.typos): each
   * query word that no indexed text holds, with the indexed words it stands for, nearest first
   * (`{ recieve: ['receive'] }`), for a search box to say "including results for receive".
   * Empty when every word was found or none could be corrected. `prefix` as in SearchOptions.
   */
  corrections(query: string, options?: CorrectionOptions): Promise<Record<string, string[]>>;
  /**
   * The translations a lexical or hybrid search also looks for (IndexOptions.lexicons,
   * SearchOptions.translate): each query word that no indexed text holds, with the words the
   * lexicons pair it with (`{ regen: ['rain'] }`), for a search box to say "also searched: rain".
   * Empty without lexicons, or when every word was found or none could be translated.
   */
  translations(query: string): Promise<Record<string, string[]>>;
  clear(): Promise<void>;
  /** The whole index (documents, meta, chunk texts, vectors) as bytes for import(). */
  export(): Promise<Uint8Array>;
  /** Replaces the contents with an export() of an index built with the same model, layers, dims and vector type. */
  import(data: Uint8Array): Promise<void>;
  /** Frees GPU buffers; the object is unusable afterwards (the stored index stays). */
  close(): void;
}
