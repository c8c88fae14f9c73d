import { isSet } from './cpu-scorer.js';
import { wordsBeginning } from './sorted-words.js';
import { isWordTerm, terms, typedWord } from './terms.js';
import { type Ranked, selectTop } from './topk.js';
import { type Corrections, correctable, correctionStem, corrections } from './typos.js';

/**
 * Rows holding a term and how often it occurs in each, interleaved (row, tf, row, tf...): one
 * array per term, of small integers, which engines store unboxed. Dead rows stay until the
 * next compaction.
 */
interface Posting {
  entries: number[];
  /** Live rows holding the term: BM25's document frequency. */
  df: number;
}

/**
 * Of indexed words and their document frequencies, the at most `max` that complete `prefix`
 * (beginning with it, not it, in some live row), the most frequent first, ties by code units:
 * the in-memory and the static index complete a word alike.
 */
export function bestCompletions(words: Iterable<readonly [string, number]>, prefix: string, max: number): string[] {
  const found = [...words].filter(([word, df]) => df > 0 && word !== prefix && word.startsWith(prefix));
  found.sort(mostFrequentFirst);
  return found.slice(0, max).map(([word]) => word);
}

/** Words with their document frequencies in the order completions take them: the most frequent first, ties by code units. */
export const mostFrequentFirst = (a: readonly [string, number], b: readonly [string, number]): number =>
  b[1] - a[1] || (a[0] < b[0] ? -1 : 1);

/** How many indexed words a word still being typed stands for (SearchOptions.prefix). */
export const MAX_COMPLETIONS = 16;

/** Rows an index needs before its document frequencies call a term common. */
const MIN_ROWS_FOR_COMMON = 20;

/**
 * Whether a term in `df` of `rows` rows is in more than half of them: a word to leave unmarked in
 * a hit (SearchHit's highlights). Below MIN_ROWS_FOR_COMMON rows nothing is, the counts saying too
 * little. The in-memory and the static index decide alike.
 */
export const isCommonTerm = (df: number, rows: number): boolean => rows >= MIN_ROWS_FOR_COMMON && df * 2 > rows;

/** Okapi BM25's usual constants (Lucene's defaults): term frequency saturation and length normalisation. */
const K1 = 1.2;
const B = 0.75;

/** BM25's inverse document frequency of a term in `df` of `n` rows (Lucene's form: never negative). */
export const bm25Idf = (df: number, n: number) => Math.log(1 + (n - df + 0.5) / (df + 0.5));

/** BM25's weight of a term occurring `tf` times in a row of `length` terms, the rows averaging `avgLength`. */
export const bm25Tf = (tf: number, length: number, avgLength: number) =>
  (tf * (K1 + 1)) / (tf + K1 * (1 - B + (B * length) / avgLength));

/** A term's postings: rows and term frequencies interleaved, and its document frequency. */
export interface TermPostings {
  entries: ArrayLike<number>;
  df: number;
}

/**
 * The k best rows in `mask` holding a query term, ranked by their BM25 sum over the terms (each with its
 * count in the query; absent postings score nothing). `lengthOf` gives a row's terms, negative
 * for a removed row. The in-memory and the static index score with it alike.
 */
export function bm25Rows(
  terms: Iterable<readonly [qtf: number, postings: TermPostings | null | undefined]>,
  k: number,
  rows: number,
  avgLength: number,
  lengthOf: (row: number) => number,
  mask: Uint32Array | null,
): Ranked {
  const scores = new Map<number, number>();
  for (const [qtf, p] of terms) {
    if (!p || p.df === 0) continue;
    const idf = bm25Idf(p.df, rows);
    const { entries } = p;
    for (let i = 0; i < entries.length; i += 2) {
      const row = entries[i] as number;
      const length = lengthOf(row);
      if (length < 0 || !isSet(mask, row)) continue;
      const s = qtf * idf * bm25Tf(entries[i + 1] as number, length, avgLength);
      scores.set(row, (scores.get(row) ?? 0) + s);
    }
  }
  return selectTop([...scores.values()], [...scores.keys()], k);
}

/** A text's terms with their counts, and how many terms it has. */
export function counts(text: string, ngrams: boolean, query = false): { tf: Map<string, number>; length: number } {
  const all = terms(text, ngrams, query);
  const tf = new Map<string, number>();
  for (const t of all) tf.set(t, (tf.get(t) ?? 0) + 1);
  return { tf, length: all.length };
}

