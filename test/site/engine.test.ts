import type { Server } from 'node:http';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../support/chromium.js';
import { serveStatic } from '../support/static-server.js';
import { buildHarness } from './harness/build.js';

// The engine across tabs, in headless Chromium: several pages of one origin run the public API
// (test/site/harness, built by Vite as a user's app would be) against a bert-tiny pack.

const DOCS_PER_TAB = 500;
const BATCH = 50;

type Api = typeof import('../../src/index.js');
declare global {
  // The harness page puts the public API here.
  var m3web: Api;
}

interface TabResult {
  size: number;
  failed: string | null;
}

/** In the page: opens the encoder and the stored index `name`, adds `count` documents in batches. */
async function addFromTab(page: Page, tab: number, name: string, shared: boolean, count: number): Promise<TabResult> {
  return page.evaluate(
    async ({ tab, name, shared, count, batch }) => {
      const encoder = await m3web.createEncoder({ model: './pack', shared });
      const index = await m3web.createIndex({ encoder, name, store: 'indexeddb' });
      const docs = Array.from({ length: count }, (_, i) => ({
        id: `tab${tab}-${i}`,
        text: `document ${i} written by tab ${tab} about subject ${i % 23}`,
        meta: { tab },
      }));
      try {
        for (let i = 0; i < docs.length; i += batch) await index.add(docs.slice(i, i + batch));
        return { size: index.size, failed: null };
      } catch (err) {
        return { size: index.size, failed: `${(err as { code?: string }).code}: ${(err as Error).message}` };
      }
    },
    { tab, name, shared, count, batch: BATCH },
  );
}

/** In a fresh page: the stored index's size and the best hit for one document of each tab. */
async function reopen(page: Page, name: string, shared: boolean): Promise<{ size: number; hits: string[] }> {
  return page.evaluate(
    async ({ name, shared }) => {
      const encoder = await m3web.createEncoder({ model: './pack', shared });
      const index = await m3web.createIndex({ encoder, name, store: 'indexeddb' });
      const hits = [];
      for (const q of ['document 17 written by tab 0 about subject 17', 'document 401 written by tab 1 about subject 10']) {
        hits.push((await index.search(q, { k: 1, exact: true }))[0]?.id ?? 'none');
      }
      const size = index.size;
      await encoder.dispose();
      return { size, hits };
    },
    { name, shared },
  );
}

