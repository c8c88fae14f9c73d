import { createStore, get, keys, set } from 'idb-keyval';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { NetworkError, StorageQuotaError } from '../../src/errors.js';
import { sha256Hex } from '../../src/pack/sha256.js';
import {
  clearCache,
  deleteCachedModel,
  listCachedModels,
  loadPackFiles,
  type PackLoadProgress,
  persistStorage,
} from '../../src/store/index.js';
import { BASE, makePack, offline, serve, type TestPack } from '../support/fake-pack.js';
import { rejection } from '../support/rejection.js';

// Runs in headless Chromium against its real IndexedDB; the "server" is an in-memory fetch.

const MANIFEST_URL = `${BASE}/manifest.json`;
// The cache's own database, opened the way the spec names it, to inspect and tamper with it.
const db = createStore('m3web-shards', 'files');
const packBytes = (pack: TestPack) => [...pack.files.values()].reduce((n, b) => n + b.byteLength, 0);
const manifestHash = async (pack: TestPack) => (await sha256Hex(pack.manifestBytes)).slice(0, 16);

function expectSameFiles(got: Map<string, Uint8Array>, pack: TestPack): void {
  expect([...got.keys()].sort()).toEqual([...pack.files.keys()].sort());
  for (const [name, bytes] of pack.files) expect(got.get(name)).toEqual(bytes);
}

beforeEach(async () => {
  await clearCache();
});

afterEach(async () => {
  vi.restoreAllMocks();
  await clearCache();
});

describe('loadPackFiles with IndexedDB', () => {
  it('caches a first load (progress to 100%) and loads it again offline, entirely from IndexedDB', async () => {
    const pack = await makePack();
    const { fetch } = serve(BASE, pack);
    const events: PackLoadProgress[] = [];
    const first = await loadPackFiles(BASE, { fetch, onProgress: (p) => events.push(p) });
    expect(first.fromCache).toBe(false);
    expectSameFiles(first.files, pack);
    const total = packBytes(pack);
    expect(events.at(-1)).toEqual({ phase: 'done', fileLoaded: 0, fileTotal: 0, loaded: total, total });
    expect(events.filter((e) => e.phase === 'download').at(-1)?.loaded).toBe(total);

    const hash = await manifestHash(pack);
    expect(await get(`tiny@${hash}/layer-03.bin`, db)).toEqual(pack.files.get('layer-03.bin'));

    const again: PackLoadProgress[] = [];
    const second = await loadPackFiles(BASE, { fetch: offline, onProgress: (p) => again.push(p) });
    expect(second.fromCache).toBe(true);
    expect(second.manifestHash).toBe(hash);
    expect(second.manifest).toEqual(pack.manifest);
    expectSameFiles(second.files, pack);
    expect(again.filter((e) => e.phase === 'cache')).toHaveLength(pack.files.size);
    expect(again.at(-1)).toMatchObject({ phase: 'done', loaded: total, total });
  });

  it('detects a shard corrupted inside IndexedDB, re-fetches it and repairs the cache', async () => {
    const pack = await makePack();
    const server = serve(BASE, pack);
    await loadPackFiles(BASE, { fetch: server.fetch });
    const key = `tiny@${await manifestHash(pack)}/layer-02.bin`;
    const bad = (pack.files.get('layer-02.bin') as Uint8Array).slice();
    bad[17] = (bad[17] as number) ^ 1;
    await set(key, bad, db);

    server.requests.length = 0;
    const out = await loadPackFiles(BASE, { fetch: server.fetch });
    expect(out.fromCache).toBe(false);
    expectSameFiles(out.files, pack);
    expect(server.requests.map((r) => r.file)).toEqual(['manifest.json', 'layer-02.bin']);
    expect(await get(key, db)).toEqual(pack.files.get('layer-02.bin'));
  });

  it('recovers from a connection cut off mid-shard and caches the whole file', async () => {
    const pack = await makePack();
    const { fetch, requests } = serve(BASE, pack, { cutAfter: new Map([['layer-01.bin', 1000]]) });
    const out = await loadPackFiles(BASE, { fetch });
    expectSameFiles(out.files, pack);
    expect(requests.filter((r) => r.file === 'layer-01.bin').map((r) => r.range)).toEqual([null, 'bytes=1000-']);
    expect(await get(`tiny@${await manifestHash(pack)}/layer-01.bin`, db)).toEqual(pack.files.get('layer-01.bin'));
  });

  it('fetches only the missing layers on a deeper second load, and then works offline at full depth', async () => {
    const pack = await makePack(6);
    const { fetch, requests } = serve(BASE, pack);
    const first = await loadPackFiles(BASE, { fetch, layers: 2 });
    expect([...first.files.keys()]).toEqual(['tokenizer.json', 'embeddings.bin', 'layer-00.bin', 'layer-01.bin']);
    requests.length = 0;
    const second = await loadPackFiles(BASE, { fetch, have: new Set(first.files.keys()) });
    expect(requests.map((r) => r.file)).toEqual([
      'manifest.json',
      'layer-02.bin',
      'layer-03.bin',
      'layer-04.bin',
      'layer-05.bin',
    ]);
    expect(second.files.size).toBe(4);
    const offlineLoad = await loadPackFiles(BASE, { fetch: offline });
    expect(offlineLoad.fromCache).toBe(true);
    expectSameFiles(offlineLoad.files, pack);
  });

  it('fails offline with a NetworkError when the model was never cached', async () => {
    const err = await rejection(loadPackFiles(BASE, { fetch: offline }));
    expect(err).toBeInstanceOf(NetworkError);
    expect((err as Error).message).toMatch(/never cached/);
  });
});