/**
 * How much a correction's term weighs in a query (a query word counts 1): chosen on xquad-dev with
 * a typo in each query (`npm run bench -- lexical --keywords --typos`), where 0.5 gained as much
 * as 1 and cost nothing on the queries as written (docs/search.md).
 */
const CORRECTION_WEIGHT = 0.5;
/**
 * How much a translation's term weighs (lexicon.ts): chosen on xquad-dev questions against English
 * paragraphs with every lexicon as first built, before LibreOffice's text (`npm run bench --
 * lexical --lexicons`, R@1 / MRR@10): 1 57.8 / 66.3, 0.5 60.5 / 68.6, 0.3 60.1 / 68.4; a
 * translation's words and prefixes without its 4-grams 57.1 / 65.6.
 */
const TRANSLATION_WEIGHT = 0.5;

/**
 * A query's terms with their weights in BM25: its own, counted; then the terms of each of its
 * corrections (typos.ts) and translations (lexicon.ts), as the word would have given them, at
 * CORRECTION_WEIGHT and TRANSLATION_WEIGHT, those the query lacks. The in-memory and the static
 * index weigh a query alike.
 */
export function queryWeights(
  query: string,
  ngrams: boolean,
  corrections: readonly string[],
  translations: readonly string[] = [],
): Map<string, number> {
  const { tf } = counts(query, ngrams, true);
  for (const [words, weight] of [
    [corrections, CORRECTION_WEIGHT],
    [translations, TRANSLATION_WEIGHT],
  ] as const)
    for (const word of words) for (const term of terms(word, ngrams, true)) if (!tf.has(term)) tf.set(term, weight);
  return tf;
}

/**
 * How many times a document title's terms count in each of its chunks: BM25F's field weight in
 * its simplest form, the title repeated in every chunk (a weight of 2 to 3 for titles is the
 * usual setting in Lucene and Elasticsearch multi-field queries; no dev set here has titles to choose one).
 */
export const TITLE_WEIGHT = 2;

/** A row's terms and length: its chunk's, and its document's title's TITLE_WEIGHT times over. */
export function rowCounts(
  chunk: string,
  title: string | undefined,
  ngrams: boolean,
): { tf: Map<string, number>; length: number } {
  const row = counts(chunk, ngrams);
  if (!title) return row;
  const heading = counts(title, ngrams);
  for (const [term, n] of heading.tf) row.tf.set(term, (row.tf.get(term) ?? 0) + TITLE_WEIGHT * n);
  return { tf: row.tf, length: row.length + TITLE_WEIGHT * heading.length };
}

/**
 * BM25 over the rows (chunks) of a Collection, keyed by the same row numbers as the vectors, so
 * one row mask filters both rankers. It is derived from the chunk texts, which the index
 * persists anyway: it is built again in each session (Collection.lexical), never stored, and so can never
 * disagree with the vectors after an interrupted write.
 */
export class LexicalIndex {
  private readonly postings = new Map<string, Posting>();
  /** Terms per row; -1 for a removed row. */
  private lengths: number[] = [];
  private liveRows = 0;
  private liveLength = 0;
  /** The whole-word terms in code-unit order, for completions; null once a word was added or dropped. */
  private sortedWords: string[] | null = null;

  /** `ngrams`: index character 4-grams of words too (see terms()). */
  constructor(private readonly ngrams: boolean) {}

  /** Indexes a chunk's text as row `row`, with its document's title (rowCounts). */
  add(row: number, text: string, title?: string): void {
    const { tf, length } = rowCounts(text, title, this.ngrams);
    for (const [term, n] of tf) {
      let p = this.postings.get(term);
      if (!p) {
        p = { entries: [], df: 0 };
        this.postings.set(term, p);
        if (isWordTerm(term)) this.sortedWords = null;
      }
      p.entries.push(row, n);
      p.df++;
    }
    this.lengths[row] = length;
    this.liveRows++;
    this.liveLength += length;
  }

