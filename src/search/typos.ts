/**
 * Typo tolerance for the lexical ranker: a query word that no indexed row holds stands for the
 * indexed words nearest it in spelling, as search boxes correct "recieve" to "receive". The
 * in-memory and the static index correct alike: candidates share the word's first two letters
 * (the group a static index's word list is sharded by, and where typos are rarer), lie within
 * the edits its length allows (editsAllowed), and the nearest win, the most frequent first.
 */

import { isWordTerm, terms } from './terms.js';

/** Letters a word needs before it may be off by one edit, and by two (Algolia's defaults, 4 and 8). */
const ONE_EDIT = 4;
const TWO_EDITS = 8;
/** Corrections one query word may stand for. */
export const MAX_CORRECTIONS = 3;

/**
 * Scripts whose characters are syllables or morphemes: a typing error there is a wrong character
 * picked from an input method, not an edit of letters, and a word one character off is another
 * word. (xquad-dev cannot show it: the segmenter gives its Chinese words of 4 characters rarely.)
 */
const SYLLABIC = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;

/** Numbers, codes and versions are not misspelt words: "2015" must not find "2016". */
const DIGIT = /\p{N}/u;

/**
 * Query words an index checks for typos, at most: more than a search box is ever sent, few enough
 * that a pasted page as a query costs no more than a sentence.
 */
export const MAX_CHECKED_WORDS = 32;

/** The query's distinct whole words long enough to correct, in order, the first MAX_CHECKED_WORDS: those an index checks for. */
export const correctable = (query: string): string[] =>
  [...new Set(terms(query, false, true).filter(isWordTerm))]
    .filter((word) => editsAllowed([...word].length) > 0 && !SYLLABIC.test(word) && !DIGIT.test(word))
    .slice(0, MAX_CHECKED_WORDS);

/** How many edits a word of `letters` letters may be off by. */
export const editsAllowed = (letters: number): number => (letters >= TWO_EDITS ? 2 : letters >= ONE_EDIT ? 1 : 0);

/** The letters a correction of `word` keeps: its first two (code points). */
export const correctionStem = (word: string): string => [...word].slice(0, 2).join('');

/**
 * Optimal string alignment distance (Levenshtein's edits and a swap of neighbours, each 1)
 * between `a` and `b`, code points, or `max` + 1 wherever it exceeds `max`.
 */
export function editDistance(a: readonly string[], b: readonly string[], max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let before = new Array<number>(b.length + 1).fill(0);
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = new Array<number>(b.length + 1);
    row[0] = i;
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, (before[j - 2] as number) + 1);
      row[j] = d;
      best = Math.min(best, d);
    }
    if (best > max) return max + 1;
    before = prev;
    prev = row;
  }
  return Math.min(prev[b.length] as number, max + 1);
}

/**
 * The distance of `typed`, a word still being typed, from the beginnings of `other`: the least
 * over the beginnings as long as it give or take `max` letters (all of `other` among them where
 * it is that short), so "recie" is one edit from "receive" (its "recei").
 */
function beginningDistance(typed: readonly string[], other: readonly string[], max: number): number {
  let best = max + 1;
  const longest = Math.min(other.length, typed.length + max);
  for (let n = Math.max(0, typed.length - max); n <= longest; n++)
    best = Math.min(best, editDistance(typed, other.slice(0, n), Math.min(max, best)));
  return best;
}

/**
 * The words among `candidates` (indexed words with their document frequencies) nearest `word`
 * within the edits its length allows, the most frequent first, at most MAX_CORRECTIONS; none
 * for a word too short to correct. `word` itself is no correction. `begun`: `word` is still being
 * typed (SearchOptions.prefix), and is measured against the candidates' beginnings.
 */
export function corrections(word: string, candidates: Iterable<readonly [string, number]>, begun = false): string[] {
  const letters = [...word];
  const allowed = editsAllowed(letters.length);
  if (allowed === 0) return [];
  const stem = correctionStem(word);
  const distance = begun ? beginningDistance : editDistance;
  let nearest = allowed;
  let found: (readonly [string, number])[] = [];
  for (const c of candidates) {
    const [other, df] = c;
    if (df === 0 || other === word || !other.startsWith(stem)) continue;
    const d = distance(letters, [...other], nearest);
    if (d > nearest) continue;
    if (d < nearest) {
      nearest = d;
      found = [];
    }
    found.push(c);
  }
  found.sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1));
  return found.slice(0, MAX_CORRECTIONS).map(([w]) => w);
}

/** Each misspelt query word with the indexed words it stands for (VectorIndex.corrections). */
export type Corrections = Record<string, string[]>;

/** The corrected words of a Corrections, for ranking and highlights. */
export const correctedWords = (c: Corrections): string[] => Object.values(c).flat();
