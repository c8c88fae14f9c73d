import { isSet } from './cpu-scorer.js';
import { foldedWords } from './terms.js';

/**
 * A search box's query syntax, as web search engines read it: "quoted words" must appear in a hit
 * as a phrase (one after another, in its chunk or its title), and -word (a minus at the start of
 * a word) keeps out every document that holds the word anywhere (-"a phrase" the phrase). Words
 * are compared as the lexical ranker reads them (case and accents folded, terms.ts). What is
 * left, the phrases' words included, is what the rankers rank by.
 */
export interface ParsedQuery {
  /**
   * The query the lexical ranker reads: the phrases' words without their quotes, no excluded
   * words, and a space where a phrase ends (so a query ending in one has no word being typed).
   */
  text: string;
  /** What an encoder embeds (and a reranker reads): `text` with its spaces collapsed, or the query itself where it has no syntax. */
  words: string;
  /** Folded word sequences a hit must hold. */
  phrases: string[][];
  /** Folded word sequences no hit's document may hold. */
  excluded: string[][];
}

/** Each opening quote and the quotes that close it: ASCII, English, German and Polish, French, CJK corner brackets. */
const CLOSERS: Readonly<Record<string, string>> = {
  '"': '"',
  '“': '”"',
  '„': '“”"',
  '«': '»',
  '「': '」',
  '『': '』',
};
const WHITESPACE = /\s/u;
const LETTER = /\p{L}/u;

/** `query` read as plain text (SearchOptions.syntax false). */
export const plainQuery = (query: string): ParsedQuery => ({ text: query, words: query, phrases: [], excluded: [] });

/**
 * The syntax of `query`. A quote without its closing quote, a minus inside a word ("e-mail") or
 * before anything but a letter or a quote ("-5 °C") are plain text; a phrase or an exclusion with
 * no word in it is dropped.
 */
export function parseQuery(query: string): ParsedQuery {
  const out: ParsedQuery = { text: '', words: query, phrases: [], excluded: [] };
  let text = '';
  let i = 0;
  /** The quoted text opening at `at` and where it ends, or null where no quote closes it. */
  const quoted = (at: number): { inner: string; end: number } | null => {
    const closers = CLOSERS[query[at] as string];
    if (closers === undefined) return null;
    for (let j = at + 1; j < query.length; j++)
      if (closers.includes(query[j] as string)) return { inner: query.slice(at + 1, j), end: j + 1 };
    return null;
  };
  while (i < query.length) {
    const c = query[i] as string;
    const startsWord = i === 0 || WHITESPACE.test(query[i - 1] as string);
    if (c === '-' && startsWord && i + 1 < query.length) {
      const next = query[i + 1] as string;
      const phrase = quoted(i + 1);
      if (phrase) {
        push(out.excluded, foldedWords(phrase.inner));
        text += ' ';
        i = phrase.end;
        continue;
      }
      if (LETTER.test(next)) {
        let end = i + 1;
        while (end < query.length && !WHITESPACE.test(query[end] as string)) end++;
        push(out.excluded, foldedWords(query.slice(i + 1, end)));
        text += ' ';
        i = end;
        continue;
      }
    }
    const phrase = quoted(i);
    if (phrase) {
      push(out.phrases, foldedWords(phrase.inner));
      // The space after it: a query ending in a phrase has no word still being typed.
      text += ` ${phrase.inner} `;
      i = phrase.end;
      continue;
    }
    text += c;
    i++;
  }
  out.text = text;
  if (text !== query) out.words = text.replace(/\s+/gu, ' ').trim();
  return out;
}

function push(into: string[][], words: string[]): void {
  if (words.length > 0) into.push(words);
}

/** Whether `text` holds `words` one after another, as folded words. */
export function holdsPhrase(text: string, words: readonly string[]): boolean {
  const seen = foldedWords(text);
  outer: for (let i = 0; i + words.length <= seen.length; i++) {
    for (let j = 0; j < words.length; j++) if (seen[i + j] !== words[j]) continue outer;
    return true;
  }
  return false;
}

/** What an index tells about its rows: the syntax reads all four, the proximity bonus (proximity.ts) their texts. */
export interface RowReader {
  /** Rows in the index's masks. */
  rows: number;
  /** The live rows holding a folded word, in their chunk or their document's title. */
  rowsWith(word: string): Promise<Iterable<number>>;
  /** A row's chunk text and its document's title. */
  textsOf(row: number): Promise<{ chunk: string; title: string | undefined }>;
  /** The rows of the document a row belongs to: the first and how many. */
  documentRows(row: number): { first: number; count: number };
}

/**
 * `base` (an index's mask, null: every row) narrowed to the rows that hold every phrase (the
 * rows holding all its words, read through; a phrase that none holds narrows nothing), less every
 * row of a document holding an excluded word or phrase. `base` itself where the query has no syntax.
 */
export async function syntaxMask(parsed: ParsedQuery, base: Uint32Array | null, index: RowReader): Promise<Uint32Array | null> {
  if (parsed.phrases.length === 0 && parsed.excluded.length === 0) return base;
  const words = Math.ceil(index.rows / 32);
  let mask = base ? base.slice() : everyRow(index.rows);
  for (const phrase of parsed.phrases) {
    const rows = await rowsHolding(phrase, mask, index);
    // A phrase no row holds (a question quoting words the documents inflect, or put in another
    // language) is read as its words, as web search engines do, rather than finding nothing.
    if (rows.length === 0) continue;
    const keep = new Uint32Array(words);
    for (const row of rows) set(keep, row);
    mask = keep;
  }
  for (const phrase of parsed.excluded) {
    for (const row of await rowsHolding(phrase, null, index)) {
      const { first, count } = index.documentRows(row);
      for (let r = first; r < first + count; r++) mask[r >>> 5] = (mask[r >>> 5] as number) & ~(1 << (r & 31));
    }
  }
  return mask;
}

/** The rows in `within` (null: any) holding `phrase`: those with all its words, read where it has more than one. */
async function rowsHolding(phrase: readonly string[], within: Uint32Array | null, index: RowReader): Promise<number[]> {
  const [first, ...rest] = await Promise.all([...new Set(phrase)].map(async (w) => new Set(await index.rowsWith(w))));
  let rows = [...(first as Set<number>)].filter((r) => isSet(within, r));
  for (const other of rest) rows = rows.filter((r) => other.has(r));
  if (phrase.length === 1) return rows;
  const held = await Promise.all(
    rows.map(async (r) => {
      const { chunk, title } = await index.textsOf(r);
      return holdsPhrase(chunk, phrase) || (title !== undefined && holdsPhrase(title, phrase));
    }),
  );
  return rows.filter((_, k) => held[k]);
}

/** A mask of rows 0 .. rows - 1, no bit past them. */
function everyRow(rows: number): Uint32Array {
  const mask = new Uint32Array(Math.ceil(rows / 32)).fill(0xffffffff);
  if (rows % 32 !== 0) mask[mask.length - 1] = 2 ** (rows % 32) - 1;
  return mask;
}

function set(mask: Uint32Array, row: number): void {
  mask[row >>> 5] = (mask[row >>> 5] as number) | (1 << (row & 31));
}