  /** Forgets a row added with `text` and `title` (the same: its terms are counted again, not stored). */
  remove(row: number, text: string, title?: string): void {
    for (const term of rowCounts(text, title, this.ngrams).tf.keys()) (this.postings.get(term) as Posting).df--;
    this.liveRows--;
    this.liveLength -= this.lengths[row] as number;
    this.lengths[row] = -1;
  }

  /** Renumbers rows after the Collection compacted its store (`map[old]` is the new row, or -1). */
  remap(map: Int32Array): void {
    for (const [term, p] of this.postings) {
      const entries: number[] = [];
      for (let i = 0; i < p.entries.length; i += 2) {
        const to = map[p.entries[i] as number] as number;
        if (to >= 0) entries.push(to, p.entries[i + 1] as number);
      }
      if (entries.length) p.entries = entries;
      else this.postings.delete(term);
    }
    this.sortedWords = null;
    const lengths: number[] = [];
    this.lengths.forEach((n, r) => {
      const to = map[r] as number;
      if (to >= 0) lengths[to] = n;
    });
    this.lengths = lengths;
  }

  /** Whether a live row holds `term`. */
  holds(term: string): boolean {
    return (this.postings.get(term)?.df ?? 0) > 0;
  }

  /** isCommonTerm over the live rows. */
  isCommon(term: string): boolean {
    return isCommonTerm(this.postings.get(term)?.df ?? 0, this.liveRows);
  }

  /**
   * The indexed words that `prefix` begins (itself left out), in the most live rows first, at
   * most `max`.
   */
  completions(prefix: string, max: number): string[] {
    return bestCompletions(this.wordsBeginning(prefix), prefix, max);
  }

  /**
   * The indexed whole words that begin with `prefix`, each with its document frequency. The
   * sorted word list is made on the first call after words changed.
   */
  private wordsBeginning(prefix: string): [string, number][] {
    this.sortedWords ??= [...this.postings.keys()].filter(isWordTerm).sort();
    return wordsBeginning(this.sortedWords, prefix).map((word) => [word, this.postings.get(word)?.df ?? 0]);
  }

  /**
   * The indexed words standing for the query's words that no live row holds (typos.ts), for
   * top(). With `prefix`, a last word still being typed is left to its completions where it
   * begins indexed words, and is measured against their beginnings where it begins none.
   */
  corrections(query: string, prefix = false): Corrections {
    const typed = prefix ? typedWord(query) : null;
    const out: Corrections = {};
    for (const word of correctable(query)) {
      if ((this.postings.get(word)?.df ?? 0) > 0 || (word === typed && this.completions(word, 1).length > 0)) continue;
      const found = corrections(word, this.wordsBeginning(correctionStem(word)), word === typed);
      if (found.length) out[word] = found;
    }
    return out;
  }

  clear(): void {
    this.sortedWords = null;
    this.postings.clear();
    this.lengths = [];
    this.liveRows = 0;
    this.liveLength = 0;
  }

  /** The live rows holding `term` (in their chunk or their document's title). */
  rowsWith(term: string): number[] {
    const entries = this.postings.get(term)?.entries ?? [];
    const rows: number[] = [];
    for (let i = 0; i < entries.length; i += 2)
      if ((this.lengths[entries[i] as number] as number) >= 0) rows.push(entries[i] as number);
    return rows;
  }

  /**
   * The k best live rows in `mask` (null: every live row) for `query`; rows sharing no term with
   * it are left out. `prefix`: the query's last word, still being typed, also stands for the
   * indexed words it begins (completions), each counted once; so do `corrections` (corrections())
   * and `translations` (lexicon.ts), as queryWeights weighs them.
   */
  top(
    query: string,
    k: number,
    mask: Uint32Array | null,
    prefix = false,
    corrections: readonly string[] = [],
    translations: readonly string[] = [],
  ): Ranked {
    if (this.liveRows === 0) return selectTop([], [], k);
    const tf = queryWeights(query, this.ngrams, corrections, translations);
    const typed = prefix ? typedWord(query) : null;
    for (const word of typed === null ? [] : this.completions(typed, MAX_COMPLETIONS)) if (!tf.has(word)) tf.set(word, 1);
    const weighed = [...tf].map(([term, qtf]) => [qtf, this.postings.get(term)] as const);
    return bm25Rows(weighed, k, this.liveRows, this.liveLength / this.liveRows, (row) => this.lengths[row] as number, mask);
  }
}
