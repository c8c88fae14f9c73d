import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../support/chromium.js';
import { folderFiles, startFakeHub } from '../support/hub-server.js';
import { serveStatic } from '../support/static-server.js';

const ROOT = join(import.meta.dirname, '../..');
const VITE = join(ROOT, 'node_modules/vite/bin/vite.js');
/** Set to a folder (npm run docs:screenshots) to save a picture of each panel there. */
const SHOTS = process.env.M3WEB_SCREENSHOTS;
/** Load, search, the budget probe and the trade-off timings of m3-mini on SwiftShader. */
const READY_MS = 240_000;

const text = (page: Page, id: string) => page.locator(`#${id}`).innerText();

const PANELS = ['offline-status', 'load-status', 'budget-plan', 'compare-time', 'search-status', 'tradeoff-status'];

/** Seconds the load panel says the model took. */
const loadSeconds = (status: string) => Number(/loaded in ([\d.]+) s/.exec(status)?.[1] ?? Number.NaN);

/** Waits for the model panel alone (the other panels of an extra tab are not what its test is about). */
async function modelReady(page: Page): Promise<string> {
  await page.waitForFunction(
    () => /loaded in|could not be loaded/.test(document.querySelector('#load-status')?.textContent ?? ''),
    null,
    { timeout: READY_MS },
  );
  const status = await text(page, 'load-status');
  expect(status).toMatch(/loaded in/);
  return status;
}

/** Chromium's worker targets of the whole browser, by type ('shared_worker', 'worker', 'service_worker'). */
async function workerTargets(browser: Browser): Promise<Record<string, number>> {
  const cdp = await browser.newBrowserCDPSession();
  try {
    const { targetInfos } = (await cdp.send('Target.getTargets')) as { targetInfos: { type: string }[] };
    const count: Record<string, number> = {};
    for (const t of targetInfos) count[t.type] = (count[t.type] ?? 0) + 1;
    return count;
  } finally {
    await cdp.detach();
  }
}

