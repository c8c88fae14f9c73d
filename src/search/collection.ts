import { type Codec, decodeRow, encodeRow } from './codec.js';
import { metaPredicate } from './filter.js';
import { LexicalIndex } from './lexical.js';
import type { RowReader } from './query-syntax.js';
import { RowStore } from './rows.js';
import type { Segment } from './segment.js';
import { SparsePostings, type StoredSparse } from './sparse-postings.js';
import type { Meta, MetaFilter } from './types.js';

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

interface DocEntry {
  id: string;
  title: string | undefined;
  meta: Meta | undefined;
  chunks: string[];
  hash: string | undefined;
  /** The exit of each chunk's row, where one is below the index's (DocRecord.exits). */
  exits: number[] | undefined;
  /** Each chunk's lexical weights, in an index that stores them. */
  sparse: StoredSparse[] | undefined;
  /** First of its consecutive rows. */
  row0: number;
}

/** Rows of one exit to score against that exit's query vector: a bit mask, null for every row. */
export interface ExitRows {
  exit: number;
  mask: Uint32Array | null;
}

/**
 * The documents of an index in memory: their rows in a RowStore, in the order they were added
 * (which is also the order a reload restores, so ties rank the same before and after). Removed
 * documents leave dead rows, masked out of every search, until they outnumber the live ones and
 * the store is compacted.
 *
 * With `coarseCodec` (int8, a trained width below the full one), a second store holds the first
 * values of every row, normalised at that width: the funnel's coarse pass reads 64 bytes a row
 * there instead of 256 (f32, 64 dims) from the full rows. It is derived from the full rows, so
 * it is never persisted.
 *
 * Under a progressive start some rows may hold vectors of a shallower exit than the index's
 * (`layers`) until they are embedded again; the collection knows which, so a search scores each
 * row against a query vector of its own exit.
 */
export class Collection {
  readonly store: RowStore;
  readonly coarse: RowStore | null;
  /**
   * BM25 over the same rows, from the chunk texts (about 4 µs a word with n-grams): made in idle
   * slices after the index opens or changes (warmLexical), or at the latest by the first lexical
   * or hybrid search.
   */
  private postings: LexicalIndex | null = null;
  /**
   * Postings being made in idle slices (warmLexical): they hold every live document except those
   * still queued, and follow appends, removals and compactions meanwhile.
   */
  private building: { index: LexicalIndex; queue: Set<DocEntry> } | null = null;
  /** The lexical weights' postings (IndexSignature.sparse), made on the first search that ranks by them. */
  private weights: SparsePostings | null = null;
  private readonly docs = new Map<string, DocEntry>();
  /** Documents with a row below `layers`, in the order they were stored. */
  private readonly shallow = new Set<DocEntry>();
  private shallowCount = 0;
  private rowDocs: (DocEntry | null)[] = [];
  private live = new Uint32Array(0);
  private deadRows = 0;

  constructor(
    readonly codec: Codec,
    coarseCodec: Codec | null,
    private readonly ngrams = false,
    /** The index's exit: rows are at it unless their document records a shallower one. */
    readonly layers = Number.POSITIVE_INFINITY,
  ) {
    this.store = new RowStore(codec);
    this.coarse = coarseCodec && new RowStore(coarseCodec);
  }

  get size(): number {
    return this.docs.size;
  }

  get lexical(): LexicalIndex {
    this.warmLexical(() => false);
    return this.postings as LexicalIndex;
  }

  /**
   * Makes the lexical postings a slice at a time: adds documents until `stop()` says the slice is
   * over, and returns whether the postings are complete. Writes between slices are followed, so
   * an index that keeps changing still gets there.
   */
  warmLexical(stop: () => boolean): boolean {
    if (this.postings) return true;
    this.building ??= { index: new LexicalIndex(this.ngrams), queue: new Set(this.docs.values()) };
    const { index, queue } = this.building;
    for (const d of queue) {
      queue.delete(d);
      for (const [i, chunk] of d.chunks.entries()) index.add(d.row0 + i, chunk, d.title);
      if (stop()) break;
    }
    if (queue.size) return false;
    this.postings = index;
    this.building = null;
    return true;
  }

  /** The stored lexical weights by token id: made from the documents on first use, and kept up as they are added. */
  get sparse(): SparsePostings {
    if (!this.weights) {
      const weights = new SparsePostings();
      for (const d of this.docs.values()) {
        for (const [i, v] of (d.sparse ?? []).entries()) weights.add(d.row0 + i, v);
      }
      this.weights = weights;
    }
    return this.weights;
  }

  get liveRows(): number {
    return this.store.count - this.deadRows;
  }

