import { createStore, keys } from 'idb-keyval';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createEncoder, createIndex } from '../../src/client/client.js';
import { InputError, M3WebError } from '../../src/errors.js';
import { rejection } from '../support/rejection.js';
import { QUERIES, SPLADE_QUERIES, staticCorpus, wordsEncoder } from '../support/static-corpus.js';
import { staticFiles } from '../support/static-files.js';

// A static index in Chromium: files cached in IndexedDB, so a later page (a new index object)
// answers offline for what was seen. The "host" is a fetch stub serving a folder built in the
// page, which can also go offline.

const BASE = 'https://static.example/site-index/';

async function hostFolder(): Promise<{ files: Map<string, Uint8Array>; requests: string[]; offline: { on: boolean } }> {
  const files = await staticFiles(staticCorpus(600), BASE, 16);
  const requests: string[] = [];
  const offline = { on: false };
  vi.stubGlobal('fetch', async (url: string, init?: RequestInit) => {
    requests.push(url);
    if (offline.on) throw new TypeError('Failed to fetch');
    const body = files.get(url);
    if (!body) return new Response(null, { status: 404 });
    const range = /^bytes=(\d+)-(\d+)$/.exec(new Headers(init?.headers).get('range') ?? '');
    if (!range) return new Response(body.slice());
    const [from, to] = [Number(range[1]), Number(range[2])];
    return new Response(body.slice(from, to + 1), {
      status: 206,
      headers: { 'content-range': `bytes ${from}-${to}/${body.length}` },
    });
  });
  return { files, requests, offline };
}

describe('static index in the page', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('caches what it fetched in IndexedDB and answers offline for it; unseen shards are NETWORK errors', async () => {
    const host = await hostFolder();
    const encoder = wordsEncoder();
    const index = await createIndex({ encoder, url: BASE });
    expect(index.size).toBe(600);
    const seen = await index.search(QUERIES[0] as string, { k: 5, mode: 'lexical' });
    expect(seen).toHaveLength(5);
    const fetched = (await index.stats()).fetched;
    expect(fetched.requests).toBe(host.requests.length - 1);
    index.close();

    const cached = await keys(createStore('m3web-static', 'files'));
    expect(cached.some((k) => String(k).endsWith(`${BASE}coarse.bin`))).toBe(true);

    host.offline.on = true;
    const later = await createIndex({ encoder, url: BASE });
    expect(await later.search(QUERIES[0] as string, { k: 5, mode: 'lexical' })).toEqual(seen);
    expect((await later.stats()).fetched).toEqual({ requests: 0, bytes: 0 });
    // With no encoder (no model loaded yet), the same folder answers by words, from the cache too.
    const words = await createIndex({ url: BASE });
    expect(await words.search(QUERIES[0] as string, { k: 5 })).toEqual(seen);
    words.close();
    // No vector search ran: its row shards were never fetched.
    const err = await rejection(later.search(QUERIES[0] as string, { k: 5, mode: 'vector' }));
    expect(err).toBeInstanceOf(M3WebError);
    expect((err as M3WebError).code).toBe('NETWORK');
    later.close();
  });
});

describe('static index of an inference-free SPLADE model in the page', () => {
  it('ranks by its lexical weights with no model: the folder weighs the query itself', async () => {
    // Written by the global setup (test/support/global-setup.ts), with the in-memory index's hits.
    const url = '/test/generated/static/splade-inference-free';
    const expected = (await (await fetch(`${url}/expected-hits.json`)).json()) as { id: string; score: number }[][];
    const index = await createIndex({ url });
    for (const [i, q] of SPLADE_QUERIES.entries()) {
      const hits = await index.search(q, { mode: 'sparse' });
      const want = expected[i] as { id: string; score: number }[];
      expect(want.length).toBeGreaterThan(0);
      expect(hits.map((h) => h.id)).toEqual(want.map((h) => h.id));
      for (const [j, h] of hits.entries()) expect(h.score).toBeCloseTo((want[j] as { score: number }).score, 6);
    }
    expect((await index.search(SPLADE_QUERIES[0] as string))[0]?.ranks).toHaveProperty('sparse');
    index.close();
  });
});

describe('static index in the engine worker', () => {
  it('opens a folder by URL beside the model, searches it there and reports what it fetched', async () => {
    // Written by the global setup (test/support/global-setup.ts) from the same pack.
    const encoder = await createEncoder({ model: '/test/generated/packs/bert-tiny-q8', device: 'cpu', cache: false });
    try {
      const index = await createIndex({ encoder, url: '/test/generated/static/bert-tiny-q8' });
      expect(index.size).toBe(4);
      const [hit] = await index.search('Der schnelle braune Fuchs', { k: 1 });
      expect(hit).toMatchObject({ id: 't1', meta: { n: 1 }, chunk: { index: 0 } });
      expect(hit?.ranks.lexical).toBe(1);
      const [vector] = await index.search('Der schnelle braune Fuchs springt über den faulen Hund.', { k: 1, mode: 'vector' });
      expect(vector?.id).toBe('t1');
      const stats = await index.stats();
      expect(stats.fetched.bytes).toBeGreaterThanOrEqual(stats.tiers.coarse);
      expect(await rejection(index.sync([]))).toBeInstanceOf(InputError);
      index.close();
    } finally {
      await encoder.dispose();
    }
  });
});
