/**
 * Text to search terms for the lexical ranker, in any language: words by Unicode word
 * segmentation (`Intl.Segmenter`, whose dictionaries split Chinese, Japanese and Thai, written
 * without spaces; a regular expression of the same rule for text in other scripts), case-folded,
 * with accents folded where the script treats them as marks on a base letter (Latin, Greek,
 * Cyrillic: "café" and "cafe" match, as users type them). Marks are kept in scripts where they
 * are letters' vowels (Devanagari, Thai, Arabic...), and on Vietnamese words, where they are
 * tones: folding them would merge different words.
 *
 * Each word longer than PREFIX letters also yields its first PREFIX letters as a second term, a
 * language-blind stand-in for stemming: inflected forms ("Verteidigung", "Verteidigungen";
 * "защиты", "защита") share it. A Cyrillic, Greek or Indian-script word also yields the prefix of
 * its Latin spelling (romanize.ts), so "Берлин" meets "Berlin": questions against English
 * paragraphs R@1 16.3% -> 40.0% in Russian, 29.0% -> 39.9% in Greek, 13.0% -> 26.7% in Hindi.
 * Every word with three consonants also yields a sound key (sound-key.ts: "Berlin", "Берлин"
 * and "برلين" share "brl"; "defensa" and "defense" share "dfn"): questions against English
 * paragraphs 36.4% -> 40.1% (Spanish 44.3% -> 57.9%, Arabic 8.4% -> 11.9%), monolingual
 * 92.3% -> 92.4% (Arabic +1.3, Spanish -0.9); read across the syllables of Thai, Chinese and
 * Japanese names (runKeys), Arabic words' without the article, 44.1% -> 45.9% (Arabic 13.4% ->
 * 19.5%, Thai 13.8% -> 19.6%, Chinese 14.2% -> 18.5%). Arabic words are folded as search
 * engines fold them (arabic.ts: optional marks dropped, alef, yeh and teh marbuta variants as
 * one). With `ngrams` (an index's default), each word also yields its character 4-grams (with
 * word boundaries), which match inflections, cognates across languages and typos, at about 2.2
 * times the postings. xquad-dev, lexical R@1 mean over 12
 * languages (docs/search.md; `npm run bench -- lexical`): whole words 88.9% monolingual / 24.3%
 * against English paragraphs; with 4-letter prefixes 92.2% / 32.0%; with the romanized prefixes
 * and sound keys 92.4% / 40.1%; with 4-grams too 93.7% / 43.5%.
 */

import { normalizeArabic } from './arabic.js';
import { romanize } from './romanize.js';
import { runKeys, soundKeys } from './sound-key.js';
import { windowedSegments } from './text-windows.js';

const PREFIX = 4;
const NGRAM = 4;
/** Prefix, n-gram and sound-key terms live in namespaces of their own, apart from whole words. */
const PREFIX_MARK = '\u0001';
const NGRAM_MARK = '\u0002';
const SOUND_MARK = '\u0003';
const BARE_MARK = '\u0004';
const FOLDED_MARKS = /([\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}])\p{M}+/gu;
const ARABIC = /\p{Script=Arabic}/u;
/**
 * Letters Vietnamese writes: its tone marks on other vowels (Latin Extended Additional), and ă,
 * ơ, ư, đ. Romanian writes ă too: its words with one keep their marks the same way (xquad-dev,
 * Romanian questions against English paragraphs 74.8% -> 75.2% R@1, monolingual unchanged).
 */
const VIETNAMESE = /[\u1ea0-\u1ef9ăơưđ]/u;
const LATIN_WORD = /^\p{Script=Latin}+$/u;
const KANA = /[\p{Script=Hiragana}\p{Script=Katakana}]/u;

/** Scripts written without spaces between words: only a dictionary (the Segmenter's) can split them. */
export const UNSPACED =
  /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;
/**
 * Words elsewhere, as the Segmenter's word rule (UAX #29) splits them in practice: letters,
 * marks and digits, joined across an inner apostrophe or full stop ("don't", "3.14").
 * Several times faster than the Segmenter, which matters when an index of 100,000 passages
 * builds its postings on load.
 */