  /** Live rows embedded at an exit below `layers`, still to be embedded again. */
  get shallowRows(): number {
    return this.shallowCount;
  }

  has(id: string): boolean {
    return this.docs.has(id);
  }

  append(segment: Segment): void {
    let row = this.store.count;
    this.store.append(segment.words, segment.scales);
    if (this.coarse) this.appendCoarse(this.coarse, segment);
    this.growMask(this.store.count);
    for (const d of segment.docs) {
      // Frozen: filters get the stored object, and must not change it.
      const exits = d.exits?.some((e) => e < this.layers) ? d.exits : undefined;
      const entry: DocEntry = {
        id: d.id,
        title: d.title,
        meta: d.meta && deepFreeze(d.meta),
        chunks: d.chunks,
        hash: d.hash,
        exits,
        sparse: d.sparse,
        row0: row,
      };
      this.docs.set(d.id, entry);
      this.building?.queue.add(entry);
      if (exits) {
        this.shallow.add(entry);
        this.shallowCount += exits.filter((e) => e < this.layers).length;
      }
      for (let i = 0; i < d.chunks.length; i++, row++) {
        this.rowDocs[row] = entry;
        this.postings?.add(row, d.chunks[i] as string, d.title);
        const weights = d.sparse?.[i];
        if (weights) this.weights?.add(row, weights);
        this.live[row >>> 5] = (this.live[row >>> 5] as number) | (1 << (row & 31));
      }
    }
  }

  /** Removes the documents that are present; returns how many were. */
  remove(ids: readonly string[]): number {
    let removed = 0;
    for (const id of ids) {
      const d = this.docs.get(id);
      if (!d) continue;
      this.docs.delete(id);
      if (this.shallow.delete(d)) this.shallowCount -= (d.exits as number[]).filter((e) => e < this.layers).length;
      removed++;
      const indexed = this.postings ?? (this.building?.queue.delete(d) === false ? this.building.index : null);
      for (let row = d.row0; row < d.row0 + d.chunks.length; row++) {
        this.rowDocs[row] = null;
        indexed?.remove(row, d.chunks[row - d.row0] as string, d.title);
        this.live[row >>> 5] = (this.live[row >>> 5] as number) & ~(1 << (row & 31));
      }
      this.deadRows += d.chunks.length;
    }
    if (this.deadRows > this.liveRows) this.compact();
    return removed;
  }

  clear(): void {
    this.docs.clear();
    this.shallow.clear();
    this.shallowCount = 0;
    this.rowDocs = [];
    this.live = new Uint32Array(0);
    this.deadRows = 0;
    this.store.clear();
    this.coarse?.clear();
    this.postings = null;
    this.building = null;
    this.weights = null;
  }

  /** Ids of the live documents in row order. */
  ids(): string[] {
    return [...this.docs.values()].sort((a, b) => a.row0 - b.row0).map((d) => d.id);
  }

  /** The documents `ids`, in that order, with their rows: what persistence and export store. */
  segment(ids: readonly string[]): Segment {
    const docs = ids.map((id) => this.docs.get(id) as DocEntry);
    const rows = docs.flatMap((d) => Array.from(d.chunks, (_, i) => d.row0 + i));
    return {
      docs: docs.map(({ id, title, meta, chunks, hash, exits, sparse }) => ({
        id,
        ...(title ? { title } : {}),
        ...(meta ? { meta } : {}),
        chunks,
        ...(hash ? { hash } : {}),
        ...(exits ? { exits } : {}),
        ...(sparse ? { sparse } : {}),
      })),
      ...this.store.read(rows),
    };
  }

  /**
   * Ids of the first documents (in stored order) with a row below `layers`, at least one and
   * about `rows` rows in all: the next slice to embed again.
   */
  shallowIds(rows: number): string[] {
    const ids: string[] = [];
    let taken = 0;
    for (const d of this.shallow) {
      if (ids.length && taken + d.chunks.length > rows) break;
      ids.push(d.id);
      taken += d.chunks.length;
    }
    return ids;
  }

  /** Whether document `id` is stored with exactly these chunk texts and a row below `layers`. */
  isShallowWith(id: string, chunks: readonly string[]): boolean {
    const d = this.docs.get(id);
    return (
      d !== undefined && this.shallow.has(d) && d.chunks.length === chunks.length && d.chunks.every((c, i) => c === chunks[i])
    );
  }

