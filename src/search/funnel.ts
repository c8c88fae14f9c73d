import { encodeQuery } from './codec.js';
import { rowScorer } from './cpu-scorer.js';
import type { RowStore } from './rows.js';
import type { Scorer } from './scorer.js';
import { type Ranked, selectTop } from './topk.js';

/**
 * Rows the coarse pass keeps for k: max(10 k, 200). `npm run bench -- search` (Matryoshka-like
 * clustered vectors, 384 dims, 64-dim coarse copy, 40 queries; bench/search.ts) measures recall@10
 * against exact search at 100k vectors of 0.93 for 50 candidates, 0.965 for 100, 0.985 for 200,
 * 0.995 for 400 and 1.0 for 800: 200 is the smallest that reaches 0.98, and each doubling past it
 * costs more time (re-scoring, a larger top-k sort) than the recall it adds.
 */
export function candidateCount(k: number): number {
  return Math.max(10 * k, 200);
}

/**
 * Width of the coarse copy for an index `width` wide: the widest trained width at most
 * max(64, width / 6), else the narrowest trained width below `width`; null when no trained width
 * is narrower (search is then always exact).
 */
export function coarseWidth(width: number, trained: readonly number[]): number | null {
  const narrower = trained.filter((d) => d < width).sort((a, b) => a - b);
  const target = Math.max(64, width / 6);
  return narrower.filter((d) => d <= target).at(-1) ?? narrower[0] ?? null;
}

/** A scorer with the store it reads. */
export interface ScoredStore {
  scorer: Scorer;
  store: RowStore;
}

export interface RankOptions {
  width: number;
  k: number;
  mask: Uint32Array | null;
  /** Score every row at full width. */
  exact: boolean;
  candidates: number;
}

/**
 * The k best rows for `vector` at `width`: exact (every full row, on its scorer), or the
 * Matryoshka funnel when a coarse copy narrower than `width` exists: every coarse row on its
 * scorer, then the best `candidates` re-scored from the full rows on the CPU (a few hundred
 * rows; reading them back costs no more than the top-k).
 */
export async function rankRows(
  full: ScoredStore,
  coarse: ScoredStore | null,
  vector: Float32Array,
  o: RankOptions,
): Promise<Ranked> {
  const query = encodeQuery(full.store.codec, vector, o.width);
  const c = coarse?.store.codec;
  if (o.exact || !coarse || !c || c.dims >= o.width || o.candidates >= full.store.count) {
    return full.scorer.top(query, o.width, o.k, o.mask);
  }
  const { rows } = await coarse.scorer.top(encodeQuery(c, vector, c.dims), c.dims, o.candidates, o.mask);
  const score = rowScorer(full.store, query, o.width);
  return selectTop(Float64Array.from(rows, score), rows, o.k);
}
