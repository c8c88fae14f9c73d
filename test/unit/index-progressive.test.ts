import { describe, expect, it } from 'vitest';
import { NetworkError } from '../../src/errors.js';
import { SLICE_ROWS } from '../../src/search/reembed.js';
import { openIndex } from '../../src/search/search-index.js';
import { parseIndex, serializeIndex } from '../../src/search/serialize.js';
import type { IndexDoc, IndexEncoder, IndexHost, SearchHit, VectorIndex } from '../../src/search/types.js';
import type { EmbedOptions, EmbedResult, ModelInfo } from '../../src/types.js';
import { cosine, rng } from '../support/random.js';
import { rejection } from '../support/rejection.js';

// An index under a progressive start, against a model whose exits (1, 2, 4) arrive when the test
// says: documents are stored at once at the exit loaded, each row's exit recorded; a search
// scores each row against the query embedded at its exit; once exit 4 arrives the rows are
// embedded again in slices, searches and writes going on between them.

const WIDTH = 32;
const MODEL: ModelInfo = {
  id: 'exits-124',
  source: 'test',
  layers: 4,
  hiddenSize: WIDTH,
  exits: [1, 2, 4],
  dims: [8, WIDTH],
  pooling: 'mean',
  maxTokens: 512,
  quantization: 'f32',
  prefixes: {},
  quality: null,
};

function fnv(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h;
}

/** A bag of words, each word's vector different at each exit: the vector of `text` at `exit`, normalised at `dims`. */
function vectorOf(text: string, exit: number, dims = WIDTH): Float32Array {
  const v = new Float32Array(dims).fill(1e-3);
  for (const w of text.toLowerCase().match(/\p{L}+/gu) ?? []) {
    const next = rng(fnv(`${w}@${exit}`));
    for (let i = 0; i < dims; i++) v[i] = (v[i] as number) + (next() - 0.5) / Math.sqrt(i + 1);
  }
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

interface Held {
  /** Resolves when the held call has started (with its options). */
  reached: Promise<EmbedOptions>;
  release(): void;
}

/**
 * The model, loaded to `loaded` layers: `embedDetailed` answers at the layers asked (as an
 * engine's core does for 'asked' calls), the host's `embedLoaded` at the deepest exit loaded.
 * `hold(n)` makes the n-th passage call at full depth from now on wait for its release.
 */
function progressiveModel(loaded: number) {
  /** `upgrading`: the background download is still to bring deeper exits (false once it failed). */
  const state = { loaded, upgrading: true };
  const listeners = new Set<(layers: number) => void>();
  const queries: number[] = [];
  const holds = new Map<number, { reached: (o: EmbedOptions) => void; gate: Promise<void> }>();
  let deepPassages = 0;
  let failNext: Error | null = null;
  let changes = 0;
  const answer = (texts: string[], layers: number, dims: number): EmbedResult => ({
    vectors: texts.map((t) => vectorOf(t, layers, dims)),
    tokens: texts.map(() => 8),
    truncated: texts.map(() => false),
    layers: texts.map(() => layers),
  });
  const encoder: IndexEncoder = {
    info: () => ({ model: MODEL, backend: 'cpu' }),
    async embedDetailed(texts: string[], options: EmbedOptions = {}): Promise<EmbedResult> {
      const layers = options.layers as number;
      if (options.kind === 'query') queries.push(layers);
      if (options.kind === 'passage' && layers === 4) {
        const held = holds.get(++deepPassages);
        if (held) {
          held.reached(options);
          await held.gate;
        }
        if (failNext) {
          const err = failNext;
          failNext = null;
          throw err;
        }
        if (options.signal?.aborted) throw new Error('aborted');
      }
      return answer(texts, layers, options.dims ?? WIDTH);
    },
  };
  const host: IndexHost = {
    async embedLoaded(texts, options) {
      const asked = options.layers as number;
      const loaded = state.upgrading ? state.loaded : MODEL.layers;
      const exit = Math.max(...MODEL.exits.filter((e) => e <= Math.min(asked, loaded)));
      return answer(texts, exit, options.dims ?? WIDTH);
    },
    upgradeBrings: (layers) => state.upgrading && state.loaded < layers,
    onUpgrade(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    changed: () => {
      changes++;
    },
  };
  return {
    encoder,
    host,
    queries,
    get changes() {
      return changes;
    },
    /** Exit `layers` has loaded: the host tells its listeners, as Engine.upgraded does. */
    upgrade(layers: number) {
      state.loaded = layers;
      for (const l of listeners) l(layers);
    },
    hold(n: number): Held {
      let reached: (o: EmbedOptions) => void = () => {};
      let release: () => void = () => {};
      const at = new Promise<EmbedOptions>((resolve) => (reached = resolve));
      const gate = new Promise<void>((resolve) => (release = resolve));
      holds.set(deepPassages + n, { reached, gate });
      return { reached: at, release };
    },
    failNextDeep(err: Error) {
      failNext = err;
    },
    /** The background download failed: calls fetch what they ask for themselves. */
    stopUpgrading() {
      state.upgrading = false;
    },
  };
}

const docs = (n: number, from = 0): IndexDoc[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `d${from + i}`,
    text: `document ${from + i} about ${['cats', 'rain', 'trains', 'bread', 'music'][(from + i) % 5]} and ${from + i} other words`,
    meta: { group: (from + i) % 3, early: from + i < 40 },
  }));