describe('storage quota', () => {
  it('refuses before downloading when the estimate leaves too little room', async () => {
    const pack = await makePack();
    vi.spyOn(navigator.storage, 'estimate').mockResolvedValue({ quota: 10_000, usage: 9_000 });
    const { fetch, requests } = serve(BASE, pack);
    const err = await rejection(loadPackFiles(BASE, { fetch }));
    expect(err).toBeInstanceOf(StorageQuotaError);
    const total = packBytes(pack);
    expect((err as StorageQuotaError).bytesNeeded).toBe(total);
    expect((err as Error).message).toContain(`needs ${total} bytes`);
    expect((err as Error).message).toContain('only 1000 bytes');
    expect(requests.map((r) => r.file)).toEqual(['manifest.json']);
    expect(await keys(db)).toEqual([]);
  });

  it.each([
    ['thrown by put', (e: DOMException): unknown => e],
    ['wrapped in the transaction error', (e: DOMException): unknown => new Error('transaction aborted', { cause: e })],
  ])('turns a QuotaExceededError %s into StorageQuotaError and removes what the load stored', async (_, wrap) => {
    const other = await makePack(2, 9, 'other');
    await loadPackFiles('https://models.test/packs/other', { fetch: serve('https://models.test/packs/other', other).fetch });
    const otherKeys = (await keys(db)).sort();
    expect(otherKeys.length).toBeGreaterThan(0);

    const pack = await makePack();
    const put = IDBObjectStore.prototype.put;
    vi.spyOn(IDBObjectStore.prototype, 'put').mockImplementation(function (this: IDBObjectStore, value, key) {
      if (String(key).endsWith('/layer-02.bin')) throw wrap(new DOMException('quota exceeded', 'QuotaExceededError'));
      return put.call(this, value, key);
    });
    const err = await rejection(loadPackFiles(BASE, { fetch: serve(BASE, pack).fetch }));
    expect(err).toBeInstanceOf(StorageQuotaError);
    expect((err as StorageQuotaError).bytesNeeded).toBe(packBytes(pack));
    // tokenizer, embeddings, layer-00 and layer-01 were stored before the failure; none may remain.
    expect((await keys(db)).sort()).toEqual(otherKeys);
    expect((await listCachedModels()).map((m) => m.id)).toEqual(['other']);
  });
});

describe('cache management', () => {
  it('lists, deletes and clears cached models', async () => {
    const alpha = await makePack(3, 1, 'alpha');
    const beta = await makePack(2, 2, 'beta');
    const alphaBase = 'https://models.test/alpha';
    const betaBase = 'https://models.test/beta';
    await loadPackFiles(alphaBase, { fetch: serve(alphaBase, alpha).fetch });
    await loadPackFiles(betaBase, { fetch: serve(betaBase, beta).fetch });

    const listed = (await listCachedModels()).sort((a, b) => a.id.localeCompare(b.id));
    expect(listed).toEqual([
      { id: 'alpha', hash: await manifestHash(alpha), bytes: packBytes(alpha), files: 5, url: `${alphaBase}/manifest.json` },
      { id: 'beta', hash: await manifestHash(beta), bytes: packBytes(beta), files: 4, url: `${betaBase}/manifest.json` },
    ]);

    await deleteCachedModel('alpha');
    expect((await listCachedModels()).map((m) => m.id)).toEqual(['beta']);
    expect((await keys(db)).filter((k) => String(k).includes('alpha'))).toEqual([]);
    // Its stored manifest went too, so an offline load now says it was never cached.
    expect(await rejection(loadPackFiles(alphaBase, { fetch: offline }))).toBeInstanceOf(NetworkError);
    expect((await loadPackFiles(betaBase, { fetch: offline })).fromCache).toBe(true);

    await clearCache();
    expect(await listCachedModels()).toEqual([]);
    expect(await keys(db)).toEqual([]);
  });

  it('drops the previous version of a model once an update is loaded from the same URL', async () => {
    const v1 = await makePack(2, 1);
    await loadPackFiles(BASE, { fetch: serve(BASE, v1).fetch });
    const v2 = await makePack(2, 5);
    await loadPackFiles(BASE, { fetch: serve(BASE, v2).fetch });
    expect(await listCachedModels()).toEqual([
      { id: 'tiny', hash: await manifestHash(v2), bytes: packBytes(v2), files: 4, url: MANIFEST_URL },
    ]);
    expectSameFiles((await loadPackFiles(BASE, { fetch: offline })).files, v2);
  });

  it('deletes one version by hash and keeps the others', async () => {
    const v1 = await makePack(2, 1);
    const v2 = await makePack(2, 5);
    const otherBase = 'https://mirror.test/tiny';
    await loadPackFiles(BASE, { fetch: serve(BASE, v1).fetch });
    await loadPackFiles(otherBase, { fetch: serve(otherBase, v2).fetch });
    expect((await listCachedModels()).map((m) => m.hash).sort()).toEqual([await manifestHash(v1), await manifestHash(v2)].sort());
    await deleteCachedModel('tiny', await manifestHash(v1));
    expect((await listCachedModels()).map((m) => m.hash)).toEqual([await manifestHash(v2)]);
  });

  it('asks for persistent storage and answers with a boolean', async () => {
    const persist = vi.spyOn(navigator.storage, 'persist').mockResolvedValue(true);
    expect(await persistStorage()).toBe(true);
    expect(persist).toHaveBeenCalledOnce();
  });
});
