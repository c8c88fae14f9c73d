/**
 * Text to search terms for the lexical ranker, in any language: words by Unicode word
 * segmentation (`Intl.Segmenter`, whose dictionaries split Chinese, Japanese and Thai, written
 * without spaces), case-folded, with accents folded where the script treats them as marks on a
 * base letter (Latin, Greek, Cyrillic: "café" and "cafe" match, as users type them). Marks are
 * kept in scripts where they are letters' vowels (Devanagari, Thai, Arabic...): folding them
 * would merge different words.
 *
 * Each word longer than PREFIX letters also yields its first PREFIX letters as a second term, a
 * language-blind stand-in for stemming: inflected forms ("Verteidigung", "Verteidigungen";
 * "защиты", "защита") share it. On xquad-dev it raises lexical R@1 over whole words alone
 * (bench/hybrid.ts; docs/search.md).
 */

const PREFIX = 5;
/** Prefix terms live in their own namespace so that a 5-letter word and a prefix never collide. */
const PREFIX_MARK = '\u0001';
const FOLDED_MARKS = /([\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}])\p{M}+/gu;

let segmenter: Intl.Segmenter | undefined;

function fold(word: string): string {
  return word.normalize('NFKC').toLowerCase().normalize('NFD').replace(FOLDED_MARKS, '$1').normalize('NFC');
}

/** The terms of `text`, in order, with repeats (term frequency counts them). */
export function terms(text: string): string[] {
  segmenter ??= new Intl.Segmenter(undefined, { granularity: 'word' });
  const out: string[] = [];
  for (const s of segmenter.segment(text)) {
    if (!s.isWordLike) continue;
    const word = fold(s.segment);
    out.push(word);
    const letters = [...word];
    if (letters.length > PREFIX) out.push(PREFIX_MARK + letters.slice(0, PREFIX).join(''));
  }
  return out;
}
