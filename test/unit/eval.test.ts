import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCsv } from '../../src/eval/dev-data.js';
import type { EmbedExits } from '../../src/eval/embed-pool.js';
import { sparseRetrievalAccuracy, tfidfVectors } from '../../src/eval/lexical.js';
import { pairCosines, rankScores, retrievalAccuracy, spearman, truncateNormalize } from '../../src/eval/metrics.js';
import { evaluate, QUALITY_DATASET_SEARCH } from '../../src/eval/run.js';
import { PromptProjection } from '../../src/model/projection.js';
import type { QualityRow } from '../../src/pack/manifest.js';
import { TextTokenizer } from '../../src/tokenizer/tokenizer.js';
import { quantizeLinear } from '../../src/weights/quantize.js';

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

describe('rank scores', () => {
  const scores = [
    [0.9, 0.5, 0.1],
    [0.7, 0.7, 0.2],
    [0.1, 0.2, 0.3],
  ];
  const sim = (i: number, j: number) => (scores[i] as number[])[j] as number;

  it('counts the answer first, breaking ties towards the earlier document', () => {
    // query 0 -> doc 0 first; query 1's answer (doc 1) ties doc 0, which comes first: rank 2.
    const r = rankScores(2, 3, sim, (i) => i);
    expect(r.r1).toBe(0.5);
    expect(r.mrr10).toBeCloseTo((1 + 1 / 2) / 2, 12);
  });

  it('gives no reciprocal rank below the tenth place', () => {
    const r = rankScores(
      1,
      12,
      (_i, j) => -j,
      () => 10,
    );
    expect(r).toEqual({ r1: 0, mrr10: 0 });
    expect(
      rankScores(
        1,
        12,
        (_i, j) => -j,
        () => 9,
      ).mrr10,
    ).toBeCloseTo(1 / 10, 12);
  });
});

describe('evaluate with xquad', () => {
  const ROOT = join(import.meta.dirname, '../..');
  const tokenizer = TextTokenizer.fromJson(JSON.parse(readFileSync(join(ROOT, 'public/models/m3-mini/tokenizer.json'), 'utf8')));
  // A bag of token ids folded into 64 buckets: a lexical "model" that finds paragraphs sharing a question's words.
  const seen: number[][] = [];
  const embed: EmbedExits = async (tokens) => {
    seen.push(...tokens);
    return [
      tokens.map((ids) => {
        const v = new Float32Array(64);
        for (const id of ids) v[id % 64] = (v[id % 64] as number) + 1;
        return v;
      }),
    ];
  };
  const paragraphs = [
    'The river Danube flows through Vienna and Budapest.',
    'Photosynthesis turns light into sugar in green leaves.',
  ];
  const xquad = new Map([
    [
      'en',
      {
        paragraphs,
        titles: ['Danube', 'Photosynthesis'],
        questions: [
          { text: 'Which river flows through Vienna?', paragraph: 0 },
          { text: 'What do green leaves turn light into?', paragraph: 1 },
        ],
      },
    ],
    [
      'de',
      {
        paragraphs: ['Die Donau fließt durch Wien und Budapest.', 'Photosynthese macht in grünen Blättern aus Licht Zucker.'],
        titles: ['Danube', 'Photosynthesis'],
        questions: [
          { text: 'Welcher Fluss fließt durch Wien?', paragraph: 0 },
          { text: 'Was machen grüne Blätter aus Licht?', paragraph: 1 },
        ],
      },
    ],
  ]);

  const input = {
    embed,
    tokenizer,
    maxTokens: 128,
    exits: [1],
    dims: [64],
    flores: new Map([
      ['eng_Latn', ['A cat sleeps.', 'Rain falls today.']],
      ['deu_Latn', ['Eine Katze schläft.', 'Heute fällt Regen.']],
    ]),
    sts: new Map([['en', { a: ['a cat', 'a dog', 'rain'], b: ['a cat sleeps', 'a car', 'sun'], score: [5, 1, 0] }]]),
    xquad,
    prefixes: { query: 'query: ', passage: 'passage: ' },
  };

  it('scores question -> paragraph retrieval per cell, with prefixes, and counts it in the score', async () => {
    const report = await evaluate(input);
    expect(report.table.dataset).toBe(QUALITY_DATASET_SEARCH);
    const row = report.table.rows[0] as QualityRow;
    const m = row.metrics as Record<string, number>;
    expect(m.xquadMonoR1).toBe(1);
    expect(m.xquadMonoMrr10).toBe(1);
    expect(m.xquadCrossR1).toBeGreaterThanOrEqual(0);
    expect(row.score).toBeCloseTo(
      ((m.floresXxEng as number) +
        (m.floresEngXx as number) +
        (m.stsMean as number) +
        ((m.xquadMonoMrr10 as number) + (m.xquadCrossMrr10 as number)) / 2) /
        4,
      12,
    );
    expect(report.xquadPerLanguage?.L1d64?.de).toEqual({ mono: 1, cross: m.xquadCrossR1 });
    expect(report.xquadPerLanguage?.lexical?.en).toEqual({ mono: 1 });
    const prefix = tokenizer.tokenIds('query:', false);
    const starts = (ids: number[]) => prefix.every((t, i) => ids[i + 1] === t);
    expect(seen.filter(starts)).toHaveLength(4);
  });

  it("runs each kind's task adapter on its own texts only, a call per adapter", async () => {
    const calls: { task: number | undefined; texts: number }[] = [];
    const recording: EmbedExits = async (tokens, task) => {
      calls.push({ task, texts: tokens.length });
      return embed(tokens);
    };
    await evaluate({ ...input, embed: recording, adapters: { query: 0, passage: 1 } });
    const count = (task: number | undefined) => calls.filter((c) => c.task === task).reduce((n, c) => n + c.texts, 0);
    // 4 questions, 4 paragraphs; the FLORES and STS texts (4 + 6) run without an adapter.
    expect([count(0), count(1), count(undefined)]).toEqual([4, 4, 10]);
  });

  it('maps the vectors of its kinds of text through the projection, and nothing else', async () => {
    // Buckets in reverse order: a question mapped so and its paragraph left alone no longer match.
    const reverse = new Float32Array(64 * 64);
    for (let r = 0; r < 64; r++) reverse[r * 64 + 63 - r] = 1;
    const projection = new PromptProjection({
      kinds: ['query'],
      byExit: new Map([[1, quantizeLinear(reverse, 64, 64, new Float32Array(64), 'f32')]]),
    });
    const plain = (await evaluate(input)).table.rows[0]?.metrics as Record<string, number>;
    const projected = (await evaluate({ ...input, projection })).table.rows[0]?.metrics as Record<string, number>;
    expect(projected.xquadMonoR1).toBeLessThan(1);
    for (const key of ['floresXxEng', 'floresEngXx', 'stsMean']) expect(projected[key]).toBe(plain[key]);
  });
});
