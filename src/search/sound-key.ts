import { arabicConsonants, withoutArticle } from './arabic.js';
import { romanize } from './romanize.js';
import { type Syllabary, syllableLatin } from './syllable-scripts.js';

/** Consonants in a key: enough to tell most names apart, few enough to survive spelling. */
const KEY_CONSONANTS = 3;
const LATIN_WORD = /^[a-z]+$/;

/**
 * Spellings of one sound in the languages' romanisations and loanwords, merged (Soundex's idea):
 * digraphs to a letter, v with f, p with b (Arabic has no p), c, q and k, x as the "ks" it says,
 * j with g (English writes the sound of ج, ज and จ with either: "George", "general"). Vowels, h,
 * w, y and apostrophes go: scripts disagree most on vowels, and Arabic writes short ones not at all.
 */
function consonants(latin: string): string {
  return latin
    .replace(/shch|sh|ch|kh|zh/g, (d) => (d === 'zh' ? 'j' : d === 'kh' ? 'k' : d === 'ch' ? 'k' : 's'))
    .replace(/th/g, 't')
    .replace(/ph/g, 'f')
    .replace(/[aeiouyhw']/g, '')
    .replace(/v/g, 'f')
    .replace(/p/g, 'b')
    .replace(/x/g, 'ks')
    .replace(/[cq]/g, 'k')
    .replace(/j/g, 'g')
    .replace(/(.)\1+/g, '$1');
}

/** The first KEY_CONSONANTS consonants of a Latin spelling, or null where it has fewer. */
function keyOf(latin: string): string | null {
  const key = consonants(latin);
  return key.length >= KEY_CONSONANTS ? key.slice(0, KEY_CONSONANTS) : null;
}

/**
 * A folded word's sound key: the first three consonants of its Latin spelling, for words in
 * Latin, Cyrillic, Greek, Devanagari and Arabic letters (the Arabic article left out); null for
 * a word with fewer (or in another script). Words that sound alike across languages and scripts
 * share it: "Berlin", "Берлин", "برلين" (brl); "Denver", "डेनवर", "Денвер" (dnf); "defensa",
 * "defense" (dfn).
 */
export function soundKey(word: string): string | null {
  const latin = LATIN_WORD.test(word) ? word : (romanize(word) ?? arabicConsonants(withoutArticle(word)));
  return latin === null ? null : keyOf(latin);
}

/** Words of a text in order, with where each starts. */
interface Placed {
  word: string;
  index: number;
}

/** Syllables read ahead for a key: a name longer than this has its consonants by then. */
const RUN = 6;

/**
 * Sound keys of Thai and Chinese words, read across the words that follow without a gap: the
 * Segmenter splits a foreign name it does not know into syllables ("แพน|เธอ|ร์ส", Panthers) or
 * characters ("培|顿", Peyton), so each such word gets the key of the consonants from it on
 * ("bnt" at "แพน"). Every syllable of a Thai text yields one, mostly of no name: rare keys weigh
 * in BM25, common ones hardly. Chinese writes the English r and l alike (罗, 拉), so a Chinese run
 * with an l also yields its key with r. `han: false` for Japanese text, whose kanji are not
 * names' sounds. xquad-dev questions against English paragraphs, BM25 R@1: Thai 13.8% -> 19.6%,
 * Chinese 14.2% -> 18.5%.
 */
export function runKeys(words: readonly Placed[], han: boolean): (string[] | undefined)[] {
  const spelled = words.map((w) => {
    const s = syllableLatin(w.word);
    return s === null || (s.script === 'han' && !han) ? null : s;
  });
  const adjacent = (j: number) => {
    const before = words[j - 1] as Placed;
    return (words[j] as Placed).index === before.index + before.word.length;
  };
  return spelled.map((first, i) => {
    if (first === null) return undefined;
    let latin = first.latin;
    for (let j = i + 1; j < Math.min(words.length, i + RUN) && spelled[j] && adjacent(j); j++)
      latin += (spelled[j] as { latin: string }).latin;
    return keysOf(latin, first.script);
  });
}

function keysOf(latin: string, script: Syllabary): string[] | undefined {
  const keys = [keyOf(latin), script === 'han' && latin.includes('l') ? keyOf(latin.replace(/l/g, 'r')) : null];
  const found = [...new Set(keys.filter((k) => k !== null))];
  return found.length > 0 ? found : undefined;
}