const QUERIES = ['cats and music', 'rain on trains', 'bread words'];

/** The exit of each stored document's rows, from an export. */
async function exitsOf(index: VectorIndex): Promise<Map<string, number[]>> {
  const { signature, segment } = parseIndex(await index.export());
  return new Map(segment.docs.map((d) => [d.id, d.exits ?? d.chunks.map(() => signature.layers)]));
}

/** What a vector search must answer: each document scored against the query at its own row's exit. */
function expected(query: string, exits: Map<string, number[]>, all: IndexDoc[], k: number) {
  return all
    .filter((d) => exits.has(d.id))
    .map((d) => {
      const exit = (exits.get(d.id) as number[])[0] as number;
      return { id: d.id, score: cosine(vectorOf(query, exit), vectorOf(d.text, exit)) };
    })
    .sort((a, b) => b.score - a.score)
    .slice(0, k);
}

function expectHits(got: SearchHit[], want: { id: string; score: number }[]): void {
  expect(got.map((h) => h.id)).toEqual(want.map((h) => h.id));
  for (const [i, h] of got.entries()) expect(Math.abs(h.score - (want[i]?.score as number))).toBeLessThan(1e-5);
}

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; !done(); i++) {
    if (i > 2000) throw new Error('gave up waiting');
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

describe('an index under a progressive start', () => {
  it('adds at the exit loaded, searches each row at its exit, and ends with every row at its own exit', async () => {
    const m = progressiveModel(1);
    const index = await openIndex({ encoder: m.encoder, name: 'p', device: 'cpu' }, undefined, m.host);
    expect(index.signature.layers).toBe(4);
    const all = [...docs(40), ...docs(30, 40)];

    await index.add(all.slice(0, 40));
    expect(index.shallowRows).toBe(40);
    expect(new Set([...(await exitsOf(index)).values()].flat())).toEqual(new Set([1]));
    // Exit 2 arrives; the index waits for its own (4), and the next documents go in at 2.
    m.upgrade(2);
    await index.add(all.slice(40));
    expect(index.shallowRows).toBe(70);
    const mixed = await exitsOf(index);
    expect(new Set([...mixed.values()].flat())).toEqual(new Set([1, 2]));

    for (const q of QUERIES) {
      m.queries.length = 0;
      expectHits(await index.search(q, { k: 10, mode: 'vector' }), expected(q, mixed, all, 10));
      // The query is embedded once per exit present.
      expect(m.queries.sort()).toEqual([1, 2]);
    }
    // A filter that leaves rows of one exit embeds the query at that exit only.
    m.queries.length = 0;
    const early = (await index.search(QUERIES[0] as string, { k: 3, mode: 'vector', filter: { early: true } })).map((h) => h.id);
    expect(m.queries).toEqual([1]);
    expect(early.every((id) => Number(id.slice(1)) < 40)).toBe(true);

    // Exit 4: the rows are embedded again, a slice at a time. The second slice is held, so the
    // first has committed: a search then meets rows of exits 1 or 2 and 4.
    const second = m.hold(2);
    const changesBefore = m.changes;
    m.upgrade(4);
    await second.reached;
    expect(index.shallowRows).toBe(70 - SLICE_ROWS);
    expect(m.changes).toBe(changesBefore + 1);
    const during = await exitsOf(index);
    expect(new Set([...during.values()].flat())).toEqual(new Set([1, 2, 4]));
    for (const q of QUERIES) {
      m.queries.length = 0;
      expectHits(await index.search(q, { k: 10, mode: 'vector' }), expected(q, during, all, 10));
      expect(m.queries.sort()).toEqual([1, 2, 4]);
    }
    // Neither a search nor a write waits for the rest of the re-embedding.
    await index.add([{ id: 'late', text: 'a late document about cats' }]);
    all.push({ id: 'late', text: 'a late document about cats' });
    expect(index.shallowRows).toBe(70 - SLICE_ROWS);
    second.release();
    await until(() => index.shallowRows === 0);

    const fresh = await openIndex({ encoder: m.encoder, name: 'fresh', device: 'cpu' });
    await fresh.add(all);
    const final = await exitsOf(index);
    expect(new Set([...final.values()].flat())).toEqual(new Set([4]));
    for (const q of QUERIES) {
      for (const mode of ['vector', 'hybrid'] as const) {
        const got = await index.search(q, { k: 10, mode });
        const want = await fresh.search(q, { k: 10, mode });
        expectHits(got, want);
      }
    }
    // Meta and hashes survive: a sync of the same documents changes nothing.
    expect(await index.sync(all)).toMatchObject({ unchanged: all.length, embedded: 0 });
    index.close();
    fresh.close();
  });

  it('with the exit already loaded, changes nothing', async () => {
    const m = progressiveModel(4);
    const index = await openIndex({ encoder: m.encoder, name: 'warm', device: 'cpu' }, undefined, m.host);
    await index.add(docs(10));
    expect(index.shallowRows).toBe(0);
    const { segment } = parseIndex(await index.export());
    expect(segment.docs.every((d) => d.exits === undefined)).toBe(true);
    // An export without shallow rows is the format older versions read.
    expect(new DataView((await index.export()).buffer).getUint32(4, true)).toBe(1);
    index.close();
  });

  it('an index at a shallower exit than the model re-embeds once its own exit arrives', async () => {
    const m = progressiveModel(1);
    const index = await openIndex({ encoder: m.encoder, name: 'two', device: 'cpu', layers: 2 }, undefined, m.host);
    await index.add(docs(5));
    expect(index.shallowRows).toBe(5);
    m.upgrade(2);
    await until(() => index.shallowRows === 0);
    expect(new Set([...(await exitsOf(index)).values()].flat())).toEqual(new Set([2]));
    index.close();
  });

  it('re-embeds a titled document behind its title, as a fresh add at that exit would', async () => {
    const m = progressiveModel(1);
    const index = await openIndex({ encoder: m.encoder, name: 'titled', device: 'cpu' }, undefined, m.host);
    const titled = { id: 'h', title: 'Harbour guide', text: 'boats moor here for a fee' };
    await index.add([titled, ...docs(3)]);
    m.upgrade(4);
    await until(() => index.shallowRows === 0);
    const [hit] = await index.search('harbour boats', {
      k: 1,
      mode: 'vector',
      exact: true,
      filter: (meta) => !('group' in meta),
    });
    expect(hit?.id).toBe('h');
    const want = cosine(vectorOf('harbour boats', 4), vectorOf(`${titled.title}\n${titled.text}`, 4));
    expect(Math.abs((hit?.score as number) - want)).toBeLessThan(1e-5);
    // Without the title the row would be another vector.
    expect(Math.abs(cosine(vectorOf('harbour boats', 4), vectorOf(titled.text, 4)) - want)).toBeGreaterThan(1e-3);
    index.close();
  });

  it('once the download has failed, the next write has the rows embedded again at its exit, fetched for the call', async () => {
    const m = progressiveModel(1);
    const index = await openIndex({ encoder: m.encoder, name: 's', device: 'cpu' }, undefined, m.host);
    await index.add(docs(5));
    expect(index.shallowRows).toBe(5);
    m.stopUpgrading();
    await index.add(docs(1, 5));
    await until(() => index.shallowRows === 0);
    expect(new Set([...(await exitsOf(index)).values()].flat())).toEqual(new Set([4]));
    index.close();
  });

  it('keeps the exits through export and import, and re-embeds the imported rows', async () => {
    const m = progressiveModel(1);
    const index = await openIndex({ encoder: m.encoder, name: 'x', device: 'cpu' }, undefined, m.host);
    await index.add(docs(6));
    const bytes = await index.export();
    expect(new DataView(bytes.buffer).getUint32(4, true)).toBe(2);
    index.close();

    const later = progressiveModel(4);
    const copy = await openIndex({ encoder: later.encoder, name: 'y', device: 'cpu' }, undefined, later.host);
    await copy.import(bytes);
    await until(() => copy.shallowRows === 0);
    expect(new Set([...(await exitsOf(copy)).values()].flat())).toEqual(new Set([4]));
    copy.close();

    // A row deeper than the index's exit is not an export m3web wrote.
    const { signature, segment } = parseIndex(bytes);
    const bad = serializeIndex(signature, {
      ...segment,
      docs: segment.docs.map((d) => ({ ...d, exits: d.chunks.map(() => 6) })),
    });
    expect(() => parseIndex(bad)).toThrow(/deeper than its 4 layers/);
  });

  it('reports a failed re-embedding on the next call, once, and tries again at the next upgrade', async () => {
    const m = progressiveModel(1);
    const index = await openIndex({ encoder: m.encoder, name: 'f', device: 'cpu' }, undefined, m.host);
    await index.add(docs(5));
    const first = m.hold(1);
    m.failNextDeep(new NetworkError('the shard did not arrive'));
    m.upgrade(4);
    await first.reached;
    first.release();
    // The failure lands in the background; the next call after it reports it.
    let err: unknown = null;
    for (let i = 0; i < 50 && err === null; i++) {
      err = await index.search('cats', { mode: 'vector' }).then(
        () => null,
        (e: unknown) => e,
      );
    }
    expect(err).toBeInstanceOf(NetworkError);
    expect(index.shallowRows).toBe(5);
    // Once: the next search answers, at the rows' exit.
    expect(await index.search('cats', { k: 2, mode: 'vector' })).toHaveLength(2);
    m.upgrade(4);
    await until(() => index.shallowRows === 0);
    index.close();
  });

  it('close() mid-re-embedding aborts the slice in flight, hangs nothing and throws nothing', async () => {
    const m = progressiveModel(1);
    const index = await openIndex({ encoder: m.encoder, name: 'c', device: 'cpu' }, undefined, m.host);
    await index.add(docs(50));
    const first = m.hold(1);
    m.upgrade(4);
    const options = await first.reached;
    index.close();
    expect(options.signal?.aborted).toBe(true);
    first.release();
    // The slice's failure (aborted, then a closed queue) is swallowed: an unhandled rejection would fail this file.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await rejection(index.search('cats'))).toMatchObject({ code: 'DISPOSED' });
    // Upgrades after close start nothing.
    m.upgrade(4);
  });
});