/** Waits for every panel to finish; a timeout names what each panel last said. */
async function ready(page: Page): Promise<void> {
  try {
    await page.waitForSelector('body[data-ready="true"]', { timeout: READY_MS });
  } catch (err) {
    const said = await Promise.all(PANELS.map((id) => text(page, id).catch(() => '?')));
    throw new Error(`${(err as Error).message}\n${PANELS.map((id, i) => `#${id}: ${said[i]}`).join('\n')}`);
  }
}

/** The built site (npm run build) on a plain static server, in headless Chromium. */
describe('the playground site', { timeout: 900_000 }, () => {
  let server: Server;
  let url: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** Every path the site server was asked for. */
  const requests: string[] = [];
  let firstLoad = '';

  beforeAll(async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'm3web-site-'));
    // As `npm run build` does it: Vitest's NODE_ENV=test would make an in-process build a non-production one.
    const env = { ...process.env, NODE_ENV: 'production' };
    execFileSync(process.execPath, [VITE, 'build', '--outDir', outDir, '--emptyOutDir', '--logLevel', 'error'], {
      cwd: ROOT,
      env,
    });
    ({ server, url } = await serveStatic(outDir, { onRequest: (path) => requests.push(path) }));
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
    context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    page = await context.newPage();
  });
  afterAll(async () => {
    await browser?.close();
    server?.close();
  });

  it('loads the bundled model with progress, then compares, searches and plots', async () => {
    page.on('console', (m) => {
      if (m.type() === 'error') console.error(`page: ${m.text()}`);
    });
    // The progress line names each shard while it downloads. Recorded in the page on every change:
    // polling from here missed a fast load on a busy machine.
    await page.addInitScript(() => {
      const seen: string[] = [];
      (globalThis as { loadStatuses?: string[] }).loadStatuses = seen;
      new MutationObserver(() => {
        const status = document.getElementById('load-status')?.textContent;
        if (status) seen.push(status);
      }).observe(document, { subtree: true, childList: true, characterData: true });
    });
    await page.goto(url);
    await ready(page);
    const shards = await page.evaluate(() => (globalThis as { loadStatuses?: string[] }).loadStatuses ?? []);
    expect(shards.some((s) => /downloading .*\.bin/.test(s))).toBe(true);
    firstLoad = await text(page, 'load-status');
    expect(firstLoad).toMatch(/^m3-mini: 6 layers, 256 dims, q8, loaded in [\d.]+ s$/);
    expect(await text(page, 'load-engine')).toMatch(/^One engine for this site: 1 tab uses this model/);
    // SwiftShader here: device 'auto' measures the CPU path faster and says so.
    expect(await text(page, 'load-backend')).toMatch(
      /^Running on the CPU, measured faster here for queries and batches \(the CPU: predicted/,
    );
    expect(await text(page, 'offline-status')).toMatch(/^Works offline/);
    expect(await text(page, 'compare-time')).toMatch(/^7 sentences embedded in \d+ ms at 6 layers x 256 dims\.$/);
    expect(await page.locator('#compare-heatmap td').count()).toBe(49);

    expect(await text(page, 'search-status')).toMatch(/^2,376 sentences indexed in \d+ ms/);
    const hits = page.locator('#search-hits li');
    expect(await hits.count()).toBe(10);
    const languages = new Set(await page.locator('#search-hits .tag').allInnerTexts());
    expect(languages.size).toBeGreaterThan(2);
    expect(await text(page, 'tradeoff-status')).toMatch(/^Median of 3 runs/);
    expect(await page.locator('#tradeoff-chart circle').count()).toBe(24);
    if (SHOTS) {
      mkdirSync(SHOTS, { recursive: true });
      for (const panel of ['load', 'budget', 'compare', 'search', 'tradeoff']) {
        await page.locator(`#${panel}`).screenshot({ path: join(SHOTS, `${panel}.png`) });
      }
    }
  });

  it('shares one engine with a second tab: one shared worker, each shard fetched once, ready 5x sooner', async () => {
    const second = await context.newPage();
    try {
      await second.goto(url);
      const status = await modelReady(second);
      expect(loadSeconds(status)).toBeLessThan(loadSeconds(firstLoad) / 5);
      expect(await text(second, 'load-engine')).toMatch(/^One engine for this site: 2 tabs use this model/);
      const targets = await workerTargets(browser);
      expect(targets.shared_worker).toBe(1);
      expect(targets.worker ?? 0).toBe(0);
      const shards = requests.filter((p) => p.startsWith('/models/m3-mini/') && p.endsWith('.bin'));
      expect(shards.length).toBeGreaterThan(1);
      expect(new Set(shards).size).toBe(shards.length);
    } finally {
      await second.close();
    }
  });

  it('runs on a dedicated worker where the browser has no SharedWorker', async () => {
    const solo = await context.newPage();
    try {
      await solo.addInitScript(() => {
        delete (globalThis as { SharedWorker?: unknown }).SharedWorker;
      });
      await solo.goto(url);
      expect(await modelReady(solo)).toMatch(/from the offline cache/);
      expect(await text(solo, 'load-engine')).toMatch(/dedicated worker/);
      expect((await workerTargets(browser)).worker).toBe(1);
    } finally {
      await solo.close();
    }
  });

  it('filters search hits by language, and a query in one language finds others', async () => {
    await page.fill('#search-input', 'Wo finde ich ein günstiges Hotel?');
    await page.selectOption('#search-lang', 'jpn_Jpan');
    await page.click('#search-run');
    await page.waitForFunction(() => document.querySelector('#search-time')?.textContent?.startsWith('10 hits'));
    expect(await page.locator('#search-hits li').count()).toBe(10);
    expect(new Set(await page.locator('#search-hits .tag').allInnerTexts())).toEqual(new Set(['Japanese']));
  });

  it('ranks by words, meaning or both, and shows which ranker found each hit', async () => {
    await page.selectOption('#search-lang', '');
    await page.fill('#search-input', 'Beijing');
    await page.selectOption('#search-mode', 'lexical');
    await page.waitForFunction(() => document.querySelector('#search-time')?.textContent?.includes('no model call'));
    const lexical = await page.locator('#search-hits .ranks').allInnerTexts();
    expect(lexical.length).toBeGreaterThan(0);
    expect(lexical.every((r) => /^words #\d+$/.test(r))).toBe(true);
    // Sentences naming Beijing first; words that only sound alike (a sound key) may follow, never precede.
    const texts = await page.locator('#search-hits li').allInnerTexts();
    const literal = texts.filter((t) => /beiji/i.test(t)).length;
    expect(literal).toBeGreaterThanOrEqual(5);
    expect(texts.slice(0, literal).every((t) => /beiji/i.test(t))).toBe(true);
    // The query's words are marked in each hit; typing in words mode searches at once, the last word completed.
    expect((await page.locator('#search-hits mark').allInnerTexts()).some((m) => /^beijing$/i.test(m))).toBe(true);
    await page.fill('#search-input', 'Beij');
    await page.waitForFunction(() => document.querySelector('#search-time')?.textContent?.includes('completed as you type'));
    const marks = await page.locator('#search-hits mark').allInnerTexts();
    expect(marks.length).toBeGreaterThan(0);
    expect(marks.every((m) => /^beij/i.test(m))).toBe(true);
    // A typo: read as the nearest spelling the sentences hold, marked in the hits, and said so.
    await page.fill('#search-input', 'Beijnig');
    await page.waitForFunction(() =>
      document
        .querySelector('#search-time')
        ?.textContent?.includes('read as the nearest spellings found: “beijnig” as “beijing”'),
    );
    expect((await page.locator('#search-hits mark').allInnerTexts()).some((m) => /^beijing$/i.test(m))).toBe(true);
    // Query syntax through the engine's worker: an excluded word keeps every sentence holding it out.
    await page.fill('#search-input', 'Beijing -beijing');
    await page.waitForFunction(() => !/beijing/i.test(document.querySelector('#search-hits')?.textContent ?? 'beijing'));
    await page.fill('#search-input', 'Beijing');
    await page.selectOption('#search-mode', 'hybrid');
    await page.waitForFunction(() => document.querySelector('#search-time')?.textContent?.includes('fused by rank'));
    const hybrid = await page.locator('#search-hits .ranks').allInnerTexts();
    expect(hybrid.some((r) => r.includes('vector #'))).toBe(true);
    expect(hybrid.some((r) => r.includes('words #'))).toBe(true);
  });

  it("searches the user's own files: pages cut into titled sections, embedded on the page, then back to the sentences", async () => {
    const file = (name: string, body: string) => ({ name, mimeType: 'text/plain', buffer: Buffer.from(body) });
    await page.setInputFiles('#search-files', [
      file(
        'tides.md',
        '# Tides\n\nThe sea rises twice a day.\n\n## Spring tides\n\nAt new and full moon the range is largest.\n',
      ),
      file(
        'guide.html',
        '<title>Guide</title><nav>Home</nav><main><h1>Harbour guide</h1><p>Boats moor here.</p><h2 id="fees">Fees</h2><p>Mooring costs ten euros a night.</p></main>',
      ),
      file('notes.txt', 'Bring a raincoat.'),
      // Not a document: left out, not read as text.
      { name: 'logo.png', mimeType: 'image/png', buffer: Buffer.from([0x89, 0x50, 0x4e, 0x47]) },
    ]);
    await page.waitForFunction(() => document.querySelector('#search-status')?.textContent?.includes('5 documents from 3 files'));
    expect(await text(page, 'search-title')).toBe('4. Search your 5 documents');
    expect(await page.locator('#search-lang').isHidden()).toBe(true);
    await page.selectOption('#search-mode', 'lexical');
    await page.fill('#search-input', 'full moon');
    await page.click('#search-run');
    // The files' first search (the last query, "Beijing") also says "5 documents": wait for this query's hits.
    await page.waitForFunction(() => [...document.querySelectorAll('#search-hits mark')].some((m) => m.textContent === 'moon'));
    expect(await page.locator('#search-time').innerText()).toContain('5 documents');
    const first = page.locator('#search-hits li').first();
    expect(await first.locator('.hit-title').innerText()).toBe('Tides › Spring tides');
    expect(await first.locator('.tag').innerText()).toBe('tides.md');
    expect(await first.locator('mark').allInnerTexts()).toEqual(['full', 'moon']);
    // A German word no file holds looks for its translations (the playground's lexicons).
    await page.fill('#search-input', 'Mond');
    await page.click('#search-run');
    await page.waitForFunction(() => document.querySelector('#search-hits li mark')?.textContent === 'moon');
    expect(await page.locator('#search-time').innerText()).toMatch(/Also searched as their translations: “mond” as “moon”/);
    expect(await first.locator('.hit-title').innerText()).toBe('Tides › Spring tides');
    await page.fill('#search-input', 'mooring fees');
    await page.selectOption('#search-mode', 'hybrid');
    await page.waitForFunction(() =>
      document.querySelector('#search-time')?.textContent?.includes("the model's measured weights"),
    );
    expect(await page.locator('#search-hits li').first().getAttribute('title')).toBe('guide.html#fees');
    // A file that is not a document list is refused, naming the line, and the files' index stays.
    await page.setInputFiles('#search-files', [file('bad.jsonl', '{"id": "a", "text": "ok"}\nnot json\n')]);
    await page.waitForFunction(() => document.querySelector('#search-status')?.textContent?.includes('could not be indexed'));
    expect(await text(page, 'search-status')).toMatch(/bad\.jsonl line 2 is not JSON.*your earlier files/);
    // A folder: its documents, wherever they sit in it, named by their path.
    const folder = mkdtempSync(join(tmpdir(), 'm3web-own-'));
    mkdirSync(join(folder, 'docs', 'img'), { recursive: true });
    writeFileSync(join(folder, 'docs', 'ferry.md'), '# Ferry\n\nThe ferry leaves at noon.\n');
    writeFileSync(join(folder, 'docs', 'img', 'map.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    await page.setInputFiles('#search-folder', folder);
    await page.waitForFunction(() => document.querySelector('#search-status')?.textContent?.includes('1 document from 1 file'));
    await page.click('#search-run');
    await page.waitForFunction(() => document.querySelector('#search-time')?.textContent?.includes('scoring 1 document '));
    expect(await page.locator('#search-hits li .tag').first().innerText()).toMatch(/docs\/ferry\.md$/);
    await page.click('#search-own-reset');
    expect(await text(page, 'search-title')).toBe('4. Search 2,376 sentences in 24 languages');
    await page.waitForFunction(() => document.querySelector('#search-time')?.textContent?.includes('2,376 sentences'));
    expect(await page.locator('#search-lang').isVisible()).toBe(true);
  });

  it('moves the plan with the latency slider', async () => {
    const plan = () => text(page, 'budget-plan');
    const shape = async () => [await page.inputValue('#layers'), await page.inputValue('#dims')].join(' layers × ');
    await page.locator('#budget-latency').fill('0');
    expect(await text(page, 'budget-latency-value')).toBe('1 ms');
    await expect.poll(plan, { timeout: 30_000 }).toMatch(/^1 layers × 32 dims: .*nothing fits/);
    expect(await shape()).toBe('1 layers × 32');
    await page.locator('#budget-latency').fill('10');
    expect(await text(page, 'budget-latency-value')).toBe('2000 ms');
    // Two seconds fit every shape here; the plan is then the best measured quality, whatever its depth.
    await expect.poll(plan, { timeout: 30_000 }).not.toMatch(/^1 layers × 32 dims|nothing fits/);
    expect(await plan()).toMatch(new RegExp(`^${await shape()} dims: predicted`));
    expect(await text(page, 'shape-note')).toMatch(/chosen by the planner for your budget/);
    await page.selectOption('#layers', '2');
    expect(await text(page, 'shape-note')).toMatch(/^2 layers × 256 dims, chosen by hand\./);
  });

  it('opens offline after the first visit: page from the service worker, model and corpus from IndexedDB', async () => {
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30_000 });
    await context.setOffline(true);
    try {
      await page.goto(url);
      await ready(page);
      expect(await text(page, 'offline-status')).toMatch(/^Offline/);
      expect(await text(page, 'load-status')).toMatch(/from the offline cache/);
      expect(await text(page, 'search-status')).toMatch(/^2,376 sentences, loaded from this browser's IndexedDB/);
      expect(await page.locator('#search-hits li').count()).toBe(10);
      // The lexicons the first visit fetched, kept by the service worker: query words still translated.
      expect(await page.evaluate(async () => (await (await fetch('lexicons/de.json')).json()).language)).toBe('de');
    } finally {
      await context.setOffline(false);
    }
  });

  it('opens a Hub model from the model box: downloaded, converted, and every panel runs on it', async () => {
    const fixture = join(ROOT, 'test/oracle/fixtures/bert-tiny');
    const files = folderFiles(fixture, ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors']);
    const hub = await startFakeHub(new Map([['fixtures/bert-tiny', { files, commit: 'f00d' }]]));
    const other = await context.newPage();
    try {
      await other.goto(`${url}?device=cpu&hub=${encodeURIComponent(hub.url)}`);
      await modelReady(other);
      await other.fill('#model-input', 'hf:fixtures/bert-tiny');
      await other.click('#model-form button');
      await other.waitForURL(/model=hf%3Afixtures%2Fbert-tiny/);
      await ready(other);
      expect(await text(other, 'load-status')).toMatch(/^fixtures--bert-tiny: 4 layers, 48 dims, q8, loaded in [\d.]+ s$/);
      expect(await other.inputValue('#model-input')).toBe('hf:fixtures/bert-tiny');
      expect(await text(other, 'search-status')).toMatch(/^2,376 sentences embedded by fixtures--bert-tiny/);
      expect(await other.locator('#search-hits li').count()).toBe(10);
      expect(await text(other, 'budget-reason')).toMatch(/no quality table/);
      expect(await text(other, 'tradeoff-status')).toMatch(/no quality table/);
      expect(hub.log.some((r) => r.server === 'cdn' && r.range !== null)).toBe(true);
    } finally {
      await other.close();
      await hub.close();
    }
  });

  it('opens a Hugging Face folder picked in the model box: kept for the reload, converted on this device', async () => {
    const other = await context.newPage();
    try {
      await other.goto(`${url}?device=cpu`);
      await modelReady(other);
      await other.setInputFiles('#model-folder', join(ROOT, 'test/oracle/fixtures/bert-tiny'));
      await other.waitForURL(/model=folder/);
      expect(await modelReady(other)).toMatch(/^bert-tiny: 4 layers, 48 dims, q8, loaded in [\d.]+ s$/);
      expect(await other.inputValue('#model-input')).toBe('folder: bert-tiny');
    } finally {
      await other.close();
    }
  });

  it('opens a static embedder (a model2vec folder): every panel runs, on the CPU, with no layers', async () => {
    const other = await context.newPage();
    try {
      await other.goto(url);
      await modelReady(other);
      await other.setInputFiles('#model-folder', join(ROOT, 'test/oracle/fixtures/model2vec-tiny'));
      await other.waitForURL(/model=folder/);
      await ready(other);
      expect(await text(other, 'load-status')).toMatch(/^model2vec-tiny: no layers \(static\), 32 dims, q8, loaded in [\d.]+ s$/);
      expect(await text(other, 'load-backend')).toMatch(/^Running on the CPU: a static embedder/);
      expect(await text(other, 'search-status')).toMatch(/^2,376 sentences embedded by model2vec-tiny/);
      expect(await other.locator('#search-hits li').count()).toBe(10);
    } finally {
      await other.close();
    }
  });

  it('opens a jina-embeddings-v3 folder: the compare panel runs its text-matching adapter and says so', async () => {
    const other = await context.newPage();
    try {
      await other.goto(`${url}?device=cpu`);
      await modelReady(other);
      await other.setInputFiles('#model-folder', join(ROOT, 'test/oracle/fixtures/jina-v3-tiny'));
      await other.waitForURL(/model=folder/);
      await ready(other);
      expect(await text(other, 'load-status')).toMatch(/^jina-v3-tiny: 2 layers, 64 dims, q8, loaded in [\d.]+ s$/);
      await other.click('#compare-run');
      await other.waitForFunction(() =>
        /with the text-matching adapter\.$/.test(document.getElementById('compare-time')?.textContent ?? ''),
      );
      expect(await other.locator('#compare-heatmap td').count()).toBe(49);
      expect(await other.locator('#search-hits li').count()).toBe(10);
    } finally {
      await other.close();
    }
  });

  it('opens a cross-encoder folder: the compare panel scores every pair, the search panel says why it has nothing to do', async () => {
    const other = await context.newPage();
    try {
      await other.goto(`${url}?device=cpu`);
      await modelReady(other);
      await other.setInputFiles('#model-folder', join(ROOT, 'test/oracle/fixtures/ce-bert-tiny'));
      await other.waitForURL(/model=folder/);
      expect(await modelReady(other)).toMatch(/^ce-bert-tiny: 4 layers, 48 dims, q8, loaded in [\d.]+ s$/);
      await other.waitForFunction(() =>
        /cross-encoder \(a reranker\)/.test(document.getElementById('search-status')?.textContent ?? ''),
      );
      await other.click('#compare-run');
      await other.waitForFunction(() =>
        /^49 pairs scored by the cross-encoder/.test(document.getElementById('compare-time')?.textContent ?? ''),
      );
      expect(await other.locator('#compare-heatmap td').count()).toBe(49);
    } finally {
      await other.close();
    }
  });

  // Inference-free SPLADE (a Router folder): its rows are queries weighed by the table. A plain SPLADE
  // folder takes the same panels' path (its document side is this one's), and embedding the corpus
  // on the CPU costs each of them 20 s here: the inference-free one stands for both.
  it.each([
    [
      'splade-inference-free',
      '2 layers, 48 dims',
      /^7 texts weighed over the vocabulary.*\(row: the query, weighed by its table/,
    ],
  ] as const)(
    'opens a SPLADE folder (%s): the compare panel shows its dot products, the search panel indexes its weights',
    async (name, shape, caption) => {
      const other = await context.newPage();
      try {
        await other.goto(`${url}?device=cpu`);
        await modelReady(other);
        await other.setInputFiles('#model-folder', join(ROOT, 'test/oracle/fixtures', name));
        await other.waitForURL(/model=folder/);
        expect(await modelReady(other)).toMatch(new RegExp(`^${name}: ${shape}, q8, loaded in [\\d.]+ s$`));
        await other.waitForFunction(
          (n) => document.getElementById('search-status')?.textContent?.includes(`sentences embedded by ${n}`),
          name,
          { timeout: READY_MS },
        );
        // No vectors to rank by: the menu offers the weights, words, and both.
        expect(
          await other.locator('#search-mode option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value)),
        ).toEqual(['hybrid', 'lexical', 'sparse']);
        await other.fill('#search-input', 'Beijing');
        await other.press('#search-input', 'Enter');
        await other.waitForFunction(() => document.querySelector('#search-time')?.textContent?.includes('fused by rank'));
        const ranks = await other.locator('#search-hits .ranks').allInnerTexts();
        expect(ranks.some((r) => r.includes('lexical weights #'))).toBe(true);
        expect(ranks.every((r) => !r.includes('vector #'))).toBe(true);
        await other.click('#compare-run');
        await other.waitForFunction(() =>
          /^7 texts weighed over the vocabulary/.test(document.getElementById('compare-time')?.textContent ?? ''),
        );
        expect(await other.locator('#compare-time').textContent()).toMatch(caption);
        expect(await other.locator('#compare-heatmap td').count()).toBe(49);
      } finally {
        await other.close();
      }
    },
  );

  it('reranks the search hits with a cross-encoder opened by Hub id, refuses an embedding model there, and drops it', async () => {
    const served = (name: string) => ({
      files: folderFiles(join(ROOT, 'test/oracle/fixtures', name), [
        'config.json',
        'tokenizer.json',
        'tokenizer_config.json',
        'model.safetensors',
      ]),
      commit: 'beef',
    });
    // jina-reranker-v2's layout: a config without model_type, XLM-R under the flash implementation's names.
    const hub = await startFakeHub(
      new Map([
        ['fixtures/ce-jina-flash-tiny', served('ce-jina-flash-tiny')],
        ['fixtures/bert-tiny', served('bert-tiny')],
        // The original Qwen3-Reranker layout (a causal LM known by its name), whose prompt takes an instruction.
        ['fixtures/Qwen3-Reranker-tiny', served('qwen3-reranker-tiny')],
      ]),
    );
    const other = await context.newPage();
    const searchTime = () => text(other, 'search-time');
    try {
      await other.goto(`${url}?device=cpu&hub=${encodeURIComponent(hub.url)}`);
      await modelReady(other);
      await other.waitForSelector('#rerank-open:not([disabled])', { timeout: READY_MS });
      await other.waitForFunction(() => document.querySelectorAll('#search-hits li').length === 10, null, { timeout: READY_MS });
      const open = async (id: string, said: RegExp) => {
        await other.fill('#rerank-input', id);
        await other.click('#rerank-open');
        await other
          .waitForFunction(
            (re) => new RegExp(re).test(document.getElementById('rerank-status')?.textContent ?? ''),
            said.source,
            {
              timeout: 120_000,
            },
          )
          .catch(async (err: Error) => {
            throw new Error(`${err.message}\n#rerank-status: ${await text(other, 'rerank-status')}`);
          });
      };
      await open('hf:fixtures/bert-tiny', /not opened: hf:fixtures\/bert-tiny is an embedding model/);
      expect(await searchTime()).not.toMatch(/cross-encoder/);
      await open(
        'hf:fixtures/ce-jina-flash-tiny',
        /^Reranking the best 20 hits with fixtures--ce-jina-flash-tiny \(3 layers, q8\)/,
      );
      await other.waitForFunction(
        () => /read again with the query by the cross-encoder/.test(document.getElementById('search-time')?.textContent ?? ''),
        null,
        {
          timeout: READY_MS,
        },
      );
      const scores = await other
        .locator('#search-hits .score')
        .evaluateAll((els) => els.map((e) => ({ value: Number(e.textContent), title: (e as HTMLElement).title })));
      expect(scores).toHaveLength(10);
      for (const [i, s] of scores.entries()) {
        expect(s.title).toMatch(/^reranker's score \(first stage: /);
        if (i > 0) expect(s.value).toBeLessThanOrEqual(scores[i - 1]?.value as number);
      }
      expect(await other.locator('#rerank-instruction-row').isHidden()).toBe(true);
      // A reranker that reads an instruction shows its default, and a new one reranks again.
      await open(
        'hf:fixtures/Qwen3-Reranker-tiny',
        /^Reranking the best 20 hits with fixtures--Qwen3-Reranker-tiny \(3 layers, q8\)/,
      );
      expect(await other.locator('#rerank-instruction-row').isVisible()).toBe(true);
      expect(await other.inputValue('#rerank-instruction')).toMatch(/^Given a web search query/);
      const firstScores = async () => other.locator('#search-hits .score').first().getAttribute('title');
      await other.waitForFunction(
        () => /read again with the query by the cross-encoder/.test(document.getElementById('search-time')?.textContent ?? ''),
        null,
        { timeout: READY_MS },
      );
      const before = await text(other, 'search-hits');
      await other.fill('#rerank-instruction', 'Find the sentence about travel');
      await other.dispatchEvent('#rerank-instruction', 'change');
      await other.waitForFunction((was) => document.getElementById('search-hits')?.innerText !== was, before, {
        timeout: READY_MS,
      });
      expect(await firstScores()).toMatch(/^reranker's score/);
      await open('', /^No reranking/);
      expect(await other.locator('#rerank-instruction-row').isHidden()).toBe(true);
      await other.waitForFunction(
        () =>
          !/cross-encoder/.test(document.getElementById('search-time')?.textContent ?? '') &&
          /hits in/.test(document.getElementById('search-time')?.textContent ?? ''),
      );
    } finally {
      await other.close();
      await hub.close();
    }
  });

  it('runs on the CPU when asked (?device=cpu), and says so', async () => {
    const cpu = await context.newPage();
    await cpu.goto(`${url}?device=cpu`);
    await ready(cpu);
    expect(await text(cpu, 'load-backend')).toMatch(/^Running on the CPU, as asked/);
    expect(await cpu.locator('#search-hits li').count()).toBe(10);
    await cpu.close();
  });

  it('runs on WebGPU when asked (?device=webgpu), and says which activation type and why', async () => {
    const gpu = await context.newPage();
    await gpu.goto(`${url}?device=webgpu`);
    await modelReady(gpu);
    // SwiftShader has no shader-f16.
    expect(await text(gpu, 'load-backend')).toMatch(
      /^Running on WebGPU, as asked \(\?device=webgpu\): .+\. f32 activations: the GPU adapter has no shader-f16\.$/,
    );
    await gpu.close();
  });
});
