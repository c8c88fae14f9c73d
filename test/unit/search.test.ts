import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { chunkBudget, chunkText, estimateTokens } from '../../src/search/chunk.js';
import { codec, decodeRow, encodeQuery, encodeRow, int8Lane, popcount } from '../../src/search/codec.js';
import { CpuScorer } from '../../src/search/cpu-scorer.js';
import { metaPredicate } from '../../src/search/filter.js';
import { candidateCount, coarseWidth, rankRows } from '../../src/search/funnel.js';
import { PAGE_ROWS, RowStore } from '../../src/search/rows.js';
import { parseIndex, serializeIndex } from '../../src/search/serialize.js';
import { windowedSegments } from '../../src/search/text-windows.js';
import { MASKED_SCORE, selectTop } from '../../src/search/topk.js';
import type { VectorType } from '../../src/search/types.js';
import { checkDocs, checkIds, checkSearch } from '../../src/search/validate.js';
import { randomArray, rng } from '../support/random.js';

// The plain-TypeScript parts of the search index: vector encodings, the CPU scorer (the GPU's
// reference), top-k selection, chunking, filters, input checks and the export format.

const unit = (v: Float32Array) => {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};
const dot = (a: ArrayLike<number>, b: ArrayLike<number>, n = a.length) => {
  let s = 0;
  for (let i = 0; i < n; i++) s += (a[i] as number) * (b[i] as number);
  return s;
};

function storeOf(type: VectorType, vectors: Float32Array[]): RowStore {
  const c = codec(type, vectors[0]?.length ?? 0);
  const store = new RowStore(c);
  const words = new Uint32Array(vectors.length * c.rowWords);
  const scales = new Float32Array(vectors.length);
  vectors.forEach((v, i) => {
    scales[i] = encodeRow(c, v, words.subarray(i * c.rowWords, (i + 1) * c.rowWords));
  });
  store.append(words, scales);
  return store;
}

const all = (n: number) => new Uint32Array(Math.ceil(n / 32)).fill(0xffffffff);

describe('vector encodings', () => {
  it('int8 rows dequantise to the normalised vector within half a step per dim', () => {
    const v = randomArray(40, 1, rng(1));
    const c = codec('int8', 40);
    const words = new Uint32Array(c.rowWords);
    const scale = encodeRow(c, v, words);
    const u = unit(v);
    for (let i = 0; i < 40; i++) {
      const back = int8Lane(words[i >>> 2] as number, i & 3) * scale;
      expect(Math.abs(back - (u[i] as number))).toBeLessThanOrEqual(scale / 2 + 1e-7);
    }
    expect(Math.max(...u.map(Math.abs))).toBeCloseTo(127 * scale, 6);
  });

  it('binary rows hold one sign bit per dim, and queries are zero past their width', () => {
    const v = randomArray(100, 1, rng(2));
    const c = codec('binary', 100);
    expect(c.rowWords).toBe(4);
    const words = new Uint32Array(c.rowWords);
    encodeRow(c, v, words);
    for (let i = 0; i < 100; i++) expect(((words[i >>> 5] as number) >>> (i & 31)) & 1).toBe((v[i] as number) > 0 ? 1 : 0);
    const q = encodeQuery(c, v, 40);
    expect(q[1] as number).toBe((words[1] as number) & 0xff);
    expect(q[2]).toBe(0);
    expect(popcount(0xffffffff)).toBe(32);
    expect(popcount(0x80000001)).toBe(2);
  });
});

