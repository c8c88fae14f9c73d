import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError, ModelFormatError } from '../../src/errors.js';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.js';

const FIXTURES = join(import.meta.dirname, '../oracle/fixtures');
const json = (dir: string, name: string): unknown => JSON.parse(readFileSync(join(FIXTURES, dir, name), 'utf8'));
const load = (dir: string) => TextTokenizer.fromJson(json(dir, 'tokenizer.json'), json(dir, 'tokenizer_config.json'));

interface Expected {
  texts: string[];
  ids: number[][];
}

describe('TextTokenizer', () => {
  it('matches the 46 bge reference cases without special tokens', () => {
    const tok = load('tokenizer-bge');
    const cases = json('tokenizer-bge', 'cases.json') as { text: string; ids: number[] }[];
    expect(cases).toHaveLength(46);
    for (const c of cases) expect(tok.tokenIds(c.text, false), JSON.stringify(c.text)).toEqual(c.ids);
  });

  describe.each([
    ['bert-tiny', 2, 3],
    ['xlmr-tiny', 0, 2],
  ])('%s', (dir, first, last) => {
    const tok = load(dir);
    const expected = json(dir, 'expected.json') as Expected;

    it('gives the oracle ids, specials included, for every fixture text', () => {
      expected.texts.forEach((text, i) => {
        expect(tok.encode(text, 1000), `text ${i}`).toEqual({ ids: expected.ids[i], truncated: false });
      });
    });

    it('truncates to maxTokens keeping the final special token', () => {
      const text = expected.texts[0] as string;
      const full = expected.ids[0] as number[];
      expect(tok.encode(text, full.length)).toEqual({ ids: full, truncated: false });
      const cut = tok.encode(text, 8);
      expect(cut.truncated).toBe(true);
      expect(cut.ids).toEqual([...full.slice(0, 7), last]);
      expect(cut.ids[0]).toBe(first);
      expect(tok.encode(text, 2)).toEqual({ ids: [first, last], truncated: true });
    });

    it('encodes the empty string as the specials only', () => {
      expect(tok.encode('', 16)).toEqual({ ids: [first, last], truncated: false });
    });
  });

  it('works without a tokenizer_config.json', () => {
    const tok = TextTokenizer.fromJson(json('bert-tiny', 'tokenizer.json'));
    const expected = json('bert-tiny', 'expected.json') as Expected;
    expect(tok.encode(expected.texts[0] as string, 1000).ids).toEqual(expected.ids[0]);
  });

  it('rejects JSON that is not a tokenizer with ModelFormatError', () => {
    const good = json('bert-tiny', 'tokenizer.json') as Record<string, unknown>;
    const bad: unknown[] = [null, 'x', [], {}, { ...good, model: null }, { ...good, model: { type: 'Nope' } }];
    for (const b of bad) {
      expect(() => TextTokenizer.fromJson(b), JSON.stringify(b)?.slice(0, 40)).toThrow(ModelFormatError);
    }
    expect(() => TextTokenizer.fromJson({ ...good, model: { type: 'Nope' } })).toThrow(/not a usable tokenizer: .*Nope/);
    expect(() => TextTokenizer.fromJson(good, 'config')).toThrow(/tokenizer_config.json must be a JSON object/);
  });

  it('rejects a bad maxTokens', () => {
    const tok = load('bert-tiny');
    expect(() => tok.encode('hi', 0)).toThrow(InputError);
    expect(() => tok.encode('hi', 1.5)).toThrow(InputError);
  });
});
