import { InputError } from '../../errors.js';
import type { IndexSignature, Meta, VectorType } from '../types.js';

/**
 * The folder `m3web index --static` writes, for a static host:
 *
 *   index.json        this manifest
 *   coarse.bin        every row's coarse vector (row-major words), its scale, its BM25 length (u32)
 *   docs.json         ids, chunk counts, titles, meta and where each document's rows sit in the shards
 *   rows/NNNNN.bin    full-width rows, `shardRows` per file, in shard order: per row its words,
 *                     then its f32 scale (one record, so a run of rows is one Range request)
 *   texts/NNNNN.json  the chunk texts of the same rows, as a JSON array
 *   terms/NNNNN.bin   BM25 postings, a term in shard termShard(term, count) (see postings.ts)
 *   sparse/NNNNN.bin  in an index of lexical weights (signature.sparse: BGE-M3's, SPLADE's), each
 *                     token id's rows and weights, id in shard id % count (see postings.ts)
 *
 *   query/tokenizer.json, query/tokenizer_config.json (where the model has one), query/weights.bin
 *                     an inference-free SPLADE model's query side: its tokenizer and its weight per
 *                     token id (f32), so a page weighs a query with no model (StaticQuery)
 *
 * A SPLADE model's index holds no vectors (signature.dims 0): no row shards, and its coarse tier
 * only the rows' scales and BM25 lengths.
 * Rows are numbered as in the in-memory index (documents in order, their chunks consecutive), so
 * BM25 and ties rank alike; shards hold documents in another order (near vectors together, see
 * order.ts), so a query's candidates fall into few of them. Binary data is little-endian.
 */
export const FORMAT = 'm3web-static';
/**
 * Raised whenever a text's terms change (terms.ts), since a query's terms must be made as the
 * index's were: 2 folds Arabic spelling variants and keys Thai and Chinese names; 3 keeps
 * Vietnamese marks, keys katakana and hangul, romanizes India's other scripts and splits Latin
 * words at apostrophes. An older folder is refused with the command that rewrites it, rather
 * than searched with terms it lacks.
 */
export const VERSION = 3;
export const MANIFEST = 'index.json';
export const COARSE = 'coarse.bin';
export const DOCS = 'docs.json';

const shardName = (dir: string, ext: string) => (i: number) => `${dir}/${String(i).padStart(5, '0')}.${ext}`;
export const rowShard = shardName('rows', 'bin');
export const textShard = shardName('texts', 'json');
export const termShardFile = shardName('terms', 'bin');
export const weightsShardFile = shardName('sparse', 'bin');
export const wordsShardFile = shardName('words', 'json');
export const QUERY_TOKENIZER = 'query/tokenizer.json';
export const QUERY_TOKENIZER_CONFIG = 'query/tokenizer_config.json';
export const QUERY_WEIGHTS = 'query/weights.bin';

/** How an inference-free SPLADE model weighs a query (see staticQueryVector): its files' sizes are in `sizes.query`. */
export interface StaticQuery {
  /** Put before the query's text (the model's query prompt, usually none). */
  prefix: string;
  /** Tokens read of a query, special tokens left out. */
  maxTokens: number;
  /** Entries of query/weights.bin. */
  vocab: number;
}

export interface StaticManifest {
  format: typeof FORMAT;
  version: typeof VERSION;
  /** Hash of every file's bytes: caches key files by it, so a rebuilt folder never mixes with the old one. */
  build: string;
  signature: IndexSignature;
  ngrams: boolean;
  docs: number;
  rows: number;
  /**
   * The coarse tier's rows: an int8 prefix of the funnel's coarse width, or the stored rows
   * themselves (binary rows, or a model with no narrower trained width: the index is then
   * served whole, and there are no row shards).
   */
  coarse: { vector: VectorType; dims: number };
  /** Sum of the rows' BM25 lengths (terms): with `rows`, BM25's average length. */
  totalLength: number;
  shardRows: number;
  /** Byte size of each file, which the reader checks as it downloads (`sparse`: where signature.sparse). */
  sizes: {
    coarse: number;
    docs: number;
    rows: number[];
    texts: number[];
    terms: number[];
    sparse?: number[];
    /** The word list for search as you type (completions.ts); absent in folders written before it. */
    words?: number[];
    query?: { tokenizer: number; config?: number; weights: number };
  };
  /** An inference-free SPLADE model's query side, shipped with the index. */
  query?: StaticQuery;
}

