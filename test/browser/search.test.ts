import { createStore, get, keys } from 'idb-keyval';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createEncoder, createIndex } from '../../src/client/client.js';
import { InputError, StorageQuotaError } from '../../src/errors.js';
import type { IndexDoc, IndexEncoder, IndexOptions, VectorIndex } from '../../src/search/index.js';
import { parseIndex } from '../../src/search/serialize.js';
import type { EmbedOptions, EmbedResult, EncoderInfo } from '../../src/types.js';
import { cosine, rng } from '../support/random.js';
import { rejection } from '../support/rejection.js';

// createIndex in headless Chromium: real IndexedDB, WebGPU scoring on SwiftShader. Most tests
// use a fake encoder (bag-of-words vectors from hashed words), one the real worker encoder.

interface FakeOptions {
  id?: string;
  exits?: number[];
  dims?: number[];
  maxTokens?: number;
  backend?: 'webgpu' | 'cpu';
  /** Tokens the fake counts per word: above the chunker's estimate, it forces re-splits. */
  tokensPerWord?: number;
}

interface Call {
  texts: string[];
  options: EmbedOptions;
}

function hash(s: string): number {
  let h = 2166136261;
  for (const ch of s) h = Math.imul(h ^ (ch.codePointAt(0) as number), 16777619);
  return h >>> 0;
}

const wordsOf = (text: string) => text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];

/** Deterministic vectors: the sum of a random vector per word, earlier dims larger (Matryoshka-like). */
function fakeEncoder(o: FakeOptions = {}): IndexEncoder & { calls: Call[] } {
  const dims = o.dims ?? [16, 48];
  const exits = o.exits ?? [2, 4];
  const maxTokens = o.maxTokens ?? 64;
  const width = Math.max(...dims);
  const calls: Call[] = [];
  const wordVector = (w: string) => {
    const next = rng(hash(w));
    return Float32Array.from({ length: width }, (_, i) => (next() - 0.5) / Math.sqrt(i + 1));
  };
  const info: EncoderInfo = {
    model: {
      id: o.id ?? 'fake-words',
      source: 'test',
      layers: Math.max(...exits),
      hiddenSize: width,
      exits,
      dims,
      pooling: 'mean',
      maxTokens,
      quantization: 'f32',
      prefixes: { query: 'query: ' },
      quality: null,
    },
    backend: o.backend ?? 'webgpu',
    adapter: null,
    activations: null,
    backends: {
      short: { backend: o.backend ?? 'webgpu', reason: 'test' },
      batch: { backend: o.backend ?? 'webgpu', reason: 'test' },
    },
    fallbackReason: null,
    loadedLayers: Math.max(...exits),
    fromCache: false,
    engine: { shared: false, clients: 1 },
  };
  return {
    calls,
    info: async () => info,
    async embedDetailed(texts: string[], options: EmbedOptions = {}): Promise<EmbedResult> {
      calls.push({ texts, options });
      const d = options.dims ?? width;
      const fit = Math.floor((maxTokens - 2) / (o.tokensPerWord ?? 1));
      const words = texts.map(wordsOf);
      const vectors = words.map((ws) => {
        const v = new Float32Array(width).fill(1e-3);
        for (const w of ws.slice(0, fit)) {
          const wv = wordVector(w);
          for (let i = 0; i < width; i++) v[i] = (v[i] as number) + (wv[i] as number);
        }
        const cut = v.slice(0, d);
        const n = Math.hypot(...cut);
        return cut.map((x) => x / n);
      });
      return {
        vectors,
        tokens: words.map((ws) => Math.min(ws.length * (o.tokensPerWord ?? 1), maxTokens - 2) + 2),
        truncated: words.map((ws) => ws.length > fit),
        layers: texts.map(() => (typeof options.layers === 'number' ? options.layers : Math.max(...exits))),
      };
    },
  };
}