describe('CPU scorer', () => {
  const vectors = Array.from({ length: 300 }, (_, i) => randomArray(64, 1, rng(10 + i)));
  const q = unit(randomArray(64, 1, rng(3)));

  it('f32: full width is the cosine, a prefix width the cosine of the prefixes', async () => {
    const store = storeOf('f32', vectors);
    const s = new CpuScorer(store);
    const full = await s.scoreAll(encodeQuery(store.codec, q, 64), 64, all(300));
    vectors.forEach((v, r) => {
      expect(full[r]).toBeCloseTo(dot(q, unit(v)), 6);
    });
    // 22 ends inside a 4-dim block.
    for (const width of [16, 22]) {
      const prefix = await s.scoreAll(encodeQuery(store.codec, q, width), width, all(300));
      vectors.forEach((v, r) => {
        expect(prefix[r]).toBeCloseTo(dot(q, v, width) / Math.hypot(...v.subarray(0, width)), 6);
      });
    }
  });

  it('int8 at a prefix width is the cosine of the decoded prefixes', async () => {
    const store = storeOf('int8', vectors);
    const s = new CpuScorer(store);
    // 22 ends inside a 16-dim block and inside one of its words.
    const width = 22;
    const got = await s.scoreAll(encodeQuery(store.codec, q, width), width, all(300));
    vectors.forEach((_, r) => {
      const { words, scales } = store.read([r]);
      const v = decodeRow(store.codec, words, scales[0] as number);
      expect(got[r]).toBeCloseTo(dot(q, v, width) / Math.hypot(...v.subarray(0, width)), 6);
    });
  });

  it('int8 is within quantisation error of f32, binary counts agreeing signs', async () => {
    const i8 = new CpuScorer(storeOf('int8', vectors));
    const bin = new CpuScorer(storeOf('binary', vectors));
    const got8 = await i8.scoreAll(encodeQuery(codec('int8', 64), q, 64), 64, all(300));
    const gotBin = await bin.scoreAll(encodeQuery(codec('binary', 64), q, 64), 64, all(300));
    vectors.forEach((v, r) => {
      expect(Math.abs((got8[r] as number) - dot(q, unit(v)))).toBeLessThan(0.02);
      const agree = [...v].filter((x, i) => x > 0 === (q[i] as number) > 0).length;
      expect(gotBin[r]).toBeCloseTo((2 * agree - 64) / 64, 6);
    });
  });

  it('gives masked rows MASKED_SCORE and leaves them out of top()', async () => {
    const store = storeOf('f32', vectors);
    const s = new CpuScorer(store);
    const query = encodeQuery(store.codec, vectors[7] as Float32Array, 64);
    const mask = all(300);
    mask[0] = (mask[0] as number) & ~(1 << 7);
    expect((await s.scoreAll(query, 64, mask))[7]).toBe(MASKED_SCORE);
    const top = await s.top(query, 64, 300, mask);
    expect(top.rows.length).toBe(299);
    expect([...top.rows]).not.toContain(7);
  });
});

describe('selectTop', () => {
  it('equals a full sort by score, then by row, on data full of ties', () => {
    const next = rng(5);
    const scores = Array.from({ length: 2000 }, () => Math.round(next() * 40) / 40);
    const rows = Array.from({ length: 2000 }, (_, i) => (i * 7919) % 2000);
    const sorted = rows.map((row, i) => ({ row, score: scores[i] as number })).sort((a, b) => b.score - a.score || a.row - b.row);
    for (const k of [1, 10, 333, 2000, 5000]) {
      const got = selectTop(scores, rows, k);
      expect([...got.rows]).toEqual(sorted.slice(0, k).map((e) => e.row));
      expect([...got.scores]).toEqual(sorted.slice(0, k).map((e) => Math.fround(e.score)));
    }
  });
});

describe('funnel', () => {
  it('picks the coarse width from the trained widths', () => {
    expect(coarseWidth(384, [64, 128, 256, 384])).toBe(64);
    expect(coarseWidth(768, [32, 64, 128, 256, 768])).toBe(128);
    expect(coarseWidth(48, [16, 48])).toBe(16);
    expect(coarseWidth(256, [128, 256])).toBe(128);
    expect(coarseWidth(64, [64, 128])).toBeNull();
    expect(candidateCount(10)).toBe(200);
    expect(candidateCount(50)).toBe(500);
  });

  it('re-scores the coarse candidates at full width: with every row a candidate it is the exact search', async () => {
    const vectors = Array.from({ length: 500 }, (_, i) => randomArray(64, 1, rng(i)).map((x, d) => x / Math.sqrt(d + 1)));
    const store = storeOf('f32', vectors);
    const coarseStore = storeOf(
      'int8',
      vectors.map((v) => v.slice(0, 16)),
    );
    const full = { scorer: new CpuScorer(store), store };
    const coarse = { scorer: new CpuScorer(coarseStore), store: coarseStore };
    const q = unit(randomArray(64, 1, rng(99)));
    const o = { width: 64, k: 10, mask: all(500), exact: false };
    const exact = await rankRows(full, coarse, q, { ...o, exact: true, candidates: 20 });
    expect([...exact.rows]).toEqual([...(await full.scorer.top(encodeQuery(store.codec, q, 64), 64, 10, all(500))).rows]);
    expect([...(await rankRows(full, coarse, q, { ...o, candidates: 499 })).rows]).toEqual([...exact.rows]);

    const first = await coarse.scorer.top(encodeQuery(coarseStore.codec, q, 16), 16, 20, all(500));
    const narrow = await rankRows(full, coarse, q, { ...o, candidates: 20 });
    expect([...narrow.rows].every((r) => first.rows.includes(r))).toBe(true);
    expect([...narrow.rows]).not.toEqual([...exact.rows]);
    expect([...narrow.scores]).toEqual([...narrow.scores].sort((a, b) => b - a));
  });
});

