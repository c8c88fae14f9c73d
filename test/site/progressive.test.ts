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
const LAST_SHARD = '/pack/layer-03.bin';

type Api = typeof import('../../src/index.js');
declare global {
  // The harness page puts the public API here.
  var m3web: Api;
}

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

  it('answers at exit 1 before the last shard is sent, upgrades to 4, then matches full depth; a warm cache starts whole', async () => {
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

    // A second tab of the same browser profile, with an engine of its own: every file is in
    // IndexedDB now, so the whole model loads before createEncoder resolves.
    const warm = await context.newPage();
    await warm.goto(url);
    await warm.waitForFunction(() => document.title === 'ready');
    const again = await firstAnswer(warm, TEXTS);
    expect(again).toMatchObject({ loadedLayers: 4, fromCache: true, layers: [4, 4] });
    await context.close();
  });
});
