/**
 * Query translation for the lexical ranker: a query's words also look for their translations
 * (IndexOptions.lexicons), so a German question finds an English paragraph by its content words
 * and not only by the names the two share. Lexicons are word lists learned from open parallel
 * text (training/build_lexicons.ts; public/lexicons/<language>.json), each pairing a language's
 * words with English ones. They are read both ways: a word of the language gets its English
 * translations, an English word the words each lexicon pairs with it, so English questions
 * find pages in the lexicons' languages too. A word they lack is looked up by its nearest forms
 * (Lexicon.lookup): an inflection the parallel text never had. Which language a query or a page
 * is in is never asked: a translation that no indexed text holds scores nothing.
 */

import { InputError, typeName } from '../errors.js';
import { withoutArticle, withoutProclitic } from './arabic.js';
import { wordsBeginning } from './sorted-words.js';
import { foldedWords, foldWord, UNSPACED } from './terms.js';

/**
 * Letters a word keeps when the lexicons lack it and a form of its beginning is looked for
 * (Lexicon.lookup): at least this many, and at least half, a longer word's suffixes perhaps
 * chained (Turkish "kaydetmiştir", "has recorded").
 */
const MIN_STEM = 4;
/** Letters a form of a missing word may have beyond it (an ending longer than the word's). */
const MAX_LONGER = 3;
/** Forms of a word taken when it is missing: the nearest, by shared beginning and then length. */
const MAX_FORMS = 2;

/** Lexicon files of another format were folded another way (terms.ts) and are refused. */
export const LEXICON_FORMAT = 1;

/** One lexicon file (public/lexicons/<language>.json): folded words of `language` with their `to` translations, best first. */
export interface LexiconData {
  format: number;
  language: string;
  to: string;
  words: Record<string, string[]>;
}

/** Throws InputError naming what is wrong with `data` as IndexOptions.lexicons. */
function checkLexicon(data: unknown, at: number): asserts data is LexiconData {
  const where = `lexicons[${at}]`;
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw new InputError(`${where} must be a lexicon file's object (fetchLexicons), got ${typeName(data)}`);
  const d = data as Partial<LexiconData>;
  if (d.format !== LEXICON_FORMAT)
    throw new InputError(
      `${where} has format ${JSON.stringify(d.format)}; this version reads format ${LEXICON_FORMAT} (rebuild it with training/build_lexicons.ts)`,
    );
  if (typeof d.language !== 'string' || typeof d.to !== 'string')
    throw new InputError(`${where} must name its language and the language it translates to`);
  if (typeof d.words !== 'object' || d.words === null || Array.isArray(d.words))
    throw new InputError(`${where} (${d.language}) must hold words: an object of words to arrays of translations`);
  for (const [word, translations] of Object.entries(d.words)) {
    if (!Array.isArray(translations) || translations.some((t) => typeof t !== 'string'))
      throw new InputError(`${where} (${d.language}): the translations of "${word}" must be an array of strings`);
  }
}

export class Lexicon {
  private readonly pairs = new Map<string, string[]>();
  /** The paired words in code-unit order, for words the lexicons hold only other forms of; made on first need. */
  private sorted: string[] | null = null;

  /** Checks each lexicon (InputError) and reads them all both ways. */
  constructor(lexicons: unknown) {
    if (!Array.isArray(lexicons))
      throw new InputError(`lexicons must be an array of lexicon files (fetchLexicons), got ${typeName(lexicons)}`);
    lexicons.forEach(checkLexicon);
    const add = (from: string, to: string) => {
      const known = this.pairs.get(from);
      if (!known) this.pairs.set(from, [to]);
      else if (!known.includes(to)) known.push(to);
    };
    // Folded as query words are and without the Arabic article, as lookup reads them (the files
    // are, by build_lexicons.ts; a hand-made one may not be).
    for (const lexicon of lexicons as LexiconData[])
      for (const [word, translations] of Object.entries(lexicon.words)) {
        const from = withoutArticle(foldWord(word));
        for (const translation of translations) {
          const to = foldWord(translation);
          add(from, to);
          add(to, from);
        }
      }
  }

  /** The folded words of `query` that lexicons translate, alone or with a neighbour (pairAt), each once. */
  translatable(query: string): string[] {
    const words = foldedWords(query);
    const paired = new Set(words.flatMap((word, i) => (this.pairAt(words, i) ? [word, words[i + 1] as string] : [])));
    return [...new Set(words)].filter((word) => paired.has(word) || this.lookup(word).length > 0);
  }