const FRUIT = 'apple banana cherry mango fruit salad';
const DOCS: IndexDoc[] = [
  { id: 'fruit', text: 'Fresh apple and banana fruit salad with mango', meta: { topic: 'food', lang: 'en' } },
  { id: 'cars', text: 'Fast red sports cars race on the track', meta: { topic: 'cars', lang: 'en' } },
  { id: 'obst', text: 'Apfel und Banane im Obstsalat', meta: { topic: 'food', lang: 'de' } },
  {
    id: 'space',
    text: 'Rockets carry satellites into orbit around the planet',
    meta: { topic: 'space', lang: 'en', year: 2020 },
  },
  { id: 'cherry', text: 'cherry pie recipe with cherry jam', meta: { topic: 'food', lang: 'en', year: 2021 } },
];

/** Many documents of 3 to 10 words from a small vocabulary: enough rows for several GPU pages and ties to be rare. */
function manyDocs(n: number, seed: number): IndexDoc[] {
  const vocab = Array.from({ length: 300 }, (_, i) => `w${i}`);
  const next = rng(seed);
  return Array.from({ length: n }, (_, i) => ({
    id: `doc-${i}`,
    text: Array.from({ length: 3 + Math.floor(next() * 8) }, () => vocab[Math.floor(next() * vocab.length)]).join(' '),
    meta: { bucket: i % 3 },
  }));
}

let runId = 0;
/** A fresh IndexedDB name per test and per run (the browser profile outlives one test). */
const freshName = () => `t${Date.now().toString(36)}-${runId++}`;

const opened: VectorIndex[] = [];
async function open(options: Partial<IndexOptions> & { encoder: IndexEncoder }): Promise<VectorIndex> {
  const index = await createIndex({ name: freshName(), ...options });
  opened.push(index);
  return index;
}

afterEach(() => {
  vi.restoreAllMocks();
  for (const index of opened.splice(0)) index.close();
});

