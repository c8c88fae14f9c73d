import { describe, expect, it } from 'vitest';
import { highlights } from '../../src/search/highlight.js';
import { LexicalIndex, queryWeights } from '../../src/search/lexical.js';
import { openIndex } from '../../src/search/search-index.js';
import { terms } from '../../src/search/terms.js';
import { correctedWords, corrections, editDistance, editsAllowed } from '../../src/search/typos.js';
import { recordingEncoder } from '../support/recording-encoder.js';
import { rejection } from '../support/rejection.js';

// Typo tolerance in the lexical ranker: a query word no indexed row holds stands for the
// indexed words nearest it in spelling.

const distance = (a: string, b: string, max = 9) => editDistance([...a], [...b], max);

describe('edit distance', () => {
  it('counts insertions, deletions, substitutions and a swap of neighbours as one edit each', () => {
    expect(distance('kitten', 'sitting')).toBe(3);
    expect(distance('receive', 'recieve')).toBe(1);
    expect(distance('receive', 'receve')).toBe(1);
    expect(distance('receive', 'receivve')).toBe(1);
    expect(distance('receive', 'reveice')).toBe(2);
    expect(distance('', 'abc')).toBe(3);
    expect(distance('same', 'same')).toBe(0);
    // Code points, not UTF-16 units: an astral letter is one.
    expect(distance('𝒜bc', 'bc')).toBe(1);
    expect(distance('東京都', '東都')).toBe(1);
  });

  it('stops at max, answering max + 1 for anything farther', () => {
    expect(distance('kitten', 'sitting', 2)).toBe(3);
    expect(distance('kitten', 'sitting', 1)).toBe(2);
    expect(distance('a', 'abcdef', 2)).toBe(3);
    expect(distance('abcdefgh', 'abcdefgx', 1)).toBe(1);
  });
});

describe('corrections', () => {
  it('allow one edit from 4 letters and two from 8', () => {
    expect([3, 4, 7, 8, 20].map(editsAllowed)).toEqual([0, 1, 1, 2, 2]);
  });

  it("of a word still being typed are measured against the candidates' beginnings", () => {
    const indexed: [string, number][] = [
      ['receive', 3],
      ['recipe', 9],
      ['rec', 20],
    ];
    expect(corrections('recie', indexed)).toEqual(['recipe']);
    expect(corrections('recie', indexed, true)).toEqual(['recipe', 'receive']);
    expect(corrections('reciev', indexed, true)).toEqual(['receive']);
  });

  it('are the nearest indexed words with the same first two letters, the most frequent first, at most three', () => {
    const indexed: [string, number][] = [
      ['receive', 3],
      ['recipe', 9],
      ['receiver', 5],
      ['deceive', 50],
      ['received', 0],
      ['recieve', 1],
    ];
    // "recieve" itself is no correction; "deceive" starts otherwise; "received" is in no live row.
    expect(corrections('recieve', indexed)).toEqual(['receive']);
    expect(corrections('receve', indexed)).toEqual(['receive', 'recieve']);
    // Two edits away: allowed from 8 letters only.
    const far: [string, number][] = [
      ['receive', 3],
      ['receiver', 5],
    ];
    expect(corrections('recievr', far)).toEqual([]);
    expect(corrections('recieverr', far)).toEqual(['receiver']);
    const tied: [string, number][] = ['bank', 'band', 'bane', 'bans', 'bang'].map((w, i) => [w, i + 1]);
    expect(corrections('banx', tied)).toEqual(['bang', 'bans', 'bane']);
    expect(corrections('bat', tied)).toEqual([]);
  });
});