  /**
   * Words `i` and `i + 1` as one lexicon word, with its translations where lexicons pair it:
   * Vietnamese writes a space between the syllables of a word ("trận đấu", match), and its
   * lexicon pairs such words (build_lexicons.ts, SYLLABLE_WORDS); the pair is looked up before
   * its syllables.
   */
  private pairAt(words: readonly string[], i: number): { key: string; translations: string[] } | undefined {
    if (i + 1 >= words.length) return undefined;
    const key = `${words[i]} ${words[i + 1]}`;
    const translations = this.pairs.get(key);
    return translations && { key, translations };
  }

  /**
   * A folded word's translations; for a word the lexicons lack, those of the nearest forms they
   * hold: the word without the Arabic article or a one-letter proclitic ("وفاز", "and won"), or
   * the shortest forms beginning as the word does less one letter, two, and so on while MIN_STEM
   * allows ("карьеру" finds "карьера", "intercepciones" "intercepción", "kaydetmiştir"
   * "kaydetmek"). Lexicons list the forms their parallel text happened to hold, and a question
   * inflects its words.
   */
  private lookup(word: string): string[] {
    const stem = withoutArticle(word);
    const clitic = withoutProclitic(stem);
    const exact = this.pairs.get(stem) ?? (clitic === null ? undefined : this.pairs.get(clitic));
    // Words of scripts written without spaces are the Segmenter's dictionary words: their ends are not inflections.
    if (exact || UNSPACED.test(word)) return exact ?? [];
    const letters = [...stem];
    for (let cut = 1; cut <= Math.min(letters.length >> 1, letters.length - MIN_STEM); cut++) {
      const forms = this.formsBeginning(letters.slice(0, letters.length - cut).join(''), letters.length + MAX_LONGER);
      if (forms.length) return [...new Set(forms.flatMap((form) => this.pairs.get(form) as string[]))];
    }
    return [];
  }

  /** The at most MAX_FORMS shortest paired words that begin with `stem` and have at most `maxLength` letters. */
  private formsBeginning(stem: string, maxLength: number): string[] {
    this.sorted ??= [...this.pairs.keys()].sort();
    return wordsBeginning(this.sorted, stem)
      .filter((word) => [...word].length <= maxLength)
      .sort((a, b) => a.length - b.length)
      .slice(0, MAX_FORMS);
  }

  /**
   * Each of `query`'s words that no indexed text holds (`held` says) with its translations, none
   * the query holds itself. A word the pages hold is in their language already: translating
   * it too would only add noise (xquad-dev, BM25 R@1 monolingual 93.0% with every word
   * translated, 94.4% as without lexicons).
   */
  byWord(query: string, held: (word: string) => boolean): Record<string, string[]> {
    const words = foldedWords(query);
    const own = new Set(words);
    const out: Record<string, string[]> = {};
    const looked = new Set<string>();
    const add = (key: string, found: string[]) => {
      const fresh = found.filter((t) => !own.has(t));
      if (fresh.length) out[key] = fresh;
    };
    for (let i = 0; i < words.length; i++) {
      const word = words[i] as string;
      const pair = this.pairAt(words, i);
      if (pair && !held(word) && !held(words[i + 1] as string)) {
        add(pair.key, pair.translations);
        i++;
      } else if (!looked.has(word) && !held(word)) {
        looked.add(word);
        add(word, this.lookup(word));
      }
    }
    return out;
  }

  /** The translations byWord finds, each once: what the lexical ranker also looks for. */
  translations(query: string, held: (word: string) => boolean): string[] {
    return [...new Set(Object.values(this.byWord(query, held)).flat())];
  }
}

/**
 * The lexicons of `languages` from the folder `base` serves (public/lexicons as `npm start` and
 * a site copying it serve it: `<base><language>.json`), for IndexOptions.lexicons. Fails with an
 * InputError naming a language the folder lacks.
 */
export async function fetchLexicons(base: string | URL, languages: readonly string[]): Promise<LexiconData[]> {
  const folder = String(base).endsWith('/') ? String(base) : `${base}/`;
  return Promise.all(
    languages.map(async (language) => {
      const url = `${folder}${language}.json`;
      const response = await fetch(url);
      if (!response.ok) throw new InputError(`no lexicon for "${language}" at ${url} (HTTP ${response.status})`);
      return (await response.json()) as LexiconData;
    }),
  );
}
