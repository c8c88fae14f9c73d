/**
 * Splitting long documents into overlapping chunks that fit the encoder. Token counts are
 * estimated on the page (the tokenizer lives in the encoder's worker): one token per CJK, kana,
 * hangul or Thai character, and one per 3 characters of other words, which over-counts
 * WordPiece / SentencePiece on most text. The encoder's truncation flag catches the rest (see
 * SearchIndex: a truncated chunk is split again).
 */

import { windowedSegments } from './text-windows.js';

/** Specials every encoded text carries ([CLS] and [SEP], or <s> and </s>). */
const SPECIAL_TOKENS = 2;
/** Overlap between neighbouring chunks, as a share of the chunk budget. */
const OVERLAP = 0.15;
const CHARS_PER_TOKEN = 3;

interface Unit {
  start: number;
  end: number;
  tokens: number;
  /** The unit ends a sentence. */
  last?: true;
}

const DENSE = '\\p{Script=Han}\\p{Script=Hiragana}\\p{Script=Katakana}\\p{Script=Hangul}\\p{Script=Thai}';
const UNIT = new RegExp(`[${DENSE}]|[^\\s${DENSE}]+`, 'gu');

/** Words and dense-script characters with their estimated tokens; words longer than `budget` are cut. */
function units(text: string, budget: number): Unit[] {
  const out: Unit[] = [];
  for (const m of text.matchAll(UNIT)) {
    const start = m.index;
    const word = m[0];
    if (word.length <= CHARS_PER_TOKEN || [...word].length === 1) {
      out.push({ start, end: start + word.length, tokens: 1 });
      continue;
    }
    const piece = budget * CHARS_PER_TOKEN;
    for (let s = 0; s < word.length; s += piece) {
      const end = Math.min(word.length, s + piece);
      out.push({ start: start + s, end: start + end, tokens: Math.ceil((end - s) / CHARS_PER_TOKEN) });
    }
  }
  return out;
}

export function estimateTokens(text: string): number {
  return units(text, Number.MAX_SAFE_INTEGER).reduce((n, u) => n + u.tokens, 0);
}

/** Tokens left for the text itself in an encoder input of `maxTokens` that starts with `prefix`. */
export function chunkBudget(maxTokens: number, prefix: string): number {
  return Math.max(1, maxTokens - SPECIAL_TOKENS - estimateTokens(prefix));
}

/** Marks the units that end a sentence (Unicode sentence boundaries, UAX #29). */
function markSentenceEnds(text: string, us: Unit[]): void {
  const ends = new Set<number>();
  for (const s of windowedSegments(text, new Intl.Segmenter(undefined, { granularity: 'sentence' }))) {
    ends.add(s.index + s.segment.trimEnd().length);
  }
  for (const u of us) if (ends.has(u.end)) u.last = true;
}

/**
 * The text as one chunk if it fits `budget` estimated tokens, else as chunks of whole words
 * that do. A chunk ends at a sentence end when one falls in its second half, and the next
 * starts about 15% of a chunk before it, at the first sentence start there if any: an encoder
 * trained on sentences and short paragraphs embeds whole sentences better than cut ones.
 */
export function chunkText(text: string, budget: number): string[] {
  const us = units(text, budget);
  const total = us.reduce((n, u) => n + u.tokens, 0);
  if (total <= budget) return [text];
  markSentenceEnds(text, us);
  const overlap = Math.floor(budget * OVERLAP);
  const chunks: string[] = [];
  for (let first = 0; first < us.length; ) {
    let last = first;
    let tokens = 0;
    let sentenceEnd = -1;
    while (last < us.length && tokens + (us[last] as Unit).tokens <= budget) {
      tokens += (us[last++] as Unit).tokens;
      if ((us[last - 1] as Unit).last && tokens * 2 >= budget) sentenceEnd = last;
    }
    if (last < us.length && sentenceEnd > 0) last = sentenceEnd;
    last = Math.max(last, first + 1);
    chunks.push(text.slice((us[first] as Unit).start, (us[last - 1] as Unit).end));
    if (last >= us.length) break;
    // Step back over whole units worth `overlap` tokens, but always move forward.
    let back = last;
    for (let t = 0; back > first + 1 && t + (us[back - 1] as Unit).tokens <= overlap; ) t += (us[--back] as Unit).tokens;
    let start = back;
    while (start < last && !(us[start - 1] as Unit).last) start++;
    first = (us[start - 1] as Unit).last ? start : back;
  }
  return chunks;
}
