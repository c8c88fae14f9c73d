import { describe, expect, it } from 'vitest';
import { holdsPhrase, parseQuery, syntaxMask } from '../../src/search/query-syntax.js';
import { openIndex } from '../../src/search/search-index.js';
import { recordingEncoder } from '../support/recording-encoder.js';
import { rejection } from '../support/rejection.js';

// Query syntax: "phrases" a hit must hold, -words no hit's document may hold.

describe('parseQuery', () => {
  it('reads quoted phrases in the quotes people type, and keeps their words for ranking', () => {
    expect(parseQuery('"New York" pizza')).toEqual({
      text: ' New York  pizza',
      words: 'New York pizza',
      phrases: [['new', 'york']],
      excluded: [],
    });
    for (const q of ['“Café Zoë”', '„Café Zoë“', '„Café Zoë”', '«Café Zoë»', '"Café Zoë"'])
      expect(parseQuery(q).phrases, q).toEqual([['cafe', 'zoe']]);
    expect(parseQuery('「東京タワー」').phrases[0]?.length).toBeGreaterThan(0);
    // A phrase at the end leaves no word being typed; a one-word phrase asks for that word.
    expect(parseQuery('pizza "york"').text.endsWith(' ')).toBe(true);
    expect(parseQuery('pizza "york"').phrases).toEqual([['york']]);
  });

  it('reads -word and -"phrase" as exclusions, and a minus elsewhere as text', () => {
    expect(parseQuery('jaguar -car -"big cat"')).toEqual({
      text: 'jaguar    ',
      words: 'jaguar',
      phrases: [],
      excluded: [['car'], ['big', 'cat']],
    });
    expect(parseQuery('-Übel')).toMatchObject({ excluded: [['ubel']] });
    for (const plain of ['e-mail', '-5 °C', 'rock - paper', 'state-of-the-art', 'a -'])
      expect(parseQuery(plain), plain).toEqual({ text: plain, words: plain, phrases: [], excluded: [] });
  });

  it('leaves an unclosed quote and an empty phrase as text', () => {
    expect(parseQuery('"New York pizza')).toEqual({
      text: '"New York pizza',
      words: '"New York pizza',
      phrases: [],
      excluded: [],
    });
    expect(parseQuery('pizza "" -""')).toEqual({ text: 'pizza     ', words: 'pizza', phrases: [], excluded: [] });
  });
});

describe('holdsPhrase', () => {
  it('compares folded words one after another, across punctuation', () => {
    expect(holdsPhrase('I love NEW-York, city of lights', ['new', 'york'])).toBe(true);
    expect(holdsPhrase('York, new in town', ['new', 'york'])).toBe(false);
    expect(holdsPhrase('new big York', ['new', 'york'])).toBe(false);
    expect(holdsPhrase('Crème brûlée', ['creme', 'brulee'])).toBe(true);
  });
});

describe('syntaxMask', () => {
  it('narrows every row to those without an excluded word, setting no bit past the rows', async () => {
    const rows = {
      rows: 40,
      rowsWith: async (word: string) => (word === 'car' ? [3, 39] : []),
      textsOf: async () => ({ chunk: '', title: undefined }),
      documentRows: (row: number) => ({ first: row, count: 1 }),
    };
    const mask = (await syntaxMask(parseQuery('jaguar -car'), null, rows)) as Uint32Array;
    expect([...mask]).toEqual([(0xffffffff & ~(1 << 3)) >>> 0, 0b01111111]);
    expect(await syntaxMask(parseQuery('jaguar car'), null, rows)).toBeNull();
  });
});

describe('an index reads the syntax', () => {
  const docs = [
    { id: 'a', text: 'The jaguar is a big cat of the Americas.' },
    { id: 'b', text: 'The Jaguar car was built in Coventry.' },
    { id: 'c', text: 'A cat, big and lazy, sleeps on the jaguar rug.' },
    { id: 'd', text: 'New rules in York for every big cat owner.', title: 'Jaguar news' },
  ];
  const ids = (hits: { id: string }[]) => hits.map((h) => h.id).sort();

  it('keeps hits that hold every phrase and drops documents with an excluded word, in every mode', async () => {
    const index = await openIndex({ encoder: recordingEncoder(), name: 'syntax', device: 'cpu' });
    await index.add(docs);
    for (const mode of ['lexical', 'vector', 'hybrid'] as const) {
      expect(ids(await index.search('"big cat"', { mode })), mode).toEqual(['a', 'd']);
      expect(ids(await index.search('jaguar -car', { mode })), mode).toEqual(['a', 'c', 'd']);
      expect(ids(await index.search('jaguar -"big cat"', { mode })), mode).toEqual(['b', 'c']);
      // A phrase in a title counts; an excluded word in a title keeps the document out.
      expect(ids(await index.search('"jaguar news"', { mode })), mode).toEqual(['d']);
      // (A vector search ranks documents without the query's words too.)
      expect(ids(await index.search('big -news', { mode })), mode).toEqual(mode === 'lexical' ? ['a', 'c'] : ['a', 'b', 'c']);
    }
    // A phrase that no document holds is read as its words (a quoted question in another language).
    expect(ids(await index.search('"lazy jaguar"', { mode: 'lexical' }))).toEqual(['a', 'b', 'c', 'd']);
    expect(ids(await index.search('"lazy jaguar" "big cat"', { mode: 'lexical' }))).toEqual(['a', 'd']);
    // syntax: false reads the quotes and the minus as text.
    expect(ids(await index.search('"big cat"', { mode: 'lexical', syntax: false }))).toEqual(['a', 'c', 'd']);
    expect(ids(await index.search('jaguar -car', { mode: 'lexical', syntax: false }))).toContain('b');
    // Only exclusions: nothing to rank by.
    expect(await index.search('-car')).toEqual([]);
    // The vector query and the highlights are the words, not the syntax.
    const encoder = recordingEncoder();
    const plain = await openIndex({ encoder, name: 'syntax-plain', device: 'cpu' });
    await plain.add(docs);
    const [hit] = await plain.search('"big cat" -car', { mode: 'hybrid' });
    expect(encoder.calls.at(-1)?.texts[0]).toBe('big cat');
    expect(hit?.chunk.highlights.map(([s, e]) => hit.chunk.text.slice(s, e).toLowerCase())).toEqual(['big', 'cat']);
    expect(await rejection(index.search('x', { syntax: 'yes' as unknown as boolean }))).toMatchObject({
      code: 'INVALID_INPUT',
      message: 'syntax must be a boolean, got string',
    });
    index.close();
    plain.close();
  });

  it('reads phrases of the rows that remain after a removal', async () => {
    const index = await openIndex({ encoder: recordingEncoder(), name: 'syntax-removed', device: 'cpu' });
    await index.add(docs);
    await index.remove(['a']);
    expect(ids(await index.search('"big cat"', { mode: 'lexical' }))).toEqual(['d']);
    index.close();
  });
});
