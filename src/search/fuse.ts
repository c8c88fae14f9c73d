import type { Fusion } from '../pack/manifest.js';
import type { Ranked } from './topk.js';
import type { Ranker } from './types.js';

/** A document in one ranker's list: its score there and the row (chunk) that earned it. */
export interface DocRank {
  id: string;
  score: number;
  row: number;
}

export interface Fused {
  id: string;
  score: number;
  row: number;
  /** 1-based rank in each list that holds the document. */
  ranks: Partial<Record<Ranker, number>>;
}

/**
 * Documents each ranker contributes to a hybrid search: its top k alone would let a document
 * ranked k + 1 by both rankers lose to one ranked first by one and absent from the other.
 */
export const fusionDepth = (k: number) => Math.max(4 * k, 40);

/** One ranker's list as the result, each document with its rank there. */
export const rankedAlone = (list: DocRank[], ranker: Ranker): Fused[] =>
  list.map((d, i) => ({ ...d, ranks: { [ranker]: i + 1 } }));

/** The first row of each document in `ranked` order, up to k: a document ranks by its best chunk. */
export function bestPerDocument(ranked: Ranked, k: number, idOf: (row: number) => string): DocRank[] {
  const docs: DocRank[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < ranked.rows.length && docs.length < k; i++) {
    const row = ranked.rows[i] as number;
    const id = idOf(row);
    if (seen.has(id)) continue;
    seen.add(id);
    docs.push({ id, score: ranked.scores[i] as number, row });
  }
  return docs;
}

/** Cormack et al.'s k and equal weights: the fusion for a model that measured none of its own. */
export const STANDARD_FUSION: Fusion = { k: 60, weights: { vector: 1, lexical: 1 } };

/**
 * A BM25 list's tail below this share of its best score is left out of the fusion: documents
 * that share only common words with the query ("the", "is") would otherwise count as much per
 * rank as the vector ranker's. Cosines have no such tail (every row scores), so the vector list
 * is kept whole.
 */
export const LEXICAL_FLOOR = 0.2;

const confident = (ranker: Ranker, list: DocRank[]) => {
  const best = list[0]?.score ?? 0;
  return ranker === 'lexical' ? list.filter((d) => d.score >= LEXICAL_FLOOR * best) : list;
};

/**
 * Reciprocal rank fusion (Cormack et al., 2009): a document scores sum_r w_r / (k + rank_r) over
 * the lists that hold it. Ranks, not scores, are combined, so a cosine and a BM25 score never
 * need a common scale (min-max scaling, as a weighted sum of scores needs, lets one outlier
 * reorder everything else). The chunk shown is the one from the list whose term weighed most.
 */
export function fuseRanks(lists: Partial<Record<Ranker, DocRank[]>>, f: Fusion, k: number): Fused[] {
  const byId = new Map<string, Fused & { best: number }>();
  for (const [ranker, list] of Object.entries(lists) as [Ranker, DocRank[]][]) {
    confident(ranker, list).forEach((d, i) => {
      const term = (f.weights[ranker] ?? 1) / (f.k + i + 1);
      let e = byId.get(d.id);
      if (!e) {
        e = { id: d.id, score: 0, row: d.row, ranks: {}, best: -1 };
        byId.set(d.id, e);
      }
      e.score += term;
      e.ranks[ranker] = i + 1;
      if (term > e.best) {
        e.best = term;
        e.row = d.row;
      }
    });
  }
  // Ties (equal fused scores) keep the order of first appearance: vector list first, then lexical, then sparse.
  return [...byId.values()]
    .sort((a, b) => b.score - a.score)
    .slice(0, k)
    .map(({ id, score, row, ranks }) => ({ id, score, row, ranks }));
}
