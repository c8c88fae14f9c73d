import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEncoder, createIndex } from '../../src/client/client.js';
import type { Encoder } from '../../src/client/encoder.js';
import { openIndex } from '../../src/search/index.js';
import type { IndexEncoder } from '../../src/search/types.js';
import type { EmbedResult } from '../../src/types.js';
import { recordingEncoder } from '../support/recording-encoder.js';
import { rejection } from '../support/rejection.js';

// Bad input found by probing the public API (scratch/probe, 2026-12-05): each gets a typed error,
// never a TypeError, a silent default, a vector of nothing, or a call that cannot be stopped.

const FIXTURES = join(import.meta.dirname, '../oracle/fixtures');
const BERT = join(FIXTURES, 'bert-tiny');
const RERANKER = join(FIXTURES, 'ce-bert-tiny');
/** Characters no tokenizer reads: NUL, a zero-width space, an unpaired surrogate. */
const NOTHING = ['\u0000', '\u200b', '\ud800'];

describe('encoder calls', () => {
  let enc: Encoder;
  let reranker: Encoder;
  beforeAll(async () => {
    [enc, reranker] = await Promise.all([
      createEncoder({ model: BERT, device: 'cpu' }),
      createEncoder({ model: RERANKER, device: 'cpu' }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([enc.dispose(), reranker.dispose()]);
  });

  it('options: an object of known keys, normalize a boolean', async () => {
    for (const options of ['x', 42, [], { dim: 16 }, { normalize: 'yes' }, { normalize: 0 }]) {
      expect(await rejection(enc.embed(['a cat'], options as never))).toMatchObject({ code: 'INVALID_INPUT' });
    }
    expect(await rejection(enc.embed(['a cat'], { dim: 16 } as never))).toMatchObject({
      message: expect.stringMatching(/unknown option "dim"/),
    });
    expect(await rejection(reranker.rerank('q', ['d'], { top: 1 } as never))).toMatchObject({ code: 'INVALID_INPUT' });
    // Checked before the empty list answers.
    expect(await rejection(reranker.rerank('q', [], { long: 'bogus' } as never))).toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('a text of characters the tokenizer reads none of is refused, by its place', async () => {
    for (const t of NOTHING) {
      const err = await rejection(enc.embed(['a cat', t]));
      expect(err).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/texts\[1\]/) });
      expect(await rejection(reranker.rerank('where is the cat', ['a cat', t]))).toMatchObject({
        code: 'INVALID_INPUT',
        message: expect.stringMatching(/documents\[1\]/),
      });
      expect(await rejection(reranker.rerank(t, ['a cat']))).toMatchObject({ code: 'INVALID_INPUT' });
    }
    // An unknown character is still a token ([UNK]): that text embeds.
    expect(await enc.embed(['☃'])).toHaveLength(1);
  });

  it('signal: an AbortSignal; one aborted already starts nothing; one aborted mid-call stops it between chunks', async () => {
    for (const signal of [{}, 'nope', { aborted: false }]) {
      expect(await rejection(enc.embed(['a cat'], { signal } as never))).toMatchObject({ code: 'INVALID_INPUT' });
    }
    expect(await rejection(enc.embed(['a cat'], { signal: AbortSignal.abort() }))).toMatchObject({ code: 'ABORTED' });
    // Thousands of texts run in chunks of 256: the timer fires at the first chunk boundary.
    const many = Array.from({ length: 3000 }, (_, i) => `text number ${i}`);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 0);
    expect(await rejection(enc.embed(many, { signal: controller.signal }))).toMatchObject({ code: 'ABORTED' });
    expect(await enc.embed(['a cat'])).toHaveLength(1);
  });
});

describe('models and encoders that answer garbage', () => {
  it('weights holding NaN give a MODEL_FORMAT error, not NaN vectors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'm3web-nan-'));
    for (const f of readdirSync(BERT)) if (!f.startsWith('expected')) copyFileSync(join(BERT, f), join(dir, f));
    const bytes = new Uint8Array(readFileSync(join(dir, 'model.safetensors')));
    const view = new DataView(bytes.buffer);
    const n = Number(view.getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<string, { data_offsets: number[] }>;
    const name = Object.keys(header).find((k) => k.endsWith('layer.0.output.dense.bias')) as string;
    view.setFloat32(8 + n + (header[name]?.data_offsets[0] as number), Number.NaN, true);
    writeFileSync(join(dir, 'model.safetensors'), bytes);
    const enc = await createEncoder({ model: dir, device: 'cpu' });
    try {
      expect(await rejection(enc.embed(['a cat']))).toMatchObject({
        code: 'MODEL_FORMAT',
        message: expect.stringMatching(/NaN/),
      });
    } finally {
      await enc.dispose();
    }
  });

  it("an index checks a custom encoder's answers: one Float32Array of finite numbers per text", async () => {
    const honest = recordingEncoder();
    // Lies about documents, or (once `queries` is set) only about queries.
    let queries = false;
    const lying = (change: (r: EmbedResult) => unknown): IndexEncoder => ({
      info: honest.info,
      embedDetailed: async (texts, options) => {
        const r = await honest.embedDetailed(texts, options);
        return (queries && options?.kind !== 'query' ? r : change(r)) as EmbedResult;
      },
    });
    const cases: [string, (r: EmbedResult) => unknown][] = [
      ['too few', (r) => ({ ...r, vectors: r.vectors.slice(1) })],
      ['too many', (r) => ({ ...r, vectors: [...r.vectors, ...r.vectors] })],
      ['number[]', (r) => ({ ...r, vectors: r.vectors.map((v) => Array.from(v)) })],
      ['NaN', (r) => ({ ...r, vectors: r.vectors.map((v) => v.map(() => Number.NaN)) })],
    ];
    for (const [what, change] of cases) {
      const index = await openIndex({ encoder: lying(change), name: `lying-${what}`, device: 'cpu' });
      try {
        expect(
          await rejection(
            index.add([
              { id: 'a', text: 'a cat' },
              { id: 'b', text: 'a dog' },
            ]),
          ),
          what,
        ).toMatchObject({
          code: 'INVALID_INPUT',
        });
        expect(index.size, what).toBe(0);
        queries = true;
        await index.add([{ id: 'a', text: 'a cat' }]);
        expect(await rejection(index.search('cat', { mode: 'vector' })), what).toMatchObject({ code: 'INVALID_INPUT' });
      } finally {
        queries = false;
        index.close();
      }
    }
  });
});

describe('searches with a rerank step, and closed indexes', () => {
  it('checks k, and what a custom reranker returns', async () => {
    const encoder = recordingEncoder();
    const index = await openIndex({ encoder, name: 'rerank-checks', device: 'cpu' });
    await index.add(['a cat', 'a dog', 'a bird'].map((text, i) => ({ id: `d${i}`, text })));
    const rerank = (answer: unknown) => ({ reranker: { rerank: async () => answer as never } });
    try {
      for (const k of [0, -1, 1.5, 'x']) {
        expect(await rejection(index.search('cat', { k: k as number, rerank: rerank([]) }))).toMatchObject({
          code: 'INVALID_INPUT',
          message: expect.stringMatching(/^k must be/),
        });
      }
      for (const answer of [
        null,
        'x',
        [{ index: 99, score: 1 }],
        [{ index: 0, score: Number.NaN }],
        [{ index: 0 }, { index: 0 }],
      ]) {
        expect(await rejection(index.search('cat', { rerank: rerank(answer) }))).toMatchObject({ code: 'INVALID_INPUT' });
      }
      const [best] = await index.search('cat', { k: 1, rerank: rerank([{ index: 2, score: 0.9 }]) });
      expect(best?.rerankScore).toBe(0.9);
    } finally {
      index.close();
    }
  });

  it('an index closed by its client answers DISPOSED', async () => {
    const encoder = await createEncoder({ model: BERT, device: 'cpu' });
    try {
      const index = await createIndex({ encoder, name: 'closing' });
      index.close();
      expect(await rejection(index.search('cat'))).toMatchObject({ code: 'DISPOSED' });
    } finally {
      await encoder.dispose();
    }
  });
});

describe('createEncoder options', () => {
  it('dtype, layers, cache and hub of the wrong kind or range are refused', async () => {
    for (const options of [{ dtype: 'q3' }, { layers: 1.5 }, { layers: -1 }, { cache: 'no' }, { hub: 'x' }]) {
      expect(await rejection(createEncoder({ model: BERT, device: 'cpu', ...options } as never))).toMatchObject({
        code: 'INVALID_INPUT',
      });
    }
    // Past the model's depth: a checkpoint folder and a pack alike.
    for (const model of [BERT, join(import.meta.dirname, '../../public/models/m3-mini')]) {
      expect(await rejection(createEncoder({ model, device: 'cpu', layers: 99 }))).toMatchObject({
        code: 'INVALID_INPUT',
        message: expect.stringMatching(/layers must be an integer/),
      });
    }
  });
});