describe('one engine per origin, in Chromium tabs', { timeout: 600_000 }, () => {
  let server: Server;
  let url: string;
  let browser: Browser;
  let context: BrowserContext;

  const tab = async (): Promise<Page> => {
    const page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') console.error(`page: ${m.text()}`);
    });
    await page.goto(url);
    await page.waitForFunction(() => document.title === 'ready');
    return page;
  };

  beforeAll(async () => {
    const outDir = await buildHarness('bert-tiny');
    ({ server, url } = await serveStatic(outDir));
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    context = await browser.newContext();
  });
  afterAll(async () => {
    await browser?.close();
    server?.close();
  });

  it.each([
    ['one shared worker', true],
    ['a dedicated worker per tab (Web Locks between them)', false],
  ])('two tabs adding 500 documents each at once to one stored index lose none of them: %s', async (_, shared) => {
    const name = `concurrent-${shared ? 'shared' : 'dedicated'}`;
    const [a, b] = await Promise.all([tab(), tab()]);
    const results = await Promise.all([
      addFromTab(a, 0, name, shared, DOCS_PER_TAB),
      addFromTab(b, 1, name, shared, DOCS_PER_TAB),
    ]);
    expect(results.map((r) => r.failed)).toEqual([null, null]);
    // Each tab saw at least its own documents; the last writer saw everything.
    expect(Math.max(...results.map((r) => r.size))).toBe(2 * DOCS_PER_TAB);
    await Promise.all([a.close(), b.close()]);
    const fresh = await tab();
    expect(await reopen(fresh, name, shared)).toEqual({ size: 2 * DOCS_PER_TAB, hits: ['tab0-17', 'tab1-401'] });
    await fresh.close();
  });

  it.each([
    ['shared', true],
    ['dedicated', false],
  ])('two tabs adding the same id at once: one adds it, the other gets INVALID_INPUT: %s', async (_, shared) => {
    const name = `same-id-${shared ? 'shared' : 'dedicated'}`;
    const [a, b] = await Promise.all([tab(), tab()]);
    const add = (page: Page) =>
      page.evaluate(
        async ({ name, shared }) => {
          const encoder = await m3web.createEncoder({ model: './pack', shared });
          const index = await m3web.createIndex({ encoder, name, store: 'indexeddb' });
          try {
            await index.add([{ id: 'same', text: `written at ${performance.now()}` }]);
            return 'added';
          } catch (err) {
            return (err as { code?: string }).code ?? String(err);
          }
        },
        { name, shared },
      );
    const outcomes = await Promise.all([add(a), add(b)]);
    expect(outcomes.sort()).toEqual(['INVALID_INPUT', 'added']);
    await Promise.all([a.close(), b.close()]);
    const fresh = await tab();
    expect((await reopen(fresh, name, shared)).size).toBe(1);
    await fresh.close();
  });

  it.each([
    ['shared', true],
    ['dedicated', false],
  ])(
    'a tab closed in the middle of a sync leaves the index at the old or the new set, nothing between: %s',
    async (_, shared) => {
      const name = `sync-cut-${shared ? 'shared' : 'dedicated'}`;
      const docs = (from: number, to: number, word: (i: number) => string) =>
        Array.from({ length: to - from }, (_, j) => ({
          id: `d${from + j}`,
          text: `${word(from + j)} document number ${from + j}`,
        }));
      const before = docs(0, 300, () => 'alpha');
      const after = [...docs(150, 300, () => 'alpha'), ...docs(300, 450, () => 'beta')];
      const sync = (page: Page, set: { id: string; text: string }[], wait: boolean) =>
        page.evaluate(
          async ({ name, shared, set, wait }) => {
            const encoder = await m3web.createEncoder({ model: './pack', shared });
            const index = await m3web.createIndex({ encoder, name, store: 'indexeddb' });
            const done = index.sync(set);
            if (wait) await done;
          },
          { name, shared, set, wait },
        );
      const first = await tab();
      await sync(first, before, true);
      await first.close();
      const cut = await tab();
      await sync(cut, after, false);
      await new Promise((r) => setTimeout(r, 150));
      await cut.close();
      const fresh = await tab();
      const counts = await fresh.evaluate(
        async ({ name, shared }) => {
          const encoder = await m3web.createEncoder({ model: './pack', shared });
          const index = await m3web.createIndex({ encoder, name, store: 'indexeddb' });
          const count = async (word: string) => (await index.search(word, { k: 1000, mode: 'lexical' })).length;
          const out = { size: index.size, alpha: await count('alpha'), beta: await count('beta') };
          await encoder.dispose();
          return out;
        },
        { name, shared },
      );
      expect([
        { size: 300, alpha: 300, beta: 0 },
        { size: 300, alpha: 150, beta: 150 },
      ]).toContainEqual(counts);
      await fresh.close();
    },
  );

  it('counts its clients, and a closed tab gives up its share', async () => {
    const [a, b] = await Promise.all([tab(), tab()]);
    const open = (page: Page) =>
      page.evaluate(async () => {
        const encoder = await m3web.createEncoder({ model: './pack' });
        (globalThis as { encoder?: unknown }).encoder = encoder;
        return (await encoder.info()).engine;
      });
    expect(await open(a)).toEqual({ shared: true, clients: 1 });
    expect(await open(b)).toEqual({ shared: true, clients: 2 });
    // Closed in the middle of a call: the engine aborts it and lets the tab go.
    await b.evaluate(() => {
      const encoder = (globalThis as { encoder?: { embed(t: string[]): Promise<unknown> } }).encoder;
      void encoder?.embed(Array.from({ length: 200 }, (_, i) => `a long call ${i}`));
    });
    await b.close();
    const clients = () =>
      a.evaluate(async () => {
        const encoder = (globalThis as { encoder?: { info(): Promise<{ engine: { clients: number } }> } }).encoder;
        return (await encoder?.info())?.engine.clients;
      });
    await expect.poll(clients, { timeout: 30_000 }).toBe(1);
    expect(
      await a.evaluate(async () => {
        const encoder = (globalThis as { encoder?: { embed(t: string[]): Promise<Float32Array[]> } }).encoder;
        return (await encoder?.embed(['still here']))?.[0]?.length;
      }),
    ).toBe(48);
    await a.close();
  });

  it('after the engine crashes, calls in flight get ENGINE_LOST and the next call starts a new engine with the stored index', async () => {
    const page = await tab();
    const outcome = await page.evaluate(async () => {
      // WebGPU on the software adapter keeps the call in flight when the worker dies (its
      // pipelines alone take longer to compile); 'auto' would run it on the CPU, done before the
      // crash. A longer call would only leave the GPU process busier for the next engine.
      const encoder = await m3web.createEncoder({ model: './pack', device: 'webgpu' });
      const index = await m3web.createIndex({ encoder, name: 'survives-crash', store: 'indexeddb' });
      await index.add([{ id: 'kept', text: 'a document that outlives its engine' }]);
      const memory = await m3web.createIndex({ encoder, name: 'in-memory' });
      await memory.add([{ id: 'gone', text: 'lost with the engine' }]);
      const inFlight = encoder.embed(Array.from({ length: 64 }, (_, i) => `text ${i} in flight when the worker dies`)).then(
        () => 'resolved',
        (err) => (err as { code?: string }).code,
      );
      await (encoder as unknown as { simulateCrash(): Promise<void> }).simulateCrash();
      const lost = await inFlight;
      const after = (await encoder.embed(['a new engine answers']))[0]?.length;
      const hit = (await index.search('a document that outlives', { k: 1 }))[0]?.id;
      const memoryAfter = await memory.search('lost', { k: 1 }).then(
        () => 'found',
        (err) => (err as { code?: string }).code,
      );
      await encoder.dispose();
      return { lost, after, hit, memoryAfter };
    });
    expect(outcome).toEqual({ lost: 'ENGINE_LOST', after: 48, hit: 'kept', memoryAfter: 'ENGINE_LOST' });
    await page.close();
  });
});