describe('search', () => {
  it('finds documents best first, one hit per document with its best chunk, embedding passages and queries as such', async () => {
    const encoder = fakeEncoder();
    const index = await open({ encoder, device: 'webgpu' });
    expect(index.backend).toBe('webgpu');
    const long = Array.from({ length: 200 }, (_, i) => `filler${i}`);
    long.splice(150, 0, ...wordsOf(FRUIT));
    await index.add([...DOCS, { id: 'long', text: long.join(' ') }]);
    expect(index.size).toBe(6);
    expect(encoder.calls.every((c) => c.options.kind === 'passage' && c.options.layers === 4 && c.options.dims === 48)).toBe(
      true,
    );

    const hits = await index.search(FRUIT, { k: 6, mode: 'vector' });
    expect(encoder.calls.at(-1)?.options).toMatchObject({ kind: 'query', layers: 4, dims: 48 });
    expect(hits[0]?.id).toBe('fruit');
    expect(new Set(hits.map((h) => h.id)).size).toBe(hits.length);
    expect(hits.map((h) => h.score)).toEqual([...hits.map((h) => h.score)].sort((a, b) => b - a));
    const longHit = hits.find((h) => h.id === 'long');
    expect(longHit?.chunk.index).toBeGreaterThan(0);
    expect(longHit?.chunk.text).toContain(FRUIT);
    expect(hits[0]).toEqual({
      id: 'fruit',
      score: expect.any(Number),
      ranks: { vector: 1 },
      meta: DOCS[0]?.meta,
      chunk: { index: 0, text: DOCS[0]?.text, highlights: expect.any(Array) },
    });
    // A vector hit marks the query's words its text holds too.
    expect(hits[0]?.chunk.highlights.length).toBeGreaterThan(0);
    expect((await index.search(FRUIT, { k: 2, dims: 16 })).length).toBe(2);
  });

  it('filters by meta, with an object (equality) or a function', async () => {
    const index = await open({ encoder: fakeEncoder(), device: 'cpu' });
    await index.add(DOCS);
    const de = await index.search(FRUIT, { filter: { lang: 'de' } });
    expect(de.map((h) => h.id)).toEqual(['obst']);
    const food = await index.search(FRUIT, { filter: { topic: 'food', lang: 'en' } });
    expect(food.map((h) => h.id).sort()).toEqual(['cherry', 'fruit']);
    const recent = await index.search(FRUIT, { filter: (m) => typeof m.year === 'number' && m.year > 2020 });
    expect(recent.map((h) => h.id)).toEqual(['cherry']);
    expect(await index.search(FRUIT, { filter: { topic: 'none' } })).toEqual([]);
  });

  it('hybrid by default: both rankers fused, each hit naming its ranks; lexical alone calls no encoder', async () => {
    const encoder = fakeEncoder();
    // Whole words only: BM25 then finds the one document holding the query's words.
    const index = await open({ encoder, device: 'cpu', ngrams: false });
    await index.add([...DOCS, ...manyDocs(60, 5)]);
    const query = 'cherry jam';
    const vector = await index.search(query, { k: 5, mode: 'vector' });
    const lexical = await index.search(query, { k: 5, mode: 'lexical' });
    const hybrid = await index.search(query, { k: 5 });
    expect(lexical.map((h) => h.id)).toEqual(['cherry']);
    expect(lexical[0]?.ranks).toEqual({ lexical: 1 });
    expect(vector.every((h, i) => h.ranks.vector === i + 1 && h.ranks.lexical === undefined)).toBe(true);
    expect(hybrid[0]).toMatchObject({ id: 'cherry', ranks: { lexical: 1 } });
    expect(hybrid[0]?.score).toBeCloseTo(1 / 61 + (hybrid[0]?.ranks.vector ? 1 / (60 + hybrid[0].ranks.vector) : 0), 6);
    const calls = encoder.calls.length;
    await index.search('banana', { mode: 'lexical' });
    expect(encoder.calls.length).toBe(calls);
    // Only the vector ranker: weight 0 for the lexical one gives the vector order.
    const weighted = await index.search(query, { k: 5, fusion: { weights: { lexical: 0 } } });
    expect(weighted.map((h) => h.id)).toEqual(vector.map((h) => h.id));
    // A typo is read as the indexed word nearest it in spelling ("recipe"), and marked.
    const [typo] = await index.search('remipe', { mode: 'lexical' });
    expect(typo).toMatchObject({ id: 'cherry', chunk: { highlights: [[11, 17]] } });
    expect(await index.search('remipe', { mode: 'lexical', typos: false })).toEqual([]);
    // Filters reach both rankers.
    expect((await index.search(query, { mode: 'lexical', filter: { lang: 'de' } })).length).toBe(0);
    const bad: unknown[] = [
      { mode: 'bm25' },
      { fusion: { k: -1 } },
      { fusion: { weights: { splade: 1 } } },
      { fusion: 3 },
      { fusion: { method: 'sum' } },
      { fusion: { method: 'scores', k: 60 } },
    ];
    for (const options of bad) {
      await expect(rejection(index.search(query, options as never)), JSON.stringify(options)).resolves.toBeInstanceOf(InputError);
    }
  });

  for (const vector of ['f32', 'int8', 'binary'] as const) {
    it(`${vector}: the WebGPU and CPU scorers return the same hits, exact and funnel`, async () => {
      const docs = manyDocs(1200, 3);
      const gpu = await open({ encoder: fakeEncoder(), vector, device: 'webgpu' });
      const cpu = await open({ encoder: fakeEncoder(), vector, device: 'cpu' });
      await gpu.add(docs);
      await cpu.add(docs);
      expect(gpu.backend).toBe('webgpu');
      for (const query of ['w1 w2 w3', 'w150 w7', 'w299']) {
        for (const options of [{ k: 20, exact: true }, { k: 20 }, { k: 5, filter: { bucket: 1 } }, { k: 7, dims: 16 }]) {
          const vectorOnly = { ...options, mode: 'vector' } as const;
          const [g, c] = await Promise.all([gpu.search(query, vectorOnly), cpu.search(query, vectorOnly)]);
          expect(g.map((h) => h.id)).toEqual(c.map((h) => h.id));
          g.forEach((h, i) => {
            expect(Math.abs(h.score - (c[i]?.score as number))).toBeLessThan(1e-5);
          });
        }
      }
    });
  }

  it('the funnel finds what exact search finds on Matryoshka-like vectors', async () => {
    const index = await open({ encoder: fakeEncoder(), device: 'webgpu' });
    await index.add(manyDocs(2000, 8));
    let found = 0;
    for (let q = 0; q < 10; q++) {
      const query = `w${q * 7} w${q * 13 + 1}`;
      const exact = (await index.search(query, { exact: true, mode: 'vector' })).map((h) => h.id);
      const funnel = (await index.search(query, { mode: 'vector' })).map((h) => h.id);
      found += funnel.filter((id) => exact.includes(id)).length;
    }
    expect(found / 100).toBeGreaterThanOrEqual(0.98);
  });

  it('splits chunks the encoder truncated until every chunk fits', async () => {
    const encoder = fakeEncoder({ tokensPerWord: 3, maxTokens: 32 });
    const index = await open({ encoder, device: 'cpu' });
    const text = Array.from({ length: 120 }, (_, i) => `word${i}`).join(' ');
    await index.add([{ id: 'long', text }]);
    const { segment } = parseIndex(await index.export());
    const chunks = segment.docs[0]?.chunks ?? [];
    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks) expect(wordsOf(chunk).length * 3).toBeLessThanOrEqual(30);
    const covered = new Set(chunks.flatMap(wordsOf));
    expect(wordsOf(text).every((w) => covered.has(w))).toBe(true);
  });

  it('upserts, removes and counts documents; export / import round-trip', async () => {
    const index = await open({ encoder: fakeEncoder(), vector: 'int8', device: 'webgpu' });
    await index.add(DOCS);
    await index.upsert([
      { id: 'cars', text: 'apple banana mango fruit', meta: { topic: 'food' } },
      { id: 'new', text: 'orbit planet' },
    ]);
    expect(index.size).toBe(6);
    expect(await index.remove(['space', 'nope', 'space'])).toBe(1);
    expect(index.size).toBe(5);
    const hits = await index.search(FRUIT, { k: 10 });
    expect(hits.find((h) => h.id === 'cars')?.meta).toEqual({ topic: 'food' });
    expect(hits.some((h) => h.id === 'space')).toBe(false);

    const copy = await open({ encoder: fakeEncoder(), vector: 'int8', device: 'cpu' });
    await copy.import(await index.export());
    expect(copy.size).toBe(5);
    const again = await copy.search(FRUIT, { k: 10 });
    expect(again.map((h) => [h.id, h.chunk])).toEqual(hits.map((h) => [h.id, h.chunk]));
    again.forEach((h, i) => {
      expect(h.score).toBeCloseTo(hits[i]?.score as number, 5);
    });
    const other = await open({ encoder: fakeEncoder({ id: 'other-model' }), vector: 'int8', device: 'cpu' });
    const err = await rejection(other.import(await index.export()));
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/fake-words.*other-model/);
  });

  it('rejects bad input with InputError', async () => {
    const index = await open({ encoder: fakeEncoder(), device: 'cpu' });
    await index.add(DOCS.slice(0, 1));
    const bad: [string, () => Promise<unknown>][] = [
      ['not an array', () => index.add('text' as unknown as IndexDoc[])],
      [
        'duplicate ids',
        () =>
          index.add([
            { id: 'a', text: 'x' },
            { id: 'a', text: 'y' },
          ]),
      ],
      ['empty text', () => index.add([{ id: 'a', text: '' }])],
      ['non-string id', () => index.upsert([{ id: 3 as unknown as string, text: 'x' }])],
      ['id already there', () => index.add([{ id: 'fruit', text: 'again' }])],
      ['dims not trained', () => index.search('x', { dims: 20 })],
      ['empty query', () => index.search('  ')],
      ['ids not strings', () => index.remove([1 as unknown as string])],
    ];
    for (const [what, call] of bad) {
      await expect(rejection(call()), what).resolves.toBeInstanceOf(InputError);
    }
    expect(index.size).toBe(1);
    await expect(rejection(createIndex({ encoder: fakeEncoder(), name: 'x', dims: 20 }))).resolves.toBeInstanceOf(InputError);
    await expect(rejection(createIndex({ encoder: fakeEncoder(), name: 'x', layers: 3 }))).resolves.toBeInstanceOf(InputError);
  });
});