describe('row store', () => {
  it('reads back what it stored, and compaction keeps order and reports moved rows as dirty', () => {
    const vectors = Array.from({ length: PAGE_ROWS + 40 }, (_, i) => randomArray(20, 1, rng(i)));
    const store = storeOf('int8', vectors);
    const before = store.read([3, PAGE_ROWS + 5]);
    expect(store.takeDirty()).toEqual([
      { page: 0, lo: 0, hi: PAGE_ROWS },
      { page: 1, lo: 0, hi: 40 },
    ]);
    const map = store.compact((row) => row !== 1 && row !== 2);
    expect(store.count).toBe(PAGE_ROWS + 38);
    expect([map[0], map[1], map[3], map[PAGE_ROWS + 5]]).toEqual([0, -1, 1, PAGE_ROWS + 3]);
    const after = store.read([1, PAGE_ROWS + 3]);
    expect(after).toEqual(before);
    expect(store.takeDirty()).toEqual([
      { page: 0, lo: 1, hi: PAGE_ROWS },
      { page: 1, lo: 0, hi: 38 },
    ]);
  });
});

describe('chunking', () => {
  const words = Array.from({ length: 400 }, (_, i) => `word${i}`);
  const long = words.join(' ');

  it('keeps a text that fits as one chunk', () => {
    expect(chunkText('a short text', 20)).toEqual(['a short text']);
  });

  it('cuts a long text into overlapping chunks of whole words within the budget, covering every word in order', () => {
    const chunks = chunkText(long, 50);
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) {
      expect(estimateTokens(c)).toBeLessThanOrEqual(50);
      expect(long.includes(c)).toBe(true);
    }
    for (let i = 1; i < chunks.length; i++) {
      const prev = (chunks[i - 1] as string).split(' ');
      const cur = (chunks[i] as string).split(' ');
      expect(prev.includes(cur[0] as string)).toBe(true);
      expect(words.indexOf(cur[0] as string)).toBeGreaterThan(words.indexOf(prev[0] as string));
    }
    const seen = new Set(chunks.flatMap((c) => c.split(' ')));
    expect(words.every((w) => seen.has(w))).toBe(true);
  });

  it('ends chunks at sentence ends and starts them at sentence starts where the budget allows', () => {
    const sentences = Array.from({ length: 30 }, (_, i) => `Sentence ${i} has a few more words in it.`);
    const text = sentences.join(' ');
    const chunks = chunkText(text, 40);
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks) {
      expect(estimateTokens(c)).toBeLessThanOrEqual(40);
      expect(c).toMatch(/^Sentence \d+ .*\.$/);
    }
    const firstOf = (c: string) => Number(/^Sentence (\d+)/.exec(c)?.[1]);
    const lastOf = (c: string) => Number(/Sentence (\d+)[^.]*\.$/.exec(c)?.[1]);
    for (let i = 1; i < chunks.length; i++) {
      // Overlapping by whole sentences, moving forward, none skipped.
      expect(firstOf(chunks[i] as string)).toBeGreaterThan(firstOf(chunks[i - 1] as string));
      expect(firstOf(chunks[i] as string)).toBeLessThanOrEqual(lastOf(chunks[i - 1] as string) + 1);
    }
    expect(lastOf(chunks.at(-1) as string)).toBe(29);

    const zh = '今天天气很好，我们去公园散步。'.repeat(12);
    expect(chunkText(zh, 40).every((c) => c.endsWith('。'))).toBe(true);
    // A sentence longer than a chunk is cut by words, as text without sentences is.
    const run = `${'word '.repeat(100)}end.`;
    expect(chunkText(run, 30).every((c) => estimateTokens(c) <= 30)).toBe(true);
  });

  it('reads long texts in windows cut between words: the same words at the same places as in one piece', () => {
    const words = new Intl.Segmenter('en', { granularity: 'word' });
    const text = Array.from({ length: 3000 }, (_, i) => `w${i}${i % 7 === 0 ? '.\n' : ' '}`).join('');
    const whole = [...words.segment(text)].map((s) => [s.index, s.segment]);
    const windowed = [...windowedSegments(text, words)].map((s) => [s.index, s.segment]);
    expect(text.length).toBeGreaterThan(3 * 4096);
    expect(windowed).toEqual(whole);
    // A text with no spaces at all is cut at the window's length, never inside a surrogate pair.
    const emoji = '😋'.repeat(5000);
    const pieces = [...windowedSegments(emoji, new Intl.Segmenter('en', { granularity: 'grapheme' }))];
    expect(pieces.every((s) => s.segment === '😋')).toBe(true);
    expect(pieces).toHaveLength(5000);
  });

  it('counts a token per CJK character and cuts words longer than a chunk', () => {
    const cjk = '敏捷的棕色狐狸跳过了懒狗'.repeat(10);
    const chunks = chunkText(cjk, 30);
    expect(chunks.every((c) => [...c].length <= 30)).toBe(true);
    expect(chunks.length).toBeGreaterThanOrEqual(4);
    const huge = 'x'.repeat(1000);
    expect(chunkText(huge, 20).every((c) => estimateTokens(c) <= 20)).toBe(true);
    expect(chunkBudget(64, 'passage: ')).toBe(64 - 2 - estimateTokens('passage: '));
  });
});