/** docs.json: per document, in row order. */
export interface StaticDocs {
  ids: string[];
  chunks: number[];
  /** Shard position of the document's first row. */
  at: number[];
  /** Each document's title (IndexDoc.title); absent when no document has one. */
  titles?: (string | null)[];
  /** Absent when no document has meta. */
  meta?: (Meta | null)[];
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Bytes of each tier: the coarse tier (coarse rows, documents), postings (words', lexical weights' and their query side), full-width rows, chunk texts. */
export function tierSizes(m: StaticManifest): { coarse: number; postings: number; rows: number; texts: number } {
  const s = m.sizes;
  const query = s.query ? s.query.tokenizer + (s.query.config ?? 0) + s.query.weights : 0;
  return {
    coarse: s.coarse + s.docs,
    postings: sum(s.terms) + sum(s.words ?? []) + sum(s.sparse ?? []) + query,
    rows: sum(s.rows),
    texts: sum(s.texts),
  };
}

/** FNV-1a over UTF-16 units: which postings shard holds `term`. */
export function termShard(term: string, count: number): number {
  let h = 2166136261;
  for (let i = 0; i < term.length; i++) h = Math.imul(h ^ term.charCodeAt(i), 16777619);
  return (h >>> 0) % count;
}

/** Which lexical-weights shard holds token `id`. */
export const weightsShard = (id: number, count: number): number => id % count;

const isInts = (v: unknown, n?: number): v is number[] =>
  Array.isArray(v) && (n === undefined || v.length === n) && v.every((x) => Number.isInteger(x) && x >= 0);

/** The manifest at `url`, checked enough that the reader can trust its numbers. */
export function parseManifest(bytes: Uint8Array, url: string): StaticManifest {
  const bad = (why: string) =>
    new InputError(`${url} is not an m3web static index (${why}); write one with m3web index --static`);
  let m: Partial<StaticManifest>;
  try {
    m = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw bad('not JSON');
  }
  if (m?.format !== FORMAT) throw bad('no "format": "m3web-static"');
  if (m.version !== VERSION) throw bad(`format version ${m.version}, this m3web reads ${VERSION}`);
  const s = m.sizes;
  const ok =
    typeof m.build === 'string' &&
    typeof m.signature?.model === 'string' &&
    typeof m.ngrams === 'boolean' &&
    isInts([m.docs, m.rows, m.totalLength, m.shardRows, m.coarse?.dims, m.signature.dims, m.signature.layers]) &&
    (m.shardRows as number) > 0 &&
    ['f32', 'int8', 'binary'].includes(m.coarse?.vector as string) &&
    s !== undefined &&
    isInts([s.coarse, s.docs]) &&
    isInts(s.rows) &&
    isInts(s.texts, Math.ceil((m.rows as number) / (m.shardRows as number))) &&
    isInts(s.terms) &&
    s.terms.length > 0 &&
    (s.words === undefined || (isInts(s.words) && s.words.length > 0)) &&
    (m.signature.sparse === true ? isInts(s.sparse) && s.sparse.length > 0 : s.sparse === undefined) &&
    (m.query === undefined
      ? s.query === undefined
      : m.signature.sparse === true &&
        typeof m.query.prefix === 'string' &&
        isInts([m.query.maxTokens, m.query.vocab, s.query?.tokenizer, s.query?.weights]) &&
        s.query?.weights === 4 * m.query.vocab &&
        (s.query.config === undefined || isInts([s.query.config])));
  if (!ok) throw bad('a field is missing or out of range');
  return m as StaticManifest;
}