describe('IndexedDB persistence', () => {
  const snapshot = (hits: { id: string; score: number; meta: unknown; chunk: unknown }[]) =>
    hits.map((h) => ({ ...h, score: Math.fround(h.score) }));

  it('survives a reload: a new index object with the same name gives the same results', async () => {
    const name = freshName();
    // Persistence is the point here, not the scorer (the WebGPU scorer's own tests are above): the
    // CPU scores, sparing two compiles of the scoring kernels on the software adapter.
    const first = await open({ encoder: fakeEncoder(), name, store: 'indexeddb', vector: 'int8', device: 'cpu' });
    await first.add(DOCS);
    await first.add(manyDocs(300, 1));
    await first.upsert([{ id: 'cars', title: 'Garage notes', text: 'cherry banana cars', meta: { topic: 'mixed' } }]);
    await first.remove(['doc-5', 'space']);
    const before = await first.search(FRUIT, { k: 8 });
    const filtered = await first.search('w10 w20', { k: 5, filter: { bucket: 2 } });
    first.close();

    const manifest = await get<{ signature: unknown }>('manifest', createStore(`m3web-index-${name}`, 'data'));
    expect(manifest?.signature).toEqual({ model: 'fake-words', layers: 4, dims: 48, vector: 'int8' });
    const reopened = await open({ encoder: fakeEncoder(), name, store: 'indexeddb', device: 'cpu' });
    expect(reopened.signature.vector).toBe('int8');
    expect(reopened.size).toBe(first.size);
    expect(snapshot(await reopened.search(FRUIT, { k: 8 }))).toEqual(snapshot(before));
    expect(snapshot(await reopened.search('w10 w20', { k: 5, filter: { bucket: 2 } }))).toEqual(snapshot(filtered));
    const [garage] = await reopened.search('garage', { k: 1, mode: 'lexical' });
    expect(garage).toMatchObject({ id: 'cars', title: { text: 'Garage notes', highlights: [[0, 6]] } });
    await reopened.clear();
    const cleared = await open({ encoder: fakeEncoder(), name, store: 'indexeddb' });
    expect(cleared.size).toBe(0);
  });

  for (const failing of ['manifest', 'segment'] as const) {
    it(`an add whose ${failing} write fails leaves the old state, in memory and after a reload`, async () => {
      const name = freshName();
      const db = createStore(`m3web-index-${name}`, 'data');
      const index = await open({ encoder: fakeEncoder(), name, store: 'indexeddb', device: 'cpu' });
      await index.add(DOCS);
      const before = await index.search(FRUIT);
      const keysBefore = (await keys(db)).sort();

      const put = IDBObjectStore.prototype.put;
      vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(function (this: IDBObjectStore, value, key) {
        if (String(key).startsWith(failing)) throw new DOMException('simulated crash mid-add', 'AbortError');
        return put.call(this, value, key);
      });
      const err = await rejection(index.add([{ id: 'late', text: 'apple banana cherry mango' }]));
      expect((err as Error).message).toContain('simulated crash');
      vi.restoreAllMocks();
      expect(index.size).toBe(DOCS.length);
      expect(await index.search(FRUIT)).toEqual(before);
      index.close();

      const reopened = await open({ encoder: fakeEncoder(), name, store: 'indexeddb', device: 'cpu' });
      expect(reopened.size).toBe(DOCS.length);
      expect(await reopened.search(FRUIT)).toEqual(before);
      // The segment the failed add wrote before its manifest switch is gone.
      expect((await keys(db)).sort()).toEqual(keysBefore);
      await reopened.add([{ id: 'late', text: 'apple banana cherry mango' }]);
      expect(reopened.size).toBe(DOCS.length + 1);
    });
  }

  it('a sync cut short before its manifest switch leaves the old state; run again it embeds only what changed', async () => {
    const name = freshName();
    const encoder = fakeEncoder();
    const index = await open({ encoder, name, store: 'indexeddb', device: 'cpu' });
    await index.sync(manyDocs(200, 4));
    const before = await index.search('w1 w2', { k: 10 });
    const next = manyDocs(200, 4).map((d, i) => (i % 50 === 3 ? { ...d, text: `${d.text} w299 changed` } : d));
    const put = IDBObjectStore.prototype.put;
    vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(function (this: IDBObjectStore, value, key) {
      if (String(key).startsWith('manifest')) throw new DOMException('simulated reload mid-sync', 'AbortError');
      return put.call(this, value, key);
    });
    await expect(rejection(index.sync(next.slice(10)))).resolves.toBeInstanceOf(Error);
    vi.restoreAllMocks();
    index.close();
    const reopened = await open({ encoder, name, store: 'indexeddb', device: 'cpu' });
    expect(reopened.size).toBe(200);
    expect(await reopened.search('w1 w2', { k: 10 })).toEqual(before);
    const calls = encoder.calls.length;
    expect(await reopened.sync(next.slice(10))).toEqual({ added: 0, updated: 3, removed: 10, unchanged: 187, embedded: 3 });
    expect(encoder.calls.slice(calls).flatMap((c) => c.texts)).toHaveLength(3);
  });

  it('a full disk fails an add with STORAGE_QUOTA and leaves the index as it was', async () => {
    const name = freshName();
    const index = await open({ encoder: fakeEncoder(), name, store: 'indexeddb', device: 'cpu' });
    await index.add(DOCS);
    const put = IDBObjectStore.prototype.put;
    vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(function (this: IDBObjectStore, value, key) {
      if (String(key).startsWith('segment')) throw new DOMException('the quota has been exceeded', 'QuotaExceededError');
      return put.call(this, value, key);
    });
    const err = await rejection(index.add(manyDocs(50, 3)));
    vi.restoreAllMocks();
    expect(err).toBeInstanceOf(StorageQuotaError);
    expect((err as StorageQuotaError).bytesNeeded).toBeGreaterThan(0);
    expect((err as Error).message).toMatch(/storage is full; the index is unchanged/);
    expect(index.size).toBe(DOCS.length);
    index.close();
    expect((await open({ encoder: fakeEncoder(), name, store: 'indexeddb', device: 'cpu' })).size).toBe(DOCS.length);
  });

  it('refuses queries encoded with another model or other layers, naming both, until cleared', async () => {
    const name = freshName();
    const built = await open({ encoder: fakeEncoder({ id: 'model-a' }), name, store: 'indexeddb', layers: 4, device: 'cpu' });
    await built.add(DOCS);
    built.close();

    const otherModel = await open({ encoder: fakeEncoder({ id: 'model-b' }), name, store: 'indexeddb', device: 'cpu' });
    expect(otherModel.needsRebuild).toBe(true);
    const err = await rejection(otherModel.search(FRUIT));
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/model "model-a".*model "model-b"/);
    await expect(rejection(otherModel.add([{ id: 'x', text: 'y' }]))).resolves.toBeInstanceOf(InputError);
    expect(otherModel.size).toBe(DOCS.length);
    otherModel.close();

    const otherLayers = await open({
      encoder: fakeEncoder({ id: 'model-a' }),
      name,
      store: 'indexeddb',
      layers: 2,
      device: 'cpu',
    });
    expect(((await rejection(otherLayers.search(FRUIT))) as Error).message).toMatch(/4 layers.*2 layers/);
    await otherLayers.clear();
    await otherLayers.add(DOCS);
    expect((await otherLayers.search(FRUIT))[0]?.id).toBe('fruit');
    expect(otherLayers.signature).toEqual({ model: 'model-a', layers: 2, dims: 48, vector: 'f32' });
  });
});

