import type { Server } from 'node:http';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEncoder } from '../../src/client/client.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../support/chromium.js';
import { cosine } from '../support/random.js';
import { serveStatic } from '../support/static-server.js';
import { buildHarness } from './harness/build.js';

// A progressive start in Chromium (test/site/harness, built by Vite as a user's app would be): a
// q8 bert-tiny pack (exits 1..4) whose layer shards 1-3 trickle in, 5 parts 100 ms apart each.

const TEXTS = ['Die Katze schläft auf dem Sofa.', 'the cat sleeps on the sofa'];
const DOCS = [
  { id: 'cat', text: 'Die Katze schläft auf dem Sofa.' },
  { id: 'dog', text: 'A dog runs in the park.' },
  { id: 'time', text: 'What time is it?' },
  { id: 'rain', text: 'It is raining in Berlin today.' },
];
const QUERIES = ['where is the cat sleeping?', 'weather in Berlin'];
const LAST_SHARD = '/pack/layer-03.bin';

type Api = typeof import('../../src/index.js');
declare global {
  // The harness page puts the public API here.
  var m3web: Api;
}

type Hits = { id: string; score: number }[][];
type PageIndex = Awaited<ReturnType<Api['createIndex']>>;

interface Answer {
  layers: number[];
  vectors: number[][];
  loadedLayers: number;
  fromCache: boolean;
}

/** In the page: a progressive encoder (kept on globalThis with the exits it heard) and its first answer. */
function firstAnswer(page: Page, texts: string[]): Promise<Answer> {
  return page.evaluate(async (texts) => {
    const g = globalThis as unknown as {
      upgrades: number[];
      full: Promise<void>;
      encoder: Awaited<ReturnType<Api['createEncoder']>>;
    };
    g.upgrades = [];
    let full = () => {};
    g.full = new Promise((resolve) => (full = resolve));
    g.encoder = await m3web.createEncoder({
      model: './pack',
      device: 'cpu',
      shared: false,
      progressive: true,
      onUpgrade: (layers) => {
        g.upgrades.push(layers);
        if (layers === 4) full();
      },
    });
    const { loadedLayers, fromCache } = await g.encoder.info();
    const r = await g.encoder.embedDetailed(texts);
    return { layers: r.layers, vectors: r.vectors.map((v) => Array.from(v)), loadedLayers, fromCache };
  }, texts);
}

function expectSame(got: Hits, want: Hits): void {
  for (const [q, hits] of got.entries()) {
    expect(hits.map((h) => h.id)).toEqual(want[q]?.map((h) => h.id));
    for (const [i, h] of hits.entries()) expect(Math.abs(h.score - (want[q]?.[i]?.score as number))).toBeLessThan(1e-5);
  }
}

