import type { DocRank } from './fuse.js';
import { foldedWords } from './terms.js';

/**
 * What a query's neighbouring words add to a hit that holds them side by side (in its chunk or its
 * title), in BM25's units: BM25 scores words apart, so "new york" ranks a text about a new
 * shop in York as one about New York. Chosen on xquad-dev's questions (lexical R@1, monolingual,
 * over weights 0, 1, 2, 3, 4, 6: 93.6, 93.9, 94.1, 94.1, 94.2, 94.3; every language at or above its
 * BM25 at 4, Vietnamese, whose words are syllables apart, +2.4).
 */
export const PROXIMITY_WEIGHT = 4;

/** The query's neighbouring word pairs, each once. */
export function wordPairs(query: string): string[] {
  const words = foldedWords(query);
  return [...new Set(words.slice(1).map((w, i) => `${words[i]} ${w}`))];
}

/**
 * `list` (one ranker's documents, best first, scored by BM25) with its first `k` reordered by
 * their score plus PROXIMITY_WEIGHT for each of `pairs` their row's chunk or title holds: no
 * document is brought in from further down, so an index reads the texts of k documents (in a
 * lexical search the hits' own, which it shows anyway; in a hybrid one the lexical list's first k,
 * most of them among the hits). The rest keep their place, below.
 */
export async function proximityFirst(
  pairs: readonly string[],
  list: DocRank[],
  k: number,
  textsOf: (row: number) => Promise<{ chunk: string; title: string | undefined }>,
): Promise<DocRank[]> {
  if (pairs.length === 0 || list.length === 0) return list;
  const head = await Promise.all(
    list.slice(0, k).map(async (d) => {
      const { chunk, title } = await textsOf(d.row);
      const held = new Set<string>();
      for (const text of title === undefined ? [chunk] : [chunk, title]) {
        const words = foldedWords(text);
        for (let i = 1; i < words.length; i++) held.add(`${words[i - 1]} ${words[i]}`);
      }
      const near = pairs.filter((p) => held.has(p)).length;
      return { ...d, score: d.score + PROXIMITY_WEIGHT * near };
    }),
  );
  // Stable: equal scores keep BM25's order.
  const order = head.map((d, i) => ({ d, i })).sort((a, b) => b.d.score - a.d.score || a.i - b.i);
  return [...order.map((o) => o.d), ...list.slice(k)];
}
