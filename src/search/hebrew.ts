/**
 * The consonants of a Hebrew word in Latin letters, for sound keys ("ברלין" and "Berlin" share
 * "brl"): Hebrew, like Arabic, writes few vowels. ו and י are mostly vowel letters in names
 * ("וושינגטון", Washington), so they read as w and y, which keys drop; points (niqqud) add nothing.
 */

// biome-ignore format: a table reads better in rows
const CONSONANTS: Record<string, string> = {
  א: '', ב: 'b', ג: 'g', ד: 'd', ה: 'h', ו: 'w', ז: 'z', ח: 'kh', ט: 't', י: 'y', כ: 'k', ך: 'k', ל: 'l',
  מ: 'm', ם: 'm', נ: 'n', ן: 'n', ס: 's', ע: '', פ: 'p', ף: 'f', צ: 'ts', ץ: 'ts', ק: 'k', ר: 'r', ש: 'sh',
  ת: 't',
};
const HEBREW_WORD = /^\p{Script=Hebrew}+$/u;

/** A Hebrew word's consonants in Latin letters; null for a word in another script. */
export const hebrewConsonants = (word: string): string | null =>
  HEBREW_WORD.test(word) ? Array.from(word, (ch) => CONSONANTS[ch] ?? '').join('') : null;