describe('meta filters', () => {
  it('matches every key of an object filter with deep JSON equality', () => {
    const keep = metaPredicate({ lang: 'de', tags: ['a', 'b'], n: { x: 1 } });
    expect(keep({ lang: 'de', tags: ['a', 'b'], n: { x: 1 }, other: true })).toBe(true);
    expect(keep({ lang: 'de', tags: ['a'], n: { x: 1 } })).toBe(false);
    expect(keep({ lang: 'de', tags: ['a', 'b'], n: { x: 1, y: 2 } })).toBe(false);
    expect(keep({ tags: ['a', 'b'], n: { x: 1 } })).toBe(false);
    expect(metaPredicate({ missing: null })({})).toBe(false);
    expect(metaPredicate((m) => m.year === 2020)({ year: 2020 })).toBe(true);
  });
});

describe('input checks', () => {
  const bad = (f: () => unknown, message: RegExp) =>
    expect(f).toThrow(expect.objectContaining({ name: 'InputError', message: expect.stringMatching(message) }));

  it('rejects malformed documents with InputError', () => {
    bad(() => checkDocs('nope', 'add'), /array/);
    bad(
      () =>
        checkDocs(
          [
            { id: 'a', text: 'x' },
            { id: 'a', text: 'y' },
          ],
          'add',
        ),
      /twice/,
    );
    bad(() => checkDocs([{ id: 'a', text: '  ' }], 'add'), /empty/);
    bad(() => checkDocs([{ id: 7, text: 'x' }], 'upsert'), /id must be a non-empty string/);
    bad(() => checkDocs([{ id: 'a', text: 'x', meta: { when: new Date() } }], 'add'), /JSON/);
    bad(() => checkDocs([{ id: 'a', text: 'x', meta: { n: Number.NaN } }], 'add'), /finite/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    bad(() => checkDocs([{ id: 'a', text: 'x', meta: cyclic }], 'add'), /itself/);
    bad(() => checkIds(['a', 3]), /ids\[1\]/);
    expect(checkDocs([{ id: 'a', text: 'x', meta: { k: [1, 'two', null] } }], 'add')).toEqual([
      { id: 'a', text: 'x', meta: { k: [1, 'two', null] } },
    ]);
  });

  it('rejects bad search options', () => {
    bad(() => checkSearch('', {}, 48, [16, 48]), /search: query is empty or only whitespace/);
    bad(() => checkSearch('q', { k: 0 }, 48, [16, 48]), /positive integer/);
    bad(() => checkSearch('q', { dims: 32 }, 48, [16, 48]), /16, 48/);
    bad(() => checkSearch('q', { dims: 48 }, 16, [16, 48]), /up to the index's 16/);
    bad(() => checkSearch('q', { candidates: 5 }, 48, [16, 48]), />= k/);
    expect(checkSearch('q', { dims: 16 }, 48, [16, 48])).toMatchObject({ k: 10, dims: 16, exact: false });
  });
});

describe('export format', () => {
  const signature = { model: 'm', layers: 2, dims: 48, vector: 'int8' as const };
  const store = storeOf('int8', [randomArray(48, 1, rng(1)), randomArray(48, 1, rng(2)), randomArray(48, 1, rng(3))]);
  const segment = {
    docs: [
      { id: 'a', meta: { x: 1 }, chunks: ['one', 'two'] },
      { id: 'b', chunks: ['three'] },
    ],
    ...store.read([0, 1, 2]),
  };

  it('round-trips documents, meta, vectors and scales', () => {
    expect(parseIndex(serializeIndex(signature, segment))).toEqual({ signature, segment });
  });

  it('rejects other bytes, damaged headers and truncated data with InputError', () => {
    const bytes = serializeIndex(signature, segment);
    for (const broken of [
      new Uint8Array([1, 2, 3]),
      bytes.slice(0, bytes.length - 4),
      Uint8Array.from(bytes, (b, i) => (i === 20 ? 0 : b)),
    ]) {
      expect(() => parseIndex(broken)).toThrow(InputError);
    }
    expect(() => parseIndex('bytes')).toThrow(InputError);
  });
});