  /**
   * The rows of `mask` (null: every live row) split by the exit they were embedded at, each
   * exit present once; with no row below `layers`, just `mask` at `layers`.
   */
  byExit(mask: Uint32Array | null): ExitRows[] {
    if (this.shallow.size === 0) return [{ exit: this.layers, mask }];
    const deep = (mask ?? this.live).slice();
    const masks = new Map<number, Uint32Array>();
    for (const d of this.shallow) {
      (d.exits as number[]).forEach((exit, i) => {
        const row = d.row0 + i;
        const bit = 1 << (row & 31);
        if (exit >= this.layers || ((deep[row >>> 5] as number) & bit) === 0) return;
        deep[row >>> 5] = (deep[row >>> 5] as number) & ~bit;
        const m = masks.get(exit) ?? new Uint32Array(deep.length);
        masks.set(exit, m);
        m[row >>> 5] = (m[row >>> 5] as number) | bit;
      });
    }
    const groups = [...masks].map(([exit, m]) => ({ exit, mask: m }));
    if (deep.some((w) => w !== 0)) groups.push({ exit: this.layers, mask: deep });
    return groups.sort((a, b) => a.exit - b.exit);
  }

  /** The stored document `id`'s content hash and meta, or null when it is not in the collection. */
  stored(id: string): { hash: string | undefined; meta: Meta | undefined } | null {
    const d = this.docs.get(id);
    return d ? { hash: d.hash, meta: d.meta } : null;
  }

  /**
   * Rows of live documents that pass `filter`, as a bit mask (bit r % 32 of word r / 32); null
   * when that is every row.
   */
  mask(filter: MetaFilter | undefined): Uint32Array | null {
    if (!filter) return this.deadRows ? this.live : null;
    const keep = metaPredicate(filter);
    const mask = this.live.slice();
    for (const d of this.docs.values()) {
      if (keep(d.meta ?? {})) continue;
      for (let row = d.row0; row < d.row0 + d.chunks.length; row++)
        mask[row >>> 5] = (mask[row >>> 5] as number) & ~(1 << (row & 31));
    }
    return mask;
  }

  /** Its rows as the query syntax and the proximity bonus read them (RowReader). */
  rowReader(): RowReader {
    return {
      rows: this.rowDocs.length,
      rowsWith: async (word) => this.lexical.rowsWith(word),
      textsOf: async (row) => {
        const d = this.rowDocs[row] as DocEntry;
        return { chunk: d.chunks[row - d.row0] as string, title: d.title };
      },
      documentRows: (row) => {
        const d = this.rowDocs[row] as DocEntry;
        return { first: d.row0, count: d.chunks.length };
      },
    };
  }

  /** The document a live row belongs to, its title, and which of its chunks the row is. */
  at(row: number): { id: string; title: string | undefined; meta: Meta; chunk: { index: number; text: string } } {
    const d = this.rowDocs[row] as DocEntry;
    const index = row - d.row0;
    return { id: d.id, title: d.title, meta: d.meta ?? {}, chunk: { index, text: d.chunks[index] as string } };
  }

  private appendCoarse(coarse: RowStore, segment: Segment): void {
    const full = this.codec;
    const c = coarse.codec;
    const rows = segment.scales.length;
    const words = new Uint32Array(rows * c.rowWords);
    const scales = new Float32Array(rows);
    for (let r = 0; r < rows; r++) {
      const values = decodeRow(
        full,
        segment.words.subarray(r * full.rowWords, (r + 1) * full.rowWords),
        segment.scales[r] as number,
      );
      scales[r] = encodeRow(c, values, words.subarray(r * c.rowWords, (r + 1) * c.rowWords));
    }
    coarse.append(words, scales);
  }

  private compact(): void {
    const keep = (row: number) => this.rowDocs[row] != null;
    this.coarse?.compact(keep);
    const map = this.store.compact(keep);
    this.postings?.remap(map);
    this.building?.index.remap(map);
    // Made again from the documents on the next search that needs it.
    this.weights = null;
    const rowDocs: DocEntry[] = [];
    for (const d of this.docs.values()) {
      d.row0 = map[d.row0] as number;
      for (let i = 0; i < d.chunks.length; i++) rowDocs[d.row0 + i] = d;
    }
    this.rowDocs = rowDocs;
    this.deadRows = 0;
    this.live = new Uint32Array(0);
    this.growMask(this.store.count);
    this.live.fill(0xffffffff, 0, this.store.count >>> 5);
    for (let row = this.store.count & ~31; row < this.store.count; row++)
      this.live[row >>> 5] = (this.live[row >>> 5] as number) | (1 << (row & 31));
  }

  private growMask(rows: number): void {
    const words = Math.ceil(rows / 32);
    if (words <= this.live.length) return;
    const grown = new Uint32Array(Math.max(words, this.live.length * 2));
    grown.set(this.live);
    this.live = grown;
  }
}
