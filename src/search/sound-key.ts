import { arabicConsonants, romanize } from './romanize.js';

/** Consonants in a key: enough to tell most names apart, few enough to survive spelling. */
const KEY_CONSONANTS = 3;
const LATIN_WORD = /^[a-z]+$/;

/**
 * Spellings of one sound in the languages' romanisations and loanwords, merged (Soundex's idea):
 * digraphs to a letter, v with f, p with b (Arabic has no p), c, q and x with k. Vowels, h, w, y
 * and apostrophes go: scripts disagree most on vowels, and Arabic writes short ones not at all.
 */
function consonants(latin: string): string {
  return latin
    .replace(/shch|sh|ch|kh|zh/g, (d) => (d === 'zh' ? 'j' : d === 'kh' ? 'k' : d === 'ch' ? 'k' : 's'))
    .replace(/th/g, 't')
    .replace(/ph/g, 'f')
    .replace(/[aeiouyhw']/g, '')
    .replace(/v/g, 'f')
    .replace(/p/g, 'b')
    .replace(/[cqx]/g, 'k')
    .replace(/(.)\1+/g, '$1');
}

/**
 * A folded word's sound key: the first three consonants of its Latin spelling, for words in
 * Latin, Cyrillic, Greek, Devanagari and Arabic letters; null for a word with fewer (or in
 * another script). Words that sound alike across languages and scripts share it: "Berlin",
 * "Берлин", "برلين" (brl); "Denver", "डेनवर", "Денвер" (dnf); "defensa", "defense" (dfn).
 */
export function soundKey(word: string): string | null {
  const latin = LATIN_WORD.test(word) ? word : (romanize(word) ?? arabicConsonants(word));
  if (latin === null) return null;
  const key = consonants(latin);
  return key.length >= KEY_CONSONANTS ? key.slice(0, KEY_CONSONANTS) : null;
}