describe('typo tolerance in the lexical ranker', () => {
  const texts = ['We receive payments daily', 'Recipes for bread', 'Deceive nobody', 'Payment terms apply'];
  const lex = new LexicalIndex(false);
  texts.forEach((t, row) => {
    lex.add(row, t);
  });

  it('corrects only the query words no row holds', () => {
    expect(lex.corrections('remeive payment')).toEqual({ remeive: ['receive'] });
    expect(lex.corrections('receive payment')).toEqual({});
    expect(lex.corrections('paymnet remeive')).toEqual({ paymnet: ['payment'], remeive: ['receive'] });
    // A typo in the first two letters is left as typed.
    expect(lex.corrections('pyament')).toEqual({});
    // Nothing shares a term with "remeive" (not even its prefix or sound key)...
    expect(lex.top('remeive', 10, null).rows.length).toBe(0);
    // ...but its correction.
    expect([...lex.top('remeive', 10, null, false, correctedWords(lex.corrections('remeive'))).rows]).toEqual([0]);
  });

  it("weighs a correction's terms at half a query word, and only those the query lacks", () => {
    const w = queryWeights('recieve recieve', true, ['receive']);
    expect(w.get('recieve')).toBe(2);
    expect(w.get('receive')).toBe(0.5);
    // Terms the typo shares with its correction (prefix, n-grams) keep the query's count.
    expect(w.get('\u0001reci')).toBe(2);
    expect(w.get('\u0002ecei')).toBe(0.5);
    for (const t of terms('receive', true)) expect(w.has(t)).toBe(true);
    expect(queryWeights('receive', true, ['receive'])).toEqual(queryWeights('receive', true, []));
  });

  it('checks the first 32 words a query can have corrected, so a pasted page costs what a sentence does', () => {
    const filler = Array.from({ length: 40 }, (_, i) => `zz${'q'.repeat(i + 2)}`).join(' ');
    expect(lex.corrections(`remeive ${filler}`)).toEqual({ remeive: ['receive'] });
    expect(lex.corrections(`${filler} remeive`)).toEqual({});
  });

  it('leaves numbers as typed', () => {
    const years = new LexicalIndex(false);
    ['in 2016', 'model x200b', 'covid19'].forEach((t, row) => {
      years.add(row, t);
    });
    expect(years.corrections('2015 x200c covid18')).toEqual({});
    expect(years.corrections('modell')).toEqual({ modell: ['model'] });
  });

  it('leaves words of Japanese and Korean (and Chinese) characters as typed', () => {
    const cjk = new LexicalIndex(false);
    ['インターネット', '대한민국만세', 'internet'].forEach((t, row) => {
      cjk.add(row, t);
    });
    // Each one edit from an indexed word with its first two characters, and one word to the segmenter.
    expect(cjk.corrections('インタネット')).toEqual({});
    expect(cjk.corrections('대한민국만')).toEqual({});
    expect(cjk.corrections('intrnet')).toEqual({ intrnet: ['internet'] });
  });

  it('leaves a word still being typed (prefix) to its completions, unless it begins no indexed word', () => {
    // "recipe" is one edit from "recipes", and begins it: typing goes on.
    expect(lex.corrections('recipe', true)).toEqual({});
    expect(lex.corrections('recipe')).toEqual({ recipe: ['recipes'] });
    // "remeive" begins nothing: a typo, corrected as ever; a finished word (a space after it) too.
    expect(lex.corrections('remeive', true)).toEqual({ remeive: ['receive'] });
    expect(lex.corrections('recipe ', true)).toEqual({ recipe: ['recipes'] });
    // A misspelt beginning: "remei" is one edit from "recei", three from "receive".
    expect(lex.corrections('remei', true)).toEqual({ remei: ['receive'] });
    expect(lex.corrections('remei')).toEqual({});
    expect(lex.corrections('paymne', true)).toEqual({ paymne: ['payment', 'payments'] });
  });

  it('follows the index: a removed row no longer corrects, an added one does', () => {
    const grown = new LexicalIndex(false);
    grown.add(0, 'harbour');
    expect(grown.corrections('harbuor')).toEqual({ harbuor: ['harbour'] });
    grown.remove(0, 'harbour');
    expect(grown.corrections('harbuor')).toEqual({});
    grown.add(1, 'harbor');
    expect(grown.corrections('harbuor')).toEqual({ harbuor: ['harbor'] });
  });

  it('an index corrects by default, marks the corrected words, and typos: false searches as typed', async () => {
    const index = await openIndex({ encoder: recordingEncoder(), name: 'typos', device: 'cpu', ngrams: false });
    await index.add(texts.map((text, i) => ({ id: `t${i}`, text })));
    const [hit] = await index.search('remeive', { mode: 'lexical' });
    expect(hit?.id).toBe('t0');
    expect(hit?.chunk.highlights.map(([a, b]) => hit.chunk.text.slice(a, b))).toEqual(['receive']);
    expect(await index.search('remeive', { mode: 'lexical', typos: false })).toEqual([]);
    expect(await rejection(index.search('recieve', { typos: 1 as unknown as boolean }))).toMatchObject({
      code: 'INVALID_INPUT',
      message: 'typos must be a boolean, got number',
    });
    // What a search box shows: "including results for receive".
    expect(await index.corrections('Remeive payments')).toEqual({ remeive: ['receive'] });
    expect(await index.corrections('recipe', { prefix: true })).toEqual({});
    expect(await rejection(index.corrections(42 as unknown as string))).toMatchObject({ code: 'INVALID_INPUT' });
    expect(await rejection(index.corrections('x', { prefix: 'yes' as unknown as boolean }))).toMatchObject({
      code: 'INVALID_INPUT',
    });
    // A vector search runs no lexical ranker and marks the query's words only.
    const [vectorHit] = await index.search('remeive payments', { mode: 'vector', k: 4 });
    expect(vectorHit?.chunk.highlights.map(([a, b]) => vectorHit.chunk.text.slice(a, b))).not.toContain('receive');
    index.close();
  });

  it('highlights mark corrections as query words', () => {
    expect(highlights('recieve', 'We receive it', { also: ['receive'] })).toEqual([[3, 10]]);
    expect(highlights('recieve', 'We receive it')).toEqual([]);
  });
});
