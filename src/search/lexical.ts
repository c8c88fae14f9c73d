import { terms } from './terms.js';
import { type Ranked, selectTop } from './topk.js';

/** Rows holding a term, with how often it occurs in each; dead rows stay until the next compaction. */
interface Posting {
  rows: number[];
  tfs: number[];
  /** Live rows holding the term: BM25's document frequency. */
  df: number;
}

/** Okapi BM25's usual constants (Lucene's defaults): term frequency saturation and length normalisation. */
const K1 = 1.2;
const B = 0.75;

function counts(text: string): { tf: Map<string, number>; length: number } {
  const all = terms(text);
  const tf = new Map<string, number>();
  for (const t of all) tf.set(t, (tf.get(t) ?? 0) + 1);
  return { tf, length: all.length };
}

/**
 * BM25 over the rows (chunks) of a Collection, keyed by the same row numbers as the vectors, so
 * one row mask filters both rankers. It is derived from the chunk texts, which the index
 * persists anyway: it is rebuilt when an index is loaded, never stored, and so can never
 * disagree with the vectors after an interrupted write.
 */
export class LexicalIndex {
  private readonly postings = new Map<string, Posting>();
  /** Terms per row; -1 for a removed row. */
  private lengths: number[] = [];
  private liveRows = 0;
  private liveLength = 0;

  add(row: number, text: string): void {
    const { tf, length } = counts(text);
    for (const [term, n] of tf) {
      let p = this.postings.get(term);
      if (!p) {
        p = { rows: [], tfs: [], df: 0 };
        this.postings.set(term, p);
      }
      p.rows.push(row);
      p.tfs.push(n);
      p.df++;
    }
    this.lengths[row] = length;
    this.liveRows++;
    this.liveLength += length;
  }

  /** Forgets a row added with `text` (the same text: its terms are counted again, not stored). */
  remove(row: number, text: string): void {
    for (const term of counts(text).tf.keys()) (this.postings.get(term) as Posting).df--;
    this.liveRows--;
    this.liveLength -= this.lengths[row] as number;
    this.lengths[row] = -1;
  }

  /** Renumbers rows after the Collection compacted its store (`map[old]` is the new row, or -1). */
  remap(map: Int32Array): void {
    for (const [term, p] of this.postings) {
      const rows: number[] = [];
      const tfs: number[] = [];
      p.rows.forEach((r, i) => {
        const to = map[r] as number;
        if (to < 0) return;
        rows.push(to);
        tfs.push(p.tfs[i] as number);
      });
      if (rows.length) this.postings.set(term, { rows, tfs, df: p.df });
      else this.postings.delete(term);
    }
    const lengths: number[] = [];
    this.lengths.forEach((n, r) => {
      const to = map[r] as number;
      if (to >= 0) lengths[to] = n;
    });
    this.lengths = lengths;
  }

  clear(): void {
    this.postings.clear();
    this.lengths = [];
    this.liveRows = 0;
    this.liveLength = 0;
  }

  /** The k best live rows in `mask` (null: every live row) for `query`; rows sharing no term with it are left out. */
  top(query: string, k: number, mask: Uint32Array | null): Ranked {
    const scores = new Map<number, number>();
    if (this.liveRows === 0) return selectTop([], [], k);
    const avgLength = this.liveLength / this.liveRows;
    for (const [term, qtf] of counts(query).tf) {
      const p = this.postings.get(term);
      if (!p || p.df === 0) continue;
      const idf = Math.log(1 + (this.liveRows - p.df + 0.5) / (p.df + 0.5));
      for (let i = 0; i < p.rows.length; i++) {
        const row = p.rows[i] as number;
        const length = this.lengths[row] as number;
        if (length < 0 || (mask && ((mask[row >>> 5] as number) & (1 << (row & 31))) === 0)) continue;
        const tf = p.tfs[i] as number;
        const s = (qtf * idf * tf * (K1 + 1)) / (tf + K1 * (1 - B + (B * length) / avgLength));
        scores.set(row, (scores.get(row) ?? 0) + s);
      }
    }
    return selectTop([...scores.values()], [...scores.keys()], k);
  }
}