describe('progressive start in Chromium over a slow connection', { timeout: 300_000 }, () => {
  let server: Server;
  let url: string;
  let browser: Browser;
  let packDir: string;
  const sent = new Map<string, number>();

  beforeAll(async () => {
    const outDir = await buildHarness('bert-tiny-progressive');
    packDir = join(outDir, 'pack');
    ({ server, url } = await serveStatic(outDir, {
      throttle: { paths: /^\/pack\/layer-0[1-3]\.bin$/, chunks: 5, ms: 100 },
      onSent: (path) => sent.set(path, performance.now()),
    }));
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  });
  afterAll(async () => {
    await browser?.close();
    server?.close();
  });

  it('answers at exit 1 before the last shard is sent, upgrades to 4, then matches full depth (an index made meanwhile too); a warm cache starts whole', async () => {
    const reference = await createEncoder({ model: packDir, device: 'cpu' });
    const [shallow, deep] = [await reference.embed(TEXTS, { layers: 1 }), await reference.embed(TEXTS)];
    await reference.dispose();

    const context = await browser.newContext();
    const page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') console.error(`page: ${m.text()}`);
    });
    await page.goto(url);
    await page.waitForFunction(() => document.title === 'ready');

    const started = performance.now();
    const first = await firstAnswer(page, TEXTS);
    const firstAt = performance.now();
    expect(first.loadedLayers).toBe(1);
    expect(first.layers).toEqual([1, 1]);
    expect(sent.has(LAST_SHARD)).toBe(false);
    for (const [i, v] of first.vectors.entries()) {
      expect(cosine(Float32Array.from(v), shallow[i] as Float32Array)).toBeGreaterThanOrEqual(0.99999);
    }

    // A stored index made now takes its documents at once, at the exit loaded.
    const during = await page.evaluate(async (docs) => {
      const g = globalThis as unknown as { encoder: Awaited<ReturnType<Api['createEncoder']>>; index: PageIndex };
      g.index = await m3web.createIndex({ encoder: g.encoder, name: 'during', store: 'indexeddb' });
      await g.index.add(docs);
      return { shallowRows: g.index.shallowRows, layers: g.index.signature.layers };
    }, DOCS);
    expect(sent.has(LAST_SHARD)).toBe(false);
    expect(during).toEqual({ shallowRows: DOCS.length, layers: 4 });

    const upgrades = await page.evaluate(async () => {
      const g = globalThis as unknown as { upgrades: number[]; full: Promise<void> };
      await g.full;
      return g.upgrades;
    });
    const lastShard = sent.get(LAST_SHARD) as number;
    expect(firstAt).toBeLessThan(lastShard);
    expect(upgrades).toEqual([2, 3, 4]);
    console.log(
      `Chromium progressive: first vector (exit 1) back in Node ${(firstAt - started).toFixed(0)} ms, ` +
        `last shard sent ${(lastShard - started).toFixed(0)} ms after the start`,
    );
    const after = await page.evaluate(async (texts) => {
      const g = globalThis as unknown as { encoder: Awaited<ReturnType<Api['createEncoder']>> };
      const r = await g.encoder.embedDetailed(texts);
      return { layers: r.layers, vectors: r.vectors.map((v) => Array.from(v)) };
    }, TEXTS);
    expect(after.layers).toEqual([4, 4]);
    for (const [i, v] of after.vectors.entries()) {
      expect(cosine(Float32Array.from(v), deep[i] as Float32Array)).toBeGreaterThanOrEqual(0.99999);
    }

    // Once exit 4 is in, the index embeds its rows again in the background; it then answers as
    // an index built afresh at full depth does.
    const upgraded = await page.evaluate(
      async ({ docs, queries }) => {
        const g = globalThis as unknown as { encoder: Awaited<ReturnType<Api['createEncoder']>>; index: PageIndex };
        for (let i = 0; g.index.shallowRows > 0; i++) {
          if (i > 1000) throw new Error(`${g.index.shallowRows} rows still below exit 4`);
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        const fresh = await m3web.createIndex({ encoder: g.encoder, name: 'fresh' });
        await fresh.add(docs);
        const search = async (index: PageIndex) => {
          const out: { id: string; score: number }[][] = [];
          for (const q of queries)
            out.push((await index.search(q, { k: 4, mode: 'vector' })).map(({ id, score }) => ({ id, score })));
          return out;
        };
        return { index: await search(g.index), fresh: await search(fresh) };
      },
      { docs: DOCS, queries: QUERIES },
    );
    expectSame(upgraded.index, upgraded.fresh);

    // A second tab of the same browser profile, with an engine of its own: every file is in
    // IndexedDB now, so the whole model loads before createEncoder resolves.
    const warm = await context.newPage();
    await warm.goto(url);
    await warm.waitForFunction(() => document.title === 'ready');
    const again = await firstAnswer(warm, TEXTS);
    expect(again).toMatchObject({ loadedLayers: 4, fromCache: true, layers: [4, 4] });
    // The stored index comes back with every row at exit 4, answering as before.
    const reopened = await warm.evaluate(async (queries) => {
      const g = globalThis as unknown as { encoder: Awaited<ReturnType<Api['createEncoder']>> };
      const index = await m3web.createIndex({ encoder: g.encoder, name: 'during', store: 'indexeddb' });
      const hits: { id: string; score: number }[][] = [];
      for (const q of queries)
        hits.push((await index.search(q, { k: 4, mode: 'vector' })).map(({ id, score }) => ({ id, score })));
      return { shallowRows: index.shallowRows, size: index.size, hits };
    }, QUERIES);
    expect(reopened).toMatchObject({ shallowRows: 0, size: DOCS.length });
    expectSame(reopened.hits, upgraded.fresh);
    await context.close();
  });
});
