import { typedWord, wordSpans } from './terms.js';

/** A run of a chunk's text to mark, [start, end) in UTF-16 code units. */
export type Highlight = [start: number, end: number];

/** What a hit's marks follow besides the query's words. */
export interface HighlightOptions {
  /** Query terms too frequent to be worth marking ("the", "de"), from an index's own statistics where it has them. */
  common?: (term: string) => boolean;
  /** SearchOptions.prefix: the query's last word, still being typed, also marks the words it begins. */
  prefix?: boolean;
  /**
   * Words the lexical ranker also looked for, the corrections of misspelt query words (typos.ts)
   * and the translations of its words (lexicon.ts): marked as the query's own, unless common.
   */
  also?: readonly string[];
}

/**
 * Where `text` holds the words of `query`, in order: each word sharing its folded form or a
 * prefix term with a query word, as the lexical ranker matches them ("Café" for "cafe",
 * "Verteidigungen" for "Verteidigung", "Берлин" for "Berlin").
 */
export function highlights(query: string, text: string, how: HighlightOptions = {}): Highlight[] {
  const wanted = new Set<string>(how.also?.filter((w) => !how.common?.(w)));
  for (const word of wordSpans(query, true)) for (const t of word.terms) if (!how.common?.(t)) wanted.add(t);
  const typed = how.prefix ? typedWord(query) : null;
  if (wanted.size === 0 && typed === null) return [];
  const out: Highlight[] = [];
  for (const word of wordSpans(text)) {
    const begun = typed !== null && (word.terms[0] as string).startsWith(typed);
    if (begun || word.terms.some((t) => wanted.has(t))) out.push([word.start, word.end]);
  }
  return out;
}
