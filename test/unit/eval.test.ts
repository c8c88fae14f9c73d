import { describe, expect, it } from 'vitest';
import { parseCsv } from '../../src/eval/dev-data.js';
import { sparseRetrievalAccuracy, tfidfVectors } from '../../src/eval/lexical.js';
import { pairCosines, retrievalAccuracy, spearman, truncateNormalize } from '../../src/eval/metrics.js';

describe('eval metrics', () => {
  it('spearman gives tied values their mean rank', () => {
    expect(spearman([1, 2, 3, 4], [10, 20, 30, 40])).toBeCloseTo(1, 12);
    expect(spearman([1, 2, 3, 4], [4, 3, 2, 1])).toBeCloseTo(-1, 12);
    // ranks x: 1,2.5,2.5,4 ; y: 1,2,3,4 -> pearson of those
    expect(spearman([1, 5, 5, 9], [1, 2, 3, 4])).toBeCloseTo(0.9486833, 6);
  });

  it('retrieval accuracy counts rows whose best match is their own index', () => {
    const a = truncateNormalize([Float32Array.of(1, 0, 9), Float32Array.of(0, 1, 9)], 2);
    const b = truncateNormalize([Float32Array.of(1, 0.1, -9), Float32Array.of(1, 0.2, 9)], 2);
    // Truncated to 2 dims: a0 -> b0 (1 vs .98), a1 -> b1 (.1 vs .196).
    expect(retrievalAccuracy(a, b, 2, 2)).toBe(1);
    expect(retrievalAccuracy(b, a, 2, 2)).toBe(0.5);
    expect(pairCosines(a, a, 2, 2)).toEqual([1, 1]);
  });

  it('parses quoted CSV fields with commas and doubled quotes', () => {
    expect(parseCsv('a,"b, c",1\r\n"say ""hi""",x,2\n')).toEqual([
      ['a', 'b, c', '1'],
      ['say "hi"', 'x', '2'],
    ]);
  });

  it('the lexical baseline matches shared character n-grams', () => {
    const v = tfidfVectors(['Berlin 1990 Mauer', 'Paris Tour Eiffel', 'Mauer in Berlin 1990', 'Tour Eiffel de Paris']);
    expect(sparseRetrievalAccuracy(v.slice(0, 2), v.slice(2))).toBe(1);
    expect(sparseRetrievalAccuracy(v.slice(0, 2), [v[3] as Map<string, number>, v[2] as Map<string, number>])).toBe(0);
  });
});
