/**
 * `npm run bench -- hub-heap`: peak JS memory (V8 heap and ArrayBuffers, page and worker
 * together, over CDP) of headless Chromium while it opens a hub id of a random 12-layer,
 * 384-wide BERT (f32 safetensors, 32k vocabulary) from a local fake hub: download by Range,
 * conversion block by block, each shard stored in IndexedDB as it is written. Compared with the size of the pack it
 * makes: the bar is a peak under 1.5x the pack.
 */
import { join } from 'node:path';
import { chromium } from 'playwright';
import { build } from 'vite';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../test/support/chromium.js';
import { folderFiles, startFakeHub } from '../test/support/hub-server.js';
import { randomBert } from '../test/support/random.js';
import { serveStatic } from '../test/support/static-server.js';
import { JsHeapPeaks } from './browser/heap.js';
import { hostName, parseBenchArgs, writeJsonFile } from './common.js';
import { writeHfFolder } from './hf-folder.js';
import { bundledTokenizer, MODELS_DIR, RANDOM_CONFIG } from './models.js';

const ROOT = join(import.meta.dirname, '..');
const SITE = join(ROOT, 'bench', 'work', 'hub-heap-site');
const RESULTS = join(ROOT, 'bench', 'results');
const REPO = 'bench/bert-12x384';
const SAMPLE_MS = 100;
const LIMIT_MS = 600_000;

const USAGE = `usage: npm run bench -- hub-heap [--dtype q8|f32]

Peak JS heap + ArrayBuffers of Chromium (page and its dedicated m3web worker) while a random
12 x 384 BERT is opened by hub id from a local fake hub: downloaded, converted, stored in
IndexedDB. Sampled every ${SAMPLE_MS} ms over CDP until the conversion is stored. Writes
bench/results/hub-heap-<dtype>-latest.json.`;

const mib = (bytes: number) => bytes / 2 ** 20;

export async function main(args: string[]): Promise<number> {
  const opts = parseBenchArgs(args, ['dtype'] as const, USAGE);
  if (typeof opts === 'number') return opts;
  const dtype = opts.dtype === 'f32' ? 'f32' : 'q8';
  const dir = join(MODELS_DIR, 'hub-heap-bert-12x384');
  console.error(`writing the random checkpoint to ${dir}...`);
  await writeHfFolder(dir, randomBert(RANDOM_CONFIG, 'f32', 1), await bundledTokenizer());
  const files = folderFiles(dir, ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'model.safetensors']);
  const checkpointBytes = (files.get('model.safetensors') as Uint8Array).byteLength;
  console.error('building the page...');
  await build({
    configFile: false, // the root vite.config.ts is the playground's
    root: join(ROOT, 'bench', 'browser'),
    base: '/',
    mode: 'production',
    logLevel: 'warn',
    publicDir: false,
    build: {
      outDir: SITE,
      emptyOutDir: true,
      target: 'es2022',
      rollupOptions: { input: join(ROOT, 'bench/browser/hub-heap.html') },
    },
    worker: { format: 'es' },
  });
  const hub = await startFakeHub(new Map([[REPO, { files, commit: 'bench1' }]]));
  const { server, url } = await serveStatic(SITE);
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  try {
    const page = await (await browser.newContext()).newPage();
    const peaks = await JsHeapPeaks.attach(page, SAMPLE_MS);
    let stopped: Promise<Record<string, number>> | null = null;
    await page.exposeFunction('conversionDone', async () => {
      stopped ??= peaks.stop();
      await stopped;
    });
    const query = new URLSearchParams({ model: `hf:${REPO}`, hub: hub.url, dtype });
    console.error(`converting hf:${REPO} (${dtype}) in Chromium...`);
    await page.goto(`${url}hub-heap.html?${query}`);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the conversion took over ${LIMIT_MS / 1000} s`)), LIMIT_MS);
    });
    const result = await Promise.race([page.evaluate(() => window.hubHeap), late]).finally(() => clearTimeout(timer));
    const peak = await (stopped ?? peaks.stop());
    const heap = peak['JS heap'] as number;
    const buffers = peak['JS ArrayBuffers'] as number;
    const pack = mib(result.packBytes);
    const report = {
      host: hostName(),
      chromium: browser.version(),
      date: new Date().toISOString(),
      model: `random BERT, 12 layers x 384 wide, FFN 1536, vocabulary ${RANDOM_CONFIG.vocabSize}, f32 safetensors`,
      checkpointMiB: mib(checkpointBytes),
      dtype: result.quantization,
      packMiB: pack,
      convertSeconds: result.convertSeconds,
      peakJsHeapMiB: heap,
      peakArrayBuffersMiB: buffers,
      // Each peak is taken on its own, so their sum is an upper bound of the peak of the sum.
      peakTotalMiB: heap + buffers,
      ratioToPack: (heap + buffers) / pack,
      sampleMs: SAMPLE_MS,
    };
    writeJsonFile(join(RESULTS, `hub-heap-${dtype}-latest.json`), report);
    console.log(JSON.stringify(report, null, 2));
    return 0;
  } finally {
    await browser.close();
    server.close();
    await hub.close();
  }
}
