import type { StoredSparse } from './sparse-postings.js';
import type { Meta } from './types.js';

const isStoredSparse = (v: unknown): boolean => {
  const s = v as Partial<StoredSparse> | null;
  return (
    typeof s === 'object' &&
    s !== null &&
    Array.isArray(s.indices) &&
    Array.isArray(s.values) &&
    s.indices.length === s.values.length &&
    s.indices.every((id) => Number.isInteger(id) && id >= 0) &&
    s.values.every((w) => typeof w === 'number' && Number.isFinite(w))
  );
};

/** A document as stored: its chunks' texts; its vectors are consecutive rows of its segment. */
export interface DocRecord {
  id: string;
  /** IndexDoc.title: embedded before each chunk and counted in its BM25 terms. */
  title?: string;
  meta?: Meta;
  chunks: string[];
  /** docHash of the text and chunk budget the rows were made from (absent in indexes from before it). */
  hash?: string;
  /**
   * The exit (layer count) each chunk's row was embedded at, where one is shallower than the
   * index's own (a progressive start): absent when every row is at the index's exit, which is
   * also what indexes from before it hold.
   */
  exits?: number[];
  /** Each chunk's lexical weights, in an index that stores them (IndexSignature.sparse). */
  sparse?: StoredSparse[];
}

/**
 * A batch of documents with their encoded rows (row-major, Codec.rowWords words each) and
 * per-row scales: the unit of persistence and of export.
 */
export interface Segment {
  docs: DocRecord[];
  words: Uint32Array;
  scales: Float32Array;
}

export const rowsOf = (docs: readonly DocRecord[]) => docs.reduce((n, d) => n + d.chunks.length, 0);

/** What is wrong with `s` as a segment of `rowWords`-word rows, or null (stored and imported data can be damaged). */
export function segmentProblem(s: unknown, rowWords: number): string | null {
  const seg = s as Partial<Segment> | null;
  const ok =
    typeof seg === 'object' &&
    seg !== null &&
    Array.isArray(seg.docs) &&
    seg.words instanceof Uint32Array &&
    seg.scales instanceof Float32Array &&
    seg.docs.every(
      (d) =>
        typeof d?.id === 'string' &&
        Array.isArray(d.chunks) &&
        d.chunks.length > 0 &&
        d.chunks.every((c) => typeof c === 'string') &&
        (d.title === undefined || typeof d.title === 'string') &&
        (d.meta === undefined || (typeof d.meta === 'object' && d.meta !== null)) &&
        (d.hash === undefined || typeof d.hash === 'string') &&
        (d.exits === undefined ||
          (Array.isArray(d.exits) && d.exits.length === d.chunks.length && d.exits.every((e) => Number.isInteger(e) && e > 0))) &&
        (d.sparse === undefined ||
          (Array.isArray(d.sparse) && d.sparse.length === d.chunks.length && d.sparse.every(isStoredSparse))),
    );
  if (!ok) return 'is not a list of documents with vectors';
  const rows = rowsOf(seg.docs as DocRecord[]);
  if (seg.scales?.length !== rows || seg.words?.length !== rows * rowWords) {
    return `lists ${rows} vectors but holds ${seg.scales?.length} scales and ${seg.words?.length} words (${rowWords} per vector)`;
  }
  return null;
}

export function concatSegments(parts: readonly Segment[]): Segment {
  const words = new Uint32Array(parts.reduce((n, p) => n + p.words.length, 0));
  const scales = new Float32Array(parts.reduce((n, p) => n + p.scales.length, 0));
  let w = 0;
  let r = 0;
  for (const p of parts) {
    words.set(p.words, w);
    scales.set(p.scales, r);
    w += p.words.length;
    r += p.scales.length;
  }
  return { docs: parts.flatMap((p) => p.docs), words, scales };
}

/** The segment without the documents in `drop`. */
export function withoutDocs(s: Segment, drop: ReadonlySet<string>, rowWords: number): Segment {
  if (!s.docs.some((d) => drop.has(d.id))) return s;
  const parts: Segment[] = [];
  let row = 0;
  for (const d of s.docs) {
    const n = d.chunks.length;
    if (!drop.has(d.id)) {
      parts.push({
        docs: [d],
        words: s.words.subarray(row * rowWords, (row + n) * rowWords),
        scales: s.scales.subarray(row, row + n),
      });
    }
    row += n;
  }
  return concatSegments(parts);
}
