import { type Ranked, selectTop } from './topk.js';

/** A chunk's lexical weights as an index stores them (plain arrays: they go into JSON exports and IndexedDB records). */
export interface StoredSparse {
  indices: number[];
  values: number[];
}

/**
 * The model's lexical weights of every row, by token id (BGE-M3's sparse output): a row scores
 * the dot product of its weights with the query's over the ids both hold, as FlagEmbedding's
 * lexical matching score. Only rows holding one of the query's ids are touched.
 */
export class SparsePostings {
  private readonly postings = new Map<number, { rows: number[]; weights: number[] }>();

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

  /** The k best rows of `mask` (null: every row) for the query's weights; rows sharing no id are left out. */
  top(query: { indices: ArrayLike<number>; values: ArrayLike<number> }, k: number, mask: Uint32Array | null): Ranked {
    const scores = new Map<number, number>();
    for (let i = 0; i < query.indices.length; i++) {
      const p = this.postings.get(query.indices[i] as number);
      if (!p) continue;
      const q = query.values[i] as number;
      p.rows.forEach((row, j) => {
        if (mask && ((mask[row >>> 5] as number) & (1 << (row & 31))) === 0) return;
        scores.set(row, (scores.get(row) ?? 0) + q * (p.weights[j] as number));
      });
    }
    return selectTop([...scores.values()], [...scores.keys()], k);
  }
}
