import { InputError } from '../../errors.js';
import { sha256Hex } from '../../pack/sha256.js';
import { type Codec, codec, decodeRow, encodeRow } from '../codec.js';
import { coarseWidth } from '../funnel.js';
import { rowCounts } from '../lexical.js';
import type { Segment } from '../segment.js';
import { SparsePostings, type Weighted } from '../sparse-postings.js';
import type { IndexSignature } from '../types.js';
import { completionGroups } from './completions.js';
import {
  COARSE,
  DOCS,
  FORMAT,
  MANIFEST,
  QUERY_TOKENIZER,
  QUERY_TOKENIZER_CONFIG,
  QUERY_WEIGHTS,
  rowShard,
  type StaticDocs,
  type StaticManifest,
  termShard,
  termShardFile,
  textShard,
  VERSION,
  weightsShard,
  weightsShardFile,
  wordsShardFile,
} from './format.js';
import { clusterOrder } from './order.js';
import { type Entries, encodeEntries, encodeShard, encodeWeightsShard } from './postings.js';

/**
 * Rows per row and text shard: two files per 32 rows, 6,250 at 100k rows. Rows are read by
 * Range requests, so the shard size bounds what a host that ignores Range sends for one run of
 * rows (48 KiB of 384-dim f32 rows); text shards are fetched whole, for the hits only.
 */
export const SHARD_ROWS = 32;
/** Target bytes of a postings shard: a query fetches one per distinct term (word and prefix). */
const TERM_SHARD_BYTES = 32 * 1024;

export interface StaticWriteOptions {
  /** The model's trained widths: the coarse tier's width is the funnel's (coarseWidth). */
  trainedDims: readonly number[];
  /** Index character 4-grams too, as IndexOptions.ngrams. */
  ngrams: boolean;
  shardRows?: number;
  /**
   * An inference-free SPLADE model's query side (its tokenizer's files and weight per token id),
   * written into the folder so a page can rank by the weights with no model.
   */
  query?: { tokenizer: { json: unknown; config?: unknown }; weights: Float32Array; prefix: string; maxTokens: number };
  /** Stores one file of the folder (path relative to it, '/'-separated). */
  put(path: string, bytes: Uint8Array): Promise<void>;
}

/** How many shards keep `total` bytes near TERM_SHARD_BYTES each (one at least). */
const shardsFor = (total: number) => Math.max(1, Math.ceil(total / TERM_SHARD_BYTES));

const bytesOf = (a: Uint32Array | Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The rows' coarse copies, as the in-memory Collection derives them (or the rows themselves). */
function coarseRows(full: Codec, coarse: Codec, s: Segment): { words: Uint32Array; scales: Float32Array } {
  if (coarse === full) return { words: s.words, scales: s.scales };
  const rows = s.scales.length;
  const words = new Uint32Array(rows * coarse.rowWords);
  const scales = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const values = decodeRow(full, s.words.subarray(r * full.rowWords, (r + 1) * full.rowWords), s.scales[r] as number);
    scales[r] = encodeRow(coarse, values, words.subarray(r * coarse.rowWords, (r + 1) * coarse.rowWords));
  }
  return { words, scales };
}

/** Each row's BM25 length, and every term's entries with rows ascending (a row's terms as the in-memory index counts them). */
function lexicalOf(s: Segment, ngrams: boolean): { lengths: Uint32Array; postings: Map<string, Entries> } {
  const rows = s.docs.flatMap((d) => d.chunks.map((text) => ({ text, title: d.title })));
  const lengths = new Uint32Array(rows.length);
  const postings = new Map<string, Entries>();
  rows.forEach(({ text, title }, row) => {
    const { tf, length } = rowCounts(text, title, ngrams);
    lengths[row] = length;
    for (const [term, n] of tf) {
      const e = postings.get(term);
      if (e) e.push(row, n);
      else postings.set(term, [row, n]);
    }
  });
  return { lengths, postings };
}

