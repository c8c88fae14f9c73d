/**
 * `npm run bench -- browser`: m3web against transformers.js in headless Chromium (WebGPU on
 * SwiftShader here), same model (the bundled m3-mini), same texts, one run. Every runtime gets a
 * fresh browser, one after the other, so its start is cold and its peak memory its own.
 */

import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { type Limits, runPage } from './browser/driver.js';
import { buildSite, type Site, serveSite } from './browser/site.js';
import { batchAndRuns, hostName, loadNow, parseBenchArgs } from './common.js';
import { prepareModel } from './models.js';
import { writeComparison } from './results.js';
import { type RowResult, ratios } from './results-table.js';
import { casePlan } from './texts.js';

/** SwiftShader runs m3-mini at well under a GFLOP/s: 32 × 128 tokens would take minutes per call. */
const DEFAULT_BATCH = 4;

const USAGE = `usage: npm run bench -- browser [--batch N] [--runs N] [--only LIST] [--quick]

  --batch N  texts of 128 tokens in the throughput case (default ${DEFAULT_BATCH}: on SwiftShader one call of 32 x 128
             takes minutes; the same for every runtime)
  --runs N   timed runs per case (default 5; fast latency cases take up to 20 within 10 s)
  --only     runtimes to run, e.g. m3web-webgpu,transformers.js-wasm (default: all; a partial run writes no results)
  --quick    smoke check: batch 2, 2 runs; writes no results`;

interface PageSetup {
  key: string;
  /** The page and its query, given where the site serves things. */
  page: (s: Site, modelId: string) => string;
  run: Pick<RowResult, 'runtime' | 'device' | 'dtype'>;
  /** m3web: also time the half-depth, quarter-width point. */
  half?: boolean;
}

const m3web =
  (device: string, shared = false) =>
  (s: Site) =>
    `${s.origin}m3web.html?model=${encodeURIComponent(s.packUrl)}&device=${device}${shared ? '&shared=1' : ''}`;
const tjs = (device: string, dtype: string) => (s: Site, modelId: string) =>
  `${s.origin}transformers.html?${new URLSearchParams({ models: s.hfModelsPath, model: modelId, device, dtype, ort: s.ortUrl })}`;

/** m3web reads its q8 pack on both devices (the CPU forward keeps its int8 weights). */
const PAGES: PageSetup[] = [
  { key: 'm3web-webgpu', page: m3web('webgpu'), run: { runtime: 'm3web', device: 'webgpu', dtype: 'q8' }, half: true },
  {
    key: 'transformers.js-webgpu',
    page: tjs('webgpu', 'q8'),
    run: { runtime: 'transformers.js', device: 'webgpu', dtype: 'q8' },
  },
  {
    key: 'transformers.js-webgpu',
    page: tjs('webgpu', 'fp32'),
    run: { runtime: 'transformers.js', device: 'webgpu', dtype: 'f32' },
  },
  { key: 'm3web-cpu', page: m3web('cpu'), run: { runtime: 'm3web', device: 'cpu', dtype: 'q8' } },
  // The page is cross-origin isolated, so the CPU encoder above gets a thread pool; a SharedWorker has none.
  { key: 'm3web-cpu', page: m3web('cpu', true), run: { runtime: 'm3web', device: 'cpu, 1 thread', dtype: 'q8' } },
  { key: 'transformers.js-wasm', page: tjs('wasm', 'q8'), run: { runtime: 'transformers.js', device: 'wasm', dtype: 'q8' } },
  { key: 'transformers.js-wasm', page: tjs('wasm', 'fp32'), run: { runtime: 'transformers.js', device: 'wasm', dtype: 'f32' } },
];

async function version(pkg: string): Promise<string> {
  return JSON.parse(await readFile(join('node_modules', pkg, 'package.json'), 'utf8')).version;
}

export async function main(args: string[]): Promise<number> {
  const opts = parseBenchArgs(args, ['batch', 'runs', 'only'] as const, USAGE);
  if (typeof opts === 'number') return opts;
  const counts = batchAndRuns(opts, DEFAULT_BATCH, USAGE);
  if (typeof counts === 'number') return counts;
  const { batch, runs } = counts;
  const only = opts.only?.split(',');
  const log = (s: string) => console.error(s);

  const model = await prepareModel('m3-mini', log);
  const plan = await casePlan(model.hfDir, { batch, runs, quick: opts.quick === true });
  const limits: Limits = { startMs: 4 * 60_000, casesMs: (opts.quick ? 5 : 12) * 60_000 };

  log('building the benchmark pages...');
  await buildSite();
  const site = await serveSite(model.packDir, model.hfDir);
  const rows: RowResult[] = [];
  const seen: { adapter?: string; chromium?: string } = {};
  try {
    for (const setup of PAGES) {
      if (only && !only.includes(setup.key)) continue;
      log(`${setup.run.runtime} ${setup.run.device} ${setup.run.dtype}...`);
      const half = setup.half ? { layers: model.halfLayers, dims: model.quarterDims } : undefined;
      const got = await runPage({ ...setup.run, url: setup.page(site, model.id), ...(half ? { half } : {}) }, plan, limits);
      seen.adapter ??= got.adapter;
      seen.chromium ??= got.chromium;
      for (const r of got.rows)
        log(r.error ? `  failed: ${r.error}` : `  ${r.point}: ${r.throughput?.tokensPerSec.toFixed(1)} tokens/s`);
      rows.push(...got.rows);
    }
  } finally {
    await close(site.server);
  }

  const ortThreads = Math.min(4, Math.ceil(availableParallelism() / 2));
  const meta = {
    date: new Date().toISOString(),
    host: hostName(),
    adapter: seen.adapter ?? 'unknown (no page got that far)',
    chromium: seen.chromium ?? 'unknown',
    'transformers.js': `${await version('@huggingface/transformers')} (onnxruntime-web ${await version('onnxruntime-web')}, asyncify build served locally)`,
    load: loadNow(),
    model: `${model.description}; m3web reads its q8 pack (int8 weights on both devices), transformers.js the ONNX export of the same weights`,
    batch: `${batch} × 128 tokens${batch < 32 ? ' (on SwiftShader one call of 32 × 128 takes minutes; every runtime gets the same batch)' : ''}`,
    pages: `built by Vite (production), served from localhost with COOP/COEP: cross-origin isolated, so onnxruntime-web may use wasm threads (its default, min(4, ceil(cores / 2)), is ${ortThreads} here)`,
    'cold start':
      'navigation start to the first vector of a 128-token text: empty cache = fresh browser context; warm cache = reload in that context',
    memory:
      'peak RSS (VmHWM) of the page renderer and of the GPU process of a fresh browser per runtime, over both starts and all cases',
  };
  const table = await writeComparison('browser', meta, rows, opts.quick === true || only !== undefined);
  console.log(table);
  console.log(ratios(rows).join('\n'));
  return rows.some((r) => r.error) ? 1 : 0;
}

function close(server: Server): Promise<void> {
  return new Promise((done) => server.close(() => done()));
}
