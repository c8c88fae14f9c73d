import { InputError } from '../errors.js';
import { parseQuery } from './query-syntax.js';
import { titledChunk } from './title.js';
import type { SearchHit, SearchOptions } from './types.js';

/**
 * A search with a reranking step (SearchOptions.rerank): the first stage (`search`: hybrid, vector
 * or lexical, as asked) finds the best `top` documents, a cross-encoder scores the query against
 * each one's best chunk (behind the document's title, where it has one), and the best `k` of those come back in its order, each with its
 * `rerankScore`. Runs where the caller is (the page, or Node): a reranker is an encoder of its own,
 * which cannot travel to an index's worker.
 */
export async function rerankedSearch(
  query: string,
  options: SearchOptions | undefined,
  search: (query: string, options?: SearchOptions) => Promise<SearchHit[]>,
): Promise<SearchHit[]> {
  if (options?.rerank === undefined) return search(query, options);
  const { rerank, ...first } = options;
  if (typeof rerank !== 'object' || rerank === null || typeof rerank.reranker?.rerank !== 'function') {
    throw new InputError('rerank must be { reranker, top?, instruction? } with a cross-encoder encoder as reranker');
  }
  const k = first.k ?? 10;
  if (!Number.isInteger(k) || k < 1) throw new InputError(`k must be a positive integer, got ${JSON.stringify(k)}`);
  const top = rerank.top ?? Math.max(20, 3 * k);
  if (!Number.isInteger(top) || top < 1)
    throw new InputError(`rerank.top must be a positive integer, got ${JSON.stringify(top)}`);
  const pool = Math.max(k, top);
  const hits = await search(query, {
    ...first,
    k: pool,
    ...(first.candidates === undefined ? {} : { candidates: Math.max(first.candidates, pool) }),
  });
  if (hits.length === 0) return hits;
  const ranked: unknown = await rerank.reranker.rerank(
    // The reranker reads the words, not the syntax (quotes, excluded words).
    first.syntax === false ? query : parseQuery(query).words,
    hits.map((h) => titledChunk(h.title?.text ?? '', h.chunk.text)),
    rerank.instruction === undefined ? {} : { instruction: rerank.instruction },
  );
  return checkRanked(ranked, hits.length)
    .slice(0, k)
    .map((r) => ({ ...(hits[r.index] as SearchHit), rerankScore: r.score }));
}

/** A reranker's answer, checked: a custom one may return anything, and it must not become a hit. */
function checkRanked(ranked: unknown, documents: number): { index: number; score: number }[] {
  const bad = (why: string) => new InputError(`rerank.reranker returned ${why}; it must return { index, score } per document`);
  if (!Array.isArray(ranked)) throw bad(`${ranked === null ? 'null' : typeof ranked}, not an array`);
  const seen = new Set<number>();
  for (const r of ranked as { index?: unknown; score?: unknown }[]) {
    const { index, score } = r ?? {};
    if (!Number.isInteger(index) || (index as number) < 0 || (index as number) >= documents || seen.has(index as number))
      throw bad(`index ${JSON.stringify(index)} for ${documents} documents`);
    if (typeof score !== 'number' || !Number.isFinite(score)) throw bad(`score ${String(score)} for document ${index}`);
    seen.add(index as number);
  }
  return ranked as { index: number; score: number }[];
}