/** Postings shards: as many as keep each near TERM_SHARD_BYTES, terms placed by hash. */
function postingShards(postings: Map<string, Entries>): Uint8Array[] {
  const encoded = [...postings].map(([term, e]): [string, Uint8Array, number] => [term, encodeEntries(e), e.length / 2]);
  const total = encoded.reduce((n, t) => n + t[0].length + t[1].length + 8, 0);
  const count = shardsFor(total);
  const shards: [string, Uint8Array, number][][] = Array.from({ length: count }, () => []);
  for (const t of encoded) (shards[termShard(t[0], count)] as [string, Uint8Array, number][]).push(t);
  return shards.map(encodeShard);
}

/** Word list shards (completions.ts): as many as keep each near TERM_SHARD_BYTES, groups placed by termShard. */
function wordShards(postings: Map<string, Entries>): Uint8Array[] {
  const groups = [...completionGroups([...postings].map(([term, e]) => [term, e.length / 2] as const))];
  const total = groups.reduce((n, [group, list]) => n + group.length + list.reduce((m, [w]) => m + w.length + 8, 4), 0);
  const count = shardsFor(total);
  const shards: Record<string, [string, number][]>[] = Array.from({ length: count }, () => ({}));
  for (const [group, list] of groups) (shards[termShard(group, count)] as Record<string, [string, number][]>)[group] = list;
  return shards.map(json);
}

/** Each token id's rows and weights, rows numbered and added as the in-memory index adds them. */
function weightsOf(s: Segment): SparsePostings {
  const postings = new SparsePostings();
  let row = 0;
  for (const d of s.docs) {
    if (d.sparse?.length !== d.chunks.length)
      throw new InputError(`document "${d.id}" has no lexical weights for each of its chunks, which its index says it stores`);
    for (const v of d.sparse) postings.add(row++, v);
  }
  return postings;
}

/** Lexical-weights shards: as many as keep each near TERM_SHARD_BYTES, ids placed by weightsShard. */
function weightsShards(postings: SparsePostings): Uint8Array[] {
  const ids = [...postings.entries()].sort((a, b) => a[0] - b[0]);
  // About 2 bytes of row gap and 4 of weight an entry, and the id's header fields.
  const total = ids.reduce((n, [, w]) => n + 6 * w.rows.length + 16, 0);
  const count = shardsFor(total);
  const shards: [number, Weighted][][] = Array.from({ length: count }, () => []);
  for (const entry of ids) (shards[weightsShard(entry[0], count)] as [number, Weighted][]).push(entry);
  return shards.map(encodeWeightsShard);
}

/**
 * Writes the static tiered index of `segment` (an index's export, parsed) through `o.put`:
 * see format.ts for the files. Resolves to the manifest, whose sizes give each tier's bytes.
 */
