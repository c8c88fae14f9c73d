/**
 * The lexical baseline for `m3web eval`: character n-gram TF-IDF vectors (n = 2..4 inside
 * space-padded, lower-cased words), compared by cosine. Shared names, numbers and cognates carry
 * it a long way on bitext; a learned encoder has to beat it everywhere it claims to work.
 */

import { rankScores } from './metrics.js';

export type SparseVector = Map<string, number>;

function ngrams(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const word of text.toLowerCase().normalize('NFC').split(/\s+/u)) {
    if (!word) continue;
    const chars = [...` ${word} `];
    for (let n = 2; n <= 4; n++) {
      for (let i = 0; i + n <= chars.length; i++) {
        const g = chars.slice(i, i + n).join('');
        counts.set(g, (counts.get(g) ?? 0) + 1);
      }
    }
  }
  return counts;
}

/** Unit-length TF-IDF vectors of `texts`, with document frequencies taken over `texts` itself. */
export function tfidfVectors(texts: readonly string[]): SparseVector[] {
  const grams = texts.map(ngrams);
  const df = new Map<string, number>();
  for (const g of grams) for (const k of g.keys()) df.set(k, (df.get(k) ?? 0) + 1);
  const n = texts.length;
  return grams.map((g) => {
    const v: SparseVector = new Map();
    let ss = 0;
    for (const [k, c] of g) {
      const w = (1 + Math.log(c)) * Math.log((1 + n) / (1 + (df.get(k) as number)));
      v.set(k, w);
      ss += w * w;
    }
    const inv = 1 / Math.max(Math.sqrt(ss), 1e-12);
    for (const [k, w] of v) v.set(k, w * inv);
    return v;
  });
}

export function sparseDot(a: SparseVector, b: SparseVector): number {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  let s = 0;
  for (const [k, w] of small) {
    const o = large.get(k);
    if (o !== undefined) s += w * o;
  }
  return s;
}

/** Bitext retrieval accuracy over sparse vectors: row i of `a` should find row i of `b`. */
export const sparseRetrievalAccuracy = (a: readonly SparseVector[], b: readonly SparseVector[]): number =>
  rankScores(
    a.length,
    b.length,
    (i, j) => sparseDot(a[i] as SparseVector, b[j] as SparseVector),
    (i) => i,
  ).r1;
