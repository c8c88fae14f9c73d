import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.js';

const ROOT = join(import.meta.dirname, '../..');
const tokenizerJson = JSON.parse(readFileSync(join(ROOT, 'public/models/m3-mini/tokenizer.json'), 'utf8'));
const { cases } = JSON.parse(readFileSync(join(ROOT, 'test/oracle/fixtures/m3-tokenizer/cases.json'), 'utf8')) as {
  cases: { lang: string; text: string; ids: number[] }[];
};

/** Unigram path score: the sum of its pieces' log-probabilities. */
const vocab = tokenizerJson.model.vocab as [string, number][];
const pathScore = (ids: number[]) => ids.reduce((s, id) => s + (vocab[id] as [string, number])[1], 0);
const pieces = (ids: number[]) => ids.map((id) => (vocab[id] as [string, number])[0]).join('');

describe('the bundled model tokenizer (training/train_tokenizer.py) under @huggingface/tokenizers', () => {
  const tokenizer = TextTokenizer.fromJson(tokenizerJson);

  it('gives python3-sentencepiece ids on 2,000+ multilingual dev sentences', () => {
    expect(cases.length).toBeGreaterThanOrEqual(2000);
    expect(new Set(cases.map((c) => c.lang)).size).toBeGreaterThan(200);
    const differing = cases.filter((c) => tokenizer.tokenIds(c.text, false).join() !== c.ids.join());
    // SentencePiece sums piece scores in f32, JavaScript in f64: two segmentations of a word whose
    // scores tie to ~1e-5 may come out either way. Any other difference is a bug.
    for (const c of differing) {
      const ours = tokenizer.tokenIds(c.text, false);
      expect(pieces(ours), c.text).toBe(pieces(c.ids));
      expect(Math.abs(pathScore(ours) - pathScore(c.ids)), c.text).toBeLessThan(1e-3);
    }
    expect(differing.length).toBeLessThanOrEqual(Math.ceil(cases.length * 0.002));
  });

  it('wraps ids in [CLS] ... [SEP], and reads special tokens written in the text as specials', () => {
    const ids = tokenizer.tokenIds('Hello world');
    expect(ids[0]).toBe(2);
    expect(ids.at(-1)).toBe(3);
    // As every Hugging Face tokenizer does (SentencePiece itself would spell "[SEP]" out).
    expect(tokenizer.tokenIds('a [SEP] b', false)).toContain(3);
  });
});