export async function writeStaticIndex(
  signature: IndexSignature,
  segment: Segment,
  o: StaticWriteOptions,
): Promise<StaticManifest> {
  const shardRows = o.shardRows ?? SHARD_ROWS;
  const full = codec(signature.vector, signature.dims);
  // Binary rows and a SPLADE index's empty ones are their own coarse tier.
  const width = signature.vector === 'binary' || signature.dims === 0 ? null : coarseWidth(signature.dims, o.trainedDims);
  const coarse = width === null ? full : codec('int8', width);
  const local = coarse === full;
  const rows = segment.scales.length;
  const { docs } = segment;
  const row0 = new Uint32Array(docs.length);
  docs.forEach((d, i) => {
    if (i + 1 < docs.length) row0[i + 1] = (row0[i] as number) + d.chunks.length;
  });

  const c = coarseRows(full, coarse, segment);
  const { lengths, postings } = lexicalOf(segment, o.ngrams);
  // Documents by their first row's coarse vector; a tier served whole gains nothing from it.
  const firstRows = local
    ? []
    : docs.map((_, i) => {
        const r = row0[i] as number;
        const v = decodeRow(coarse, c.words.subarray(r * coarse.rowWords, (r + 1) * coarse.rowWords), c.scales[r] as number);
        const n = Math.hypot(...v) || 1;
        return v.map((x) => x / n);
      });
  const order = local ? docs.map((_, i) => i) : clusterOrder(firstRows, shardRows);
  const at = new Array<number>(docs.length);
  const rowAt: number[] = [];
  for (const d of order) {
    at[d] = rowAt.length;
    for (let i = 0; i < (docs[d] as Segment['docs'][number]).chunks.length; i++) rowAt.push((row0[d] as number) + i);
  }

  const hashes: string[] = [];
  const put = async (path: string, bytes: Uint8Array) => {
    hashes.push(`${path} ${await sha256Hex(bytes)}`);
    await o.put(path, bytes);
    return bytes.length;
  };
  const texts = docs.flatMap((d) => d.chunks);
  const sizes: StaticManifest['sizes'] = { coarse: 0, docs: 0, rows: [], texts: [], terms: [] };
  for (let s = 0; s * shardRows < rows; s++) {
    const shard = rowAt.slice(s * shardRows, (s + 1) * shardRows);
    sizes.texts.push(await put(textShard(s), json(shard.map((r) => texts[r]))));
    if (local) continue;
    // Row records (words, then the scale): a run of rows is one byte range of the file.
    const records = new Uint32Array(shard.length * (full.rowWords + 1));
    const scales = new Float32Array(records.buffer);
    shard.forEach((r, i) => {
      const at = i * (full.rowWords + 1);
      records.set(segment.words.subarray(r * full.rowWords, (r + 1) * full.rowWords), at);
      scales[at + full.rowWords] = segment.scales[r] as number;
    });
    sizes.rows.push(await put(rowShard(s), bytesOf(records)));
  }
  for (const [i, bytes] of postingShards(postings).entries()) sizes.terms.push(await put(termShardFile(i), bytes));
  sizes.words = [];
  for (const [i, bytes] of wordShards(postings).entries()) sizes.words.push(await put(wordsShardFile(i), bytes));
  if (signature.sparse) {
    sizes.sparse = [];
    for (const [i, bytes] of weightsShards(weightsOf(segment)).entries())
      sizes.sparse.push(await put(weightsShardFile(i), bytes));
  }
  if (o.query && !signature.sparse)
    throw new InputError("query: only an index of lexical weights (an inference-free SPLADE model's) ships a query side");
  if (o.query) {
    const { tokenizer, weights } = o.query;
    sizes.query = {
      tokenizer: await put(QUERY_TOKENIZER, json(tokenizer.json)),
      ...(tokenizer.config === undefined ? {} : { config: await put(QUERY_TOKENIZER_CONFIG, json(tokenizer.config)) }),
      weights: await put(QUERY_WEIGHTS, bytesOf(weights)),
    };
  }
  sizes.coarse = await put(COARSE, concat([bytesOf(c.words), bytesOf(c.scales), bytesOf(lengths)]));
  const docsFile: StaticDocs = {
    ids: docs.map((d) => d.id),
    chunks: docs.map((d) => d.chunks.length),
    at,
    ...(docs.some((d) => d.title) ? { titles: docs.map((d) => d.title ?? null) } : {}),
    ...(docs.some((d) => d.meta) ? { meta: docs.map((d) => d.meta ?? null) } : {}),
  };
  sizes.docs = await put(DOCS, json(docsFile));
  const manifest: StaticManifest = {
    format: FORMAT,
    version: VERSION,
    build: (await sha256Hex(new TextEncoder().encode(hashes.join('\n')))).slice(0, 16),
    signature,
    ngrams: o.ngrams,
    docs: docs.length,
    rows,
    coarse: { vector: coarse.type, dims: coarse.dims },
    totalLength: lengths.reduce((a, b) => a + b, 0),
    shardRows,
    sizes,
    ...(o.query ? { query: { prefix: o.query.prefix, maxTokens: o.query.maxTokens, vocab: o.query.weights.length } } : {}),
  };
  await o.put(MANIFEST, json(manifest));
  return manifest;
}
