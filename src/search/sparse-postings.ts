import { isSet } from './cpu-scorer.js';
import { type Ranked, selectTop } from './topk.js';

/** A chunk's lexical weights as an index stores them (plain arrays: they go into JSON exports and IndexedDB records). */
export interface StoredSparse {
  indices: number[];
  values: number[];
}

/** One token id's rows (ascending) and their weights. */
export interface Weighted {
  rows: number[];
  weights: number[];
}

/**
 * The k best rows of `mask` (null: every row) by the dot product of their lexical weights with the
 * query's, over the ids both hold (FlagEmbedding's lexical matching score, SPLADE's dot product);
 * rows sharing no id are left out. `postingsOf` gives an id's rows and weights. The in-memory and
 * the static index score with it alike.
 */
export function sparseRows(
  query: { indices: ArrayLike<number>; values: ArrayLike<number> },
  postingsOf: (id: number) => Weighted | null | undefined,
  k: number,
  mask: Uint32Array | null,
): Ranked {
  const scores = new Map<number, number>();
  for (let i = 0; i < query.indices.length; i++) {
    const p = postingsOf(query.indices[i] as number);
    if (!p) continue;
    const q = query.values[i] as number;
    p.rows.forEach((row, j) => {
      if (isSet(mask, row)) scores.set(row, (scores.get(row) ?? 0) + q * (p.weights[j] as number));
    });
  }
  return selectTop([...scores.values()], [...scores.keys()], k);
}

/** The model's lexical weights of every row, by token id (BGE-M3's sparse output, SPLADE's). */
export class SparsePostings {
  private readonly postings = new Map<number, Weighted>();

  add(row: number, v: StoredSparse): void {
    v.indices.forEach((id, i) => {
      let p = this.postings.get(id);
      if (!p) {
        p = { rows: [], weights: [] };
        this.postings.set(id, p);
      }
      p.rows.push(row);
      p.weights.push(v.values[i] as number);
    });
  }

  /** Each token id's rows and weights, rows in the order added. */
  entries(): IterableIterator<[number, Weighted]> {
    return this.postings.entries();
  }

  /** The k best rows of `mask` (null: every row) for the query's weights (sparseRows). */
  top(query: { indices: ArrayLike<number>; values: ArrayLike<number> }, k: number, mask: Uint32Array | null): Ranked {
    return sparseRows(query, (id) => this.postings.get(id), k, mask);
  }
}
