import type { Fusion, RankFusion } from '../pack/manifest.js';
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
export const STANDARD_FUSION: RankFusion = { k: 60, weights: { vector: 1, lexical: 1 } };

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
 * need a common scale (min-max scaling lets one outlier reorder everything else), but a ranker's
 * first document counts as much however slight its lead. The chunk shown is the one from the
 * list whose term weighed most.
 */
function fuseRanks(lists: Partial<Record<Ranker, DocRank[]>>, f: RankFusion, k: number): Fused[] {
  const fused = new Fusing();
  for (const [ranker, list] of Object.entries(lists) as [Ranker, DocRank[]][])
    confident(ranker, list).forEach((d, i) => {
      fused.add(d, ranker, i, (f.weights[ranker] ?? 1) / (f.k + i + 1));
    });
  return fused.best(k);
}

/**
 * A weighted sum of the rankers' own scores (the convex combination that Bruch et al., 2023,
 * found at least as good as reciprocal rank fusion once its weight is tuned): BM25 and lexical
 * weights over their list's best, so that 1 is the query's best match whatever its length, and
 * cosines as they are, which already share one scale across queries. Unlike ranks, scores keep
 * how far apart the candidates are: a model whose cosines barely differ between documents moves
 * little, where by rank its first document counts as much as BM25's. A document a list lacks
 * scores that list's last score there, the most it could have had.
 */
function fuseScores(lists: Partial<Record<Ranker, DocRank[]>>, f: Fusion, k: number): Fused[] {
  const fused = new Fusing();
  const entries = (Object.entries(lists) as [Ranker, DocRank[]][]).filter(([, list]) => list.length > 0);
  const scale = (ranker: Ranker, list: DocRank[]) => {
    const best = (list[0] as DocRank).score;
    return ranker === 'vector' ? 1 : best > 0 ? 1 / best : 0;
  };
  for (const [ranker, list] of entries) {
    const w = (f.weights[ranker] ?? 1) * scale(ranker, list);
    list.forEach((d, i) => {
      fused.add(d, ranker, i, w * d.score);
    });
  }
  for (const [ranker, list] of entries) {
    const held = new Set(list.map((d) => d.id));
    const floor = (f.weights[ranker] ?? 1) * scale(ranker, list) * (list.at(-1) as DocRank).score;
    fused.raiseOthers(held, floor);
  }
  return fused.best(k);
}

/** The documents of every list, each with its summed score, its ranks and the chunk of its heaviest term. */
class Fusing {
  private readonly byId = new Map<string, Fused & { best: number }>();

  add(d: DocRank, ranker: Ranker, index: number, term: number): void {
    let e = this.byId.get(d.id);
    if (!e) {
      e = { id: d.id, score: 0, row: d.row, ranks: {}, best: Number.NEGATIVE_INFINITY };
      this.byId.set(d.id, e);
    }
    e.score += term;
    e.ranks[ranker] = index + 1;
    if (term > e.best) {
      e.best = term;
      e.row = d.row;
    }
  }

  /** Adds `term` to every document not in `held`: a list's floor for those it lacks. */
  raiseOthers(held: ReadonlySet<string>, term: number): void {
    for (const e of this.byId.values()) if (!held.has(e.id)) e.score += term;
  }

  /** Ties (equal fused scores) keep the order of first appearance: vector list first, then lexical, then sparse. */
  best(k: number): Fused[] {
    return [...this.byId.values()]
      .sort((a, b) => b.score - a.score)
      .slice(0, k)
      .map(({ id, score, row, ranks }) => ({ id, score, row, ranks }));
  }
}

/** The hybrid ranking of `lists` by `f`'s method, best k. */
export const fuse = (lists: Partial<Record<Ranker, DocRank[]>>, f: Fusion, k: number): Fused[] =>
  f.method === 'scores' ? fuseScores(lists, f, k) : fuseRanks(lists, f, k);
