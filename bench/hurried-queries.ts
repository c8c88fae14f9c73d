/**
 * Questions as a hurried user types them into a search box. `keywords`: only the question's
 * longest words, the content words a search box gets. `midWord`: the query while its last word is
 * still being typed. `misspell`: one typo in each question that has a word of
 * MIN_LETTERS letters or more (one such word, chosen at random), made by one of the four edits
 * spelling correctors count (a letter dropped, doubled or swapped with its neighbour, or replaced
 * by another of the word's letters, so the script stays the same), anywhere in the word. Seeded:
 * every run and every ranker sees the same typos.
 */

const MIN_LETTERS = 5;
/** Letters with their marks: a Devanagari or Thai word's vowel signs are part of it. */
const LONG_WORD = new RegExp(`[\\p{L}\\p{M}]{${MIN_LETTERS},}`, 'gu');

function edit(word: string[], rand: () => number): string[] {
  const pick = (n: number) => Math.floor(rand() * n);
  const at = pick(word.length);
  const w = [...word];
  switch (pick(4)) {
    case 0:
      w.splice(at, 1);
      return w;
    case 1:
      w.splice(at, 0, w[at] as string);
      return w;
    case 2: {
      const i = Math.min(at, w.length - 2);
      [w[i], w[i + 1]] = [w[i + 1] as string, w[i] as string];
      // Swapping a double letter changes nothing: drop one instead.
      if (w[i] === w[i + 1]) w.splice(i, 1);
      return w;
    }
    default: {
      const others = word.filter((c) => c !== word[at]);
      if (others.length === 0) w.splice(at, 1);
      else w[at] = others[pick(others.length)] as string;
      return w;
    }
  }
}

/** `text` with one typo, or unchanged where it has no word long enough. */
export function misspell(text: string, rand: () => number): string {
  const words = [...text.matchAll(LONG_WORD)];
  if (words.length === 0) return text;
  const m = words[Math.floor(rand() * words.length)] as RegExpMatchArray;
  const at = m.index as number;
  return text.slice(0, at) + edit([...m[0]], rand).join('') + text.slice(at + m[0].length);
}

/** `text` as it stands while its last word is typed: that word cut to its first MIN_LETTERS letters. */
export function midWord(text: string): string {
  const words = text.split(' ');
  const last = [...(words.at(-1) as string)];
  return [...words.slice(0, -1), last.slice(0, MIN_LETTERS).join('')].join(' ');
}

const KEYWORDS = 3;
const wordSegmenter = new Intl.Segmenter(undefined, { granularity: 'word' });

/** The KEYWORDS longest words of `text` (in code points; the earlier first among equals), in the order it has them. */
export function keywords(text: string): string {
  const words = [...wordSegmenter.segment(text)].filter((s) => s.isWordLike).map((s, i) => ({ w: s.segment, i }));
  const longest = [...words].sort((a, b) => [...b.w].length - [...a.w].length || a.i - b.i).slice(0, KEYWORDS);
  return longest
    .sort((a, b) => a.i - b.i)
    .map((x) => x.w)
    .join(' ');
}