describe('with the real encoder', () => {
  it('indexes and searches with createEncoder (CPU, so scoring runs on the CPU too), and reloads', async () => {
    const encoder = await createEncoder({ model: '/test/generated/packs/bert-tiny-q8', device: 'cpu', cache: false });
    try {
      const name = freshName();
      const index = await open({ encoder, name, store: 'indexeddb' });
      expect(index.backend).toBe('cpu');
      const docs = [
        { id: 'en', text: 'The quick brown fox jumps over the lazy dog.' },
        { id: 'de', text: 'Der schnelle braune Fuchs springt über den faulen Hund.' },
        { id: 'zh', text: '敏捷的棕色狐狸跳过了懒狗。' },
        { id: 'short', text: 'Short.' },
      ];
      await index.add(docs);
      const query = 'a fox and a dog';
      const hits = await index.search(query, { k: 4, exact: true, mode: 'vector' });
      const [q] = await encoder.embed([query], { kind: 'query' });
      const passages = await encoder.embed(
        docs.map((d) => d.text),
        { kind: 'passage' },
      );
      const want = docs
        .map((d, i) => ({ id: d.id, score: cosine(q as Float32Array, passages[i] as Float32Array) }))
        .sort((a, b) => b.score - a.score);
      expect(hits.map((h) => h.id)).toEqual(want.map((w) => w.id));
      hits.forEach((h, i) => {
        expect(h.score).toBeCloseTo(want[i]?.score as number, 5);
      });
      expect((await index.search(query, { dims: 16 })).length).toBe(4);
      // The index lives in the worker: a function cannot get there, and says so.
      const fn = await rejection(index.search(query, { filter: () => true }));
      expect(fn).toBeInstanceOf(InputError);
      expect((fn as Error).message).toMatch(/function filter cannot reach the index in the worker/);
      index.close();
      const reopened = await open({ encoder, name, store: 'indexeddb' });
      expect(await reopened.search(query, { k: 4, exact: true, mode: 'vector' })).toEqual(hits);
    } finally {
      await encoder.dispose();
    }
  });

  it('takes lexicons to the index in the worker; a second open with other ones is refused by their languages', async () => {
    const encoder = await createEncoder({ model: '/test/generated/packs/bert-tiny-q8', device: 'cpu', cache: false });
    try {
      const name = freshName();
      const de = { format: 1, language: 'de', to: 'en', words: { hund: ['dog'] } };
      const index = await open({ encoder, name, store: 'indexeddb', lexicons: [de] });
      await index.add([
        { id: 'dog', text: 'The lazy dog.' },
        { id: 'none', text: 'Nothing here.' },
      ]);
      expect((await index.search('Hund', { mode: 'lexical' })).map((h) => h.id)).toEqual(['dog']);
      expect(await index.search('Hund', { mode: 'lexical', translate: false })).toEqual([]);
      expect(await index.translations('lazy Hund')).toEqual({ hund: ['dog'] });
      const other = await rejection(open({ encoder, name, store: 'indexeddb', lexicons: [{ ...de, language: 'es' }] }));
      expect(other).toBeInstanceOf(InputError);
      expect((other as Error).message).toMatch(/"lexicons":"de".*"lexicons":"es"/);
      // An opener asking for none searches with the open index's.
      const shared = await open({ encoder, name, store: 'indexeddb' });
      expect((await shared.search('Hund', { mode: 'lexical' })).map((h) => h.id)).toEqual(['dog']);
    } finally {
      await encoder.dispose();
    }
  });
});
