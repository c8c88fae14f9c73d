import { describe, expect, it } from 'vitest';
import { parseManifest } from '../../src/pack/manifest.js';
import { type DocRank, fuse, STANDARD_FUSION } from '../../src/search/fuse.js';
import { checkSearch } from '../../src/search/validate.js';
import { readFixtureJson } from '../support/fixtures.js';

/** A ranker's list: documents by (id, score), their rows numbered from `firstRow`. */
const docs = (firstRow: number, ...entries: [string, number][]): DocRank[] =>
  entries.map(([id, score], i) => ({ id, score, row: firstRow + i }));

describe('reciprocal rank fusion', () => {
  it('sums weight / (k + rank) and records each ranker that found a document', () => {
    const lists = { vector: docs(0, ['a', 0.9], ['b', 0.8]), lexical: docs(2, ['b', 7], ['c', 3]) };
    const fused = fuse(lists, { k: 60, weights: { vector: 1, lexical: 1 } }, 10);
    expect(fused.map((f) => f.id)).toEqual(['b', 'a', 'c']);
    expect(fused[0]).toEqual({ id: 'b', score: 1 / 62 + 1 / 61, row: 2, ranks: { vector: 2, lexical: 1 } });
    expect(fused[2]?.ranks).toEqual({ lexical: 2 });
  });

  it("leaves out BM25's tail below a fifth of its best score, never the vector list's", () => {
    const lists = { vector: docs(0, ['a', 0.2], ['b', 0.01]), lexical: docs(2, ['c', 10], ['d', 2], ['e', 1.9]) };
    const fused = fuse(lists, STANDARD_FUSION, 10);
    expect(fused.map((f) => f.id).sort()).toEqual(['a', 'b', 'c', 'd']);
  });
});

describe('fusion by scores', () => {
  const lists = (bm25Scale = 1) => ({
    vector: docs(0, ['a', 0.9], ['b', 0.5]),
    lexical: docs(2, ['b', 8 * bm25Scale], ['c', 4 * bm25Scale]),
  });
  const ids = (docs: { id: string }[]) => docs.map((d) => d.id);

  it("sums weight x score, BM25 over its best and cosines as they are; a document a list lacks gets that list's last score", () => {
    const fused = fuse(lists(), { method: 'scores', weights: { vector: 1, lexical: 1 } }, 10);
    expect(ids(fused)).toEqual(['b', 'a', 'c']);
    // b: 0.5 + 8/8; a: 0.9 + 4/8 (lexical's last); c: 0.5 (vector's last) + 4/8.
    expect(fused.map((d) => d.score)).toEqual([1.5, 1.4, 1]);
    expect(fused.map((d) => d.ranks)).toEqual([{ vector: 2, lexical: 1 }, { vector: 1 }, { lexical: 2 }]);
    // The chunk shown is the one of the heaviest term: b's BM25 row.
    expect(fused[0]?.row).toBe(2);
  });

  it('weighs each ranker, and reads BM25 against its best, so a longer query scoring higher changes nothing', () => {
    const byWords = { method: 'scores' as const, weights: { vector: 0.2, lexical: 1 } };
    const fused = fuse(lists(), byWords, 10);
    // b: 0.2 x 0.5 + 1; a: 0.2 x 0.9 + 0.5; c: 0.2 x 0.5 + 0.5.
    expect(fused.map((d) => d.score.toFixed(12))).toEqual(['1.100000000000', '0.680000000000', '0.600000000000']);
    expect(fuse(lists(3), byWords, 10).map((d) => d.score)).toEqual(fused.map((d) => d.score));
    expect(ids(fuse(lists(), { method: 'scores', weights: { vector: 1, lexical: 0.1 } }, 10))).toEqual(['a', 'b', 'c']);
  });

  it('lets an empty list count for nothing, and keeps the best k', () => {
    const fused = fuse(
      { vector: docs(0, ['a', 0.3], ['b', -0.2]), lexical: [] },
      { method: 'scores', weights: { vector: 1, lexical: 1 } },
      1,
    );
    expect(fused).toEqual([{ id: 'a', score: 0.3, row: 0, ranks: { vector: 1 } }]);
  });
});

describe('fusion options', () => {
  const model = { k: 30, weights: { vector: 0.1, lexical: 1 } };
  const byScores = { method: 'scores' as const, weights: { vector: 0.3, lexical: 1 } };
  const fusionOf = (options: unknown, base?: Parameters<typeof checkSearch>[4]) =>
    checkSearch('q', { fusion: options }, 48, [16, 48], base).fusion;
  it("start from the model's measured fusion, else the standard one, and override by field", () => {
    expect(checkSearch('q', {}, 48, [16, 48]).fusion).toEqual(STANDARD_FUSION);
    expect(checkSearch('q', {}, 48, [16, 48], model)).toMatchObject({ mode: 'hybrid', fusion: model });
    expect(fusionOf({ k: 5, weights: { lexical: 2 } }, model)).toEqual({ k: 5, weights: { vector: 0.1, lexical: 2 } });
    expect(checkSearch('q', {}, 48, [16, 48], byScores).fusion).toEqual(byScores);
    expect(fusionOf({ weights: { vector: 0.5 } }, byScores)).toEqual({ method: 'scores', weights: { vector: 0.5, lexical: 1 } });
  });

  it("start from the other method's equal weights when a call names it (a k names ranks), and refuse k by scores", () => {
    expect(fusionOf({ method: 'ranks' }, byScores)).toEqual(STANDARD_FUSION);
    expect(fusionOf({ method: 'scores' }, model)).toEqual({ method: 'scores', weights: { vector: 1, lexical: 1 } });
    // Written before fusion by scores existed: still reciprocal rank fusion, over a model measured by scores.
    expect(fusionOf({ k: 30, weights: { vector: 0.5 } }, byScores)).toEqual({ k: 30, weights: { vector: 0.5, lexical: 1 } });
    expect(() => fusionOf({ method: 'scores', k: 30 })).toThrow(
      /fusion.k is reciprocal rank fusion's constant: method 'scores' takes none/,
    );
    expect(() => fusionOf({ method: 'sum' })).toThrow(/fusion.method must be "ranks" or "scores", got "sum"/);
  });

  it('reads a fusion by scores from a manifest, and refuses an unknown method', async () => {
    const raw = await readFixtureJson<Record<string, unknown>>('public/models/m3-mini/manifest.json');
    const manifest = (fusion: unknown) => parseManifest({ ...raw, search: { dataset: 'xquad-dev', fusion } }).search?.fusion;
    expect(manifest(byScores)).toEqual(byScores);
    expect(manifest({ k: 60, weights: { vector: 1, lexical: 1 } })).toEqual(STANDARD_FUSION);
    expect(() => manifest({ method: 'sum', weights: { vector: 1, lexical: 1 } })).toThrow(/search.fusion.method/);
  });
});
