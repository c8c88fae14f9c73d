/**
 * Drives one benchmark page in a fresh headless Chromium: cold start in a fresh context, warm
 * start by reloading in that context, the timed cases, and the browser's peak memory. Nothing
 * here may hang: every wait has a limit, and the browser is closed whatever happens.
 */
import { randomUUID } from 'node:crypto';
import { type Browser, chromium, type Page } from 'playwright';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../test/support/chromium.js';
import type { CasePlan, CaseResults } from '../measure.js';
import type { Dtype, RowResult, Runtime } from '../results-table.js';
import { JsHeapPeaks } from './heap.js';
import { ChromiumPeaks } from './memory.js';
import type { PageStart, Point } from './page-api.js';

export interface PageRun {
  runtime: Runtime;
  device: string;
  dtype: Dtype;
  /** The page with its query; the driver adds the probe text. */
  url: string;
  /** m3web: also time this cheaper point, in the same page. */
  half?: Point;
}

export interface Limits {
  /** Navigation to first vector, each of cold and warm. */
  startMs: number;
  /** One runCases call (one point). */
  casesMs: number;
}

export interface PageOutcome {
  rows: RowResult[];
  /** What navigator.gpu reported in the page, when it got that far. */
  adapter?: string;
  chromium?: string;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';

/** Rejects after `ms`; the loser's later rejection (the browser closing under it) is swallowed. */
function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  work.catch(() => {});
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took over ${Math.round(ms / 1000)} s`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

/** Navigates (goto or reload) and waits for the page's first vector. */
async function start(page: Page, navigate: () => Promise<unknown>, ms: number, what: string): Promise<PageStart> {
  const run = async () => {
    await navigate();
    await page.waitForFunction(() => window.bench !== undefined, undefined, { timeout: ms });
    return page.evaluate(() => window.bench.started);
  };
  return within(run(), ms, what);
}

export async function runPage(run: PageRun, plan: CasePlan, limits: Limits): Promise<PageOutcome> {
  const base = { runtime: run.runtime, device: run.device, dtype: run.dtype };
  const full: RowResult = { ...base, point: 'full' };
  const half: RowResult | undefined = run.half && { ...base, point: `${run.half.layers} layers × ${run.half.dims} dims` };
  const rows = half ? [full, half] : [full];
  const outcome: PageOutcome = { rows };
  // The last thing the page said on its console: the most useful part of a failure.
  let lastError = '';
  const marker = `--m3web-bench-run=${randomUUID()}`;
  let browser: Browser | undefined;
  let peaks: ChromiumPeaks | undefined;
  let heap: JsHeapPeaks | undefined;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, marker], timeout: 60_000 });
    peaks = new ChromiumPeaks(marker);
    outcome.chromium = browser.version();
    const page = await (await browser.newContext()).newPage();
    heap = await JsHeapPeaks.attach(page);
    page.on('pageerror', (err) => {
      lastError = message(err);
    });
    page.on('console', (m) => {
      if (m.type() === 'error') lastError = m.text().split('\n')[0] ?? '';
    });
    const url = `${run.url}&text=${encodeURIComponent(plan.long)}`;
    const nav = { waitUntil: 'commit', timeout: limits.startMs } as const;
    const cold = await start(page, () => page.goto(url, nav), limits.startMs, 'the cold start');
    // Same context, so the runtime's own cache (m3web: IndexedDB, transformers.js: Cache Storage) is warm.
    const warm = await start(page, () => page.reload(nav), limits.startMs, 'the warm start');
    if (warm.fromCache === false) console.error('  note: the reload did not read the weights from the cache');
    Object.assign(full, { coldStartMs: cold.firstVectorMs, warmStartMs: warm.firstVectorMs, probe: cold.probe });
    outcome.adapter = await within(
      page.evaluate(() => window.bench.adapter()),
      limits.startMs,
      'the adapter query',
    );
    for (const row of rows) {
      const point = row === half ? run.half : undefined;
      const cases = page.evaluate(([p, at]) => window.bench.runCases(p, at), [plan, point] as [CasePlan, Point | undefined]);
      Object.assign(row, await within<CaseResults>(cases, limits.casesMs, `the ${row.point} cases`));
    }
  } catch (err) {
    const why = message(err);
    for (const row of rows)
      if (!row.throughput) row.error = lastError && !why.includes(lastError) ? `${why} (page: ${lastError})` : why;
  } finally {
    const memory = { ...peaks?.stop(), ...(await heap?.stop()) };
    for (const row of rows) if (!row.error) row.peakMemory = memory;
    await browser?.close().catch(() => {});
  }
  return outcome;
}
