import { createStore, keys } from 'idb-keyval';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createIndex } from '../../src/client/client.js';
import { M3WebError } from '../../src/errors.js';
import { openIndex } from '../../src/search/index.js';
import { parseIndex } from '../../src/search/serialize.js';
import { writeStaticIndex } from '../../src/search/static/write.js';
import { rejection } from '../support/rejection.js';
import { QUERIES, STATIC_DIMS, staticCorpus, wordsEncoder } from '../support/static-corpus.js';

// A static index in Chromium: files cached in IndexedDB, so a later page (a new index object)
// answers offline for what was seen. The "host" is a fetch stub serving a folder built in the
// page, which can also go offline.

const BASE = 'https://static.example/site-index/';

async function hostFolder(): Promise<{ files: Map<string, Uint8Array>; requests: string[]; offline: { on: boolean } }> {
  const encoder = wordsEncoder();
  const memory = await openIndex({ encoder, name: 'browser-static-source', device: 'cpu' });
  await memory.add(staticCorpus(600));
  const { signature, segment } = parseIndex(await memory.export());
  memory.close();
  const files = new Map<string, Uint8Array>();
  await writeStaticIndex(signature, segment, {
    trainedDims: STATIC_DIMS,
    ngrams: false,
    shardRows: 16,
    put: async (path, bytes) => {
      files.set(BASE + path, bytes);
    },
  });
  const requests: string[] = [];
  const offline = { on: false };
  vi.stubGlobal('fetch', async (url: string) => {
    requests.push(url);
    if (offline.on) throw new TypeError('Failed to fetch');
    const body = files.get(url);
    return body ? new Response(body.slice()) : new Response(null, { status: 404 });
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
    expect(fetched.files).toBe(host.requests.length - 1);
    index.close();

    const cached = await keys(createStore('m3web-static', 'files'));
    expect(cached.some((k) => String(k).endsWith(`${BASE}coarse.bin`))).toBe(true);

    host.offline.on = true;
    const later = await createIndex({ encoder, url: BASE });
    expect(await later.search(QUERIES[0] as string, { k: 5, mode: 'lexical' })).toEqual(seen);
    expect((await later.stats()).fetched).toEqual({ files: 0, bytes: 0 });
    // No vector search ran: its row shards were never fetched.
    const err = await rejection(later.search(QUERIES[0] as string, { k: 5, mode: 'vector' }));
    expect(err).toBeInstanceOf(M3WebError);
    expect((err as M3WebError).code).toBe('NETWORK');
    later.close();
  });
});