const SPACED_WORD = /[\p{L}\p{M}\p{N}]+(?:['’.][\p{L}\p{M}\p{N}]+)*/gu;
/**
 * A Latin-script word joined across an apostrophe, read as the words on either side: a name with
 * its Turkish case ending ("Panthers'ın", "Denver'a"), an English possessive ("Denver's"), a
 * French or Italian elision ("l'équipe", "dell'anno"), a Dutch or Polish ending ("agenda's",
 * "Assange'a") meet the bare word, as Lucene's apostrophe, possessive and elision filters let
 * them. Other scripts write the apostrophe as a letter (Ukrainian "від'ємне", Hebrew "ג'ון").
 * xquad-dev, lexical R@1: Turkish 92.4% -> 93.7% monolingual, 70.4% -> 71.0% against English
 * (the lexicons rebuilt with the split words).
 */
const LATIN_APOSTROPHE_WORD = /^[\p{Script=Latin}\p{M}\p{N}.]+(?:['’][\p{Script=Latin}\p{M}\p{N}.]+)+$/u;
const APOSTROPHE_PART = /[^'’]+/g;
const FOLD_CACHE_SIZE = 50_000;

let segmenter: Intl.Segmenter | undefined;
/** Folded words: text repeats its words (Zipf), and folding is the costly part per word. */
const folded = new Map<string, string>();
/** A folded word's companion terms, for the same reason. */
const companionCache = new Map<string, string[]>();
/** A Vietnamese word's letters without its marks, for the same reason (bareTerm). */
const bareTerms = new Map<string, string>();

const ASCII = /^[\0-\x7f]*$/;

/** Decimal digits that NFKC leaves alone: Arabic-Indic, Persian, Devanagari, Thai, ... */
const NATIVE_DIGIT = /(?![0-9])\p{Nd}/gu;
const IS_DIGIT = /^\p{Nd}$/u;

/**
 * A script's decimal digit as the ASCII one: "١٩٩٥", "۱۹۹۵", "१९९५" and "๑๙๙๕" are all 1995 to a
 * reader, and years, counts and numbers in names are what a query shares across scripts. Unicode
 * lays each script's digits out as a run of ten from its zero.
 */
function asciiDigit(digit: string): string {
  const cp = digit.codePointAt(0) as number;
  let zero = cp;
  while (IS_DIGIT.test(String.fromCodePoint(zero - 1))) zero--;
  return String((cp - zero) % 10);
}

const withoutMarks = (word: string) => word.normalize('NFD').replace(FOLDED_MARKS, '$1').normalize('NFC');

/**
 * A word as the index keeps it. Vietnamese words keep their marks: its tones tell words apart
 * ("ma", "mà", "má", "mả", "mã", "mạ" are six words), and folded they meet other languages' words
 * ("thế" and "the", "tên" and "ten"); bareTerm lets a query typed without them find them.
 */
function fold(word: string): string {
  // Normalisation leaves ASCII as it is.
  if (ASCII.test(word)) return word.toLowerCase();
  let f = folded.get(word);
  if (f === undefined) {
    f = foldWord(word);
    if (folded.size >= FOLD_CACHE_SIZE) folded.clear();
    folded.set(word, f);
  }
  return f;
}

/** One word folded as terms() folds its words, without the cache: for word lists read once (lexicon.ts). */
export function foldWord(word: string): string {
  if (ASCII.test(word)) return word.toLowerCase();
  const lower = word.normalize('NFKC').toLowerCase();
  const f = (VIETNAMESE.test(lower) ? lower : withoutMarks(lower)).replace(NATIVE_DIGIT, asciiDigit);
  return ARABIC.test(f) ? normalizeArabic(f) : f;
}

const HAS_APOSTROPHE = /['’]/;

/** `word` at `index`, or its parts where it is a Latin word joined across apostrophes (LATIN_APOSTROPHE_WORD). */
function* parts(word: string, index: number): Iterable<{ word: string; index: number }> {
  if (!LATIN_APOSTROPHE_WORD.test(word)) yield { word, index };
  else for (const m of word.matchAll(APOSTROPHE_PART)) yield { word: m[0], index: index + m.index };
}

/** The words of `text` and where each starts (UTF-16 offsets). */
function* words(text: string): Iterable<{ word: string; index: number }> {
  if (!UNSPACED.test(text)) {
    for (const m of text.matchAll(SPACED_WORD))
      if (HAS_APOSTROPHE.test(m[0])) yield* parts(m[0], m.index);
      else yield { word: m[0], index: m.index };
    return;
  }
  segmenter ??= new Intl.Segmenter(undefined, { granularity: 'word' });
  for (const s of windowedSegments(text, segmenter)) {
    if (!s.isWordLike) continue;
    if (HAS_APOSTROPHE.test(s.segment)) yield* parts(s.segment, s.index);
    else yield { word: s.segment, index: s.index };
  }
}

/** A folded word's prefix, romanized prefix and sound key terms, those it has. */
function companions(word: string): string[] {
  let c = companionCache.get(word);
  if (c !== undefined) return c;
  c = [];
  const letters = [...word];
  if (letters.length > PREFIX) c.push(PREFIX_MARK + letters.slice(0, PREFIX).join(''));
  // A Cyrillic, Greek or Devanagari word's Latin spelling joins the prefix terms: enough to meet
  // a name spelled in Latin letters, without a second whole word in the word's own language.
  const latin = romanize(word);
  if (latin !== null && latin.length > PREFIX) c.push(PREFIX_MARK + latin.slice(0, PREFIX));
  for (const key of soundKeys(word)) c.push(SOUND_MARK + key);
  if (companionCache.size >= FOLD_CACHE_SIZE) companionCache.clear();
  companionCache.set(word, c);
  return c;
}

/**
 * The term that lets words with and without Vietnamese marks meet: a document's Vietnamese word
 * adds its letters without marks, and a query's word of plain Latin letters looks for them, so
 * "Ha Noi" finds "Hà Nội" while "Hà Nội" finds only itself (and no "the" for "thế"). Null for
 * other words.
 */
function bareTerm(word: string, query: boolean): string | null {
  if (query) return LATIN_WORD.test(word) && !VIETNAMESE.test(word) ? BARE_MARK + word : null;
  if (!VIETNAMESE.test(word)) return null;
  let bare = bareTerms.get(word);
  if (bare === undefined) {
    bare = BARE_MARK + withoutMarks(word);
    if (bareTerms.size >= FOLD_CACHE_SIZE) bareTerms.clear();
    bareTerms.set(word, bare);
  }
  return bare;
}

/**
 * The terms of `text`, in order, with repeats (term frequency counts them); `query`: the text is
 * a query (bareTerm).
 */
export function terms(text: string, ngrams = false, query = false): string[] {
  const out: string[] = [];
  const list = [...words(text)];
  const keys = UNSPACED.test(text) ? runKeys(list, !KANA.test(text)) : [];
  list.forEach(({ word: raw }, i) => {
    const word = fold(raw);
    out.push(word);
    out.push(...companions(word));
    const bare = bareTerm(word, query);
    if (bare !== null) out.push(bare);
    for (const key of keys[i] ?? []) out.push(SOUND_MARK + key);
    if (!ngrams) return;
    const padded = [' ', ...word, ' '];
    for (let j = 0; j + NGRAM <= padded.length; j++) out.push(NGRAM_MARK + padded.slice(j, j + NGRAM).join(''));
  });
  return out;
}

/**
 * Each word of `text` with where it is and the terms that name it closely: the folded word, its
 * prefixes (its own, and its Latin spelling's) and its bare term, not its sound key, which also
 * joins words that merely sound alike. `query`: as terms().
 */
export function* wordSpans(text: string, query = false): Iterable<{ start: number; end: number; terms: string[] }> {
  for (const { word: raw, index } of words(text)) {
    const word = fold(raw);
    const bare = bareTerm(word, query);
    yield {
      start: index,
      end: index + raw.length,
      terms: [word, ...companions(word).filter((t) => !t.startsWith(SOUND_MARK)), ...(bare === null ? [] : [bare])],
    };
  }
}

/** The folded words of `text`, in order: its whole-word terms, as a phrase compares them. */
export const foldedWords = (text: string): string[] => Array.from(words(text), (w) => fold(w.word));

/** Whether a term is a whole word (not a prefix, n-gram, sound-key or bare term). */
export const isWordTerm = (term: string): boolean => term.charCodeAt(0) > 4;

/** The folded last word of `query` where the query ends with it (a word still being typed), else null. */
export function typedWord(query: string): string | null {
  let last: { end: number; terms: string[] } | null = null;
  for (const word of wordSpans(query)) last = word;
  return last && last.end === query.length ? (last.terms[0] as string) : null;
}
