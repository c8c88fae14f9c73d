/**
 * `npm run bench -- static`: the static tiered index (m3web index --static) over synthetic
 * passages served from localhost: tier sizes, bytes fetched at open and by the first and tenth
 * query, latency, and recall@10 of vector search against exact search of the in-memory index.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openIndex } from '../src/search/index.js';
import { parseIndex } from '../src/search/serialize.js';
import { tierSizes } from '../src/search/static/format.js';
import { writeStaticIndex } from '../src/search/static/write.js';
import type { SearchMode, StaticIndex, VectorType } from '../src/search/types.js';
import type { SparseVector } from '../src/types.js';
import { rng } from '../test/support/random.js';
import { serveStatic } from '../test/support/static-server.js';
import { hostName, loadNow, parseBenchArgs, writeJsonFile } from './common.js';
import { DIMS, fmt, lookupEncoder, median, recall, Synthetic, TRAINED_DIMS } from './search.js';

const K = 10;
const HERE = dirname(fileURLToPath(import.meta.url));
const DEFAULT_OUT = resolve(HERE, 'results', 'static-latest.json');
const SPARSE_OUT = resolve(HERE, 'results', 'static-sparse-latest.json');
const WORK = resolve(HERE, 'work', 'static-index');

const USAGE = `usage: npm run bench -- static [--size N] [--queries N] [--vector f32|int8] [--shard-rows N] [--sparse] [--out FILE]

  --size N      passages (default 100000)
  --sparse      lexical weights too (BGE-M3's layout: each passage its words' ids and 20
                expansion ids of its topic, a query its words' and 10; modes sparse and
                hybrid of three rankers); the JSON goes to static-sparse-latest.json
  --queries N   queries per mode (default 40; the first and tenth are reported apart)
  --vector V    stored row type (default f32)
  --shard-rows N  rows per row shard (default: the writer's, SHARD_ROWS)
  --out FILE    where the JSON goes (default bench/results/static-latest.json; a
                non-default size or query count writes none unless given)`;

/** A word of the 20,000-word vocabulary: half from its cluster's own slice, as topics do. */
const wordOf = (next: () => number, cluster: number) =>
  next() < 0.5 ? 10_000 + ((cluster * 10 + Math.floor(next() * 10)) % 10_000) : Math.floor(next() ** 3 * 10_000);

/** Passage text of `words` words. */
function textOf(next: () => number, cluster: number, words: number): string {
  return Array.from({ length: words }, () => `w${wordOf(next, cluster).toString(36)}`).join(' ');
}

/**
 * Lexical weights as a learned sparse model gives them: the text's words (ids = word numbers) at
 * 0.5-2.5, and `expansion` more ids of its topic's slice at 0.1-1, the largest weight per id.
 */
function weightsOf(next: () => number, text: string, cluster: number, expansion: number): SparseVector {
  const byId = new Map<number, number>();
  const add = (id: number, w: number) => byId.set(id, Math.max(byId.get(id) ?? 0, w));
  for (const word of text.split(' ')) if (/^w[0-9a-z]+$/.test(word)) add(Number.parseInt(word.slice(1), 36), 0.5 + 2 * next());
  for (let i = 0; i < expansion; i++) add(10_000 + ((cluster * 10 + Math.floor(next() * 40)) % 10_000), 0.1 + 0.9 * next());
  const indices = Uint32Array.from([...byId.keys()].sort((a, b) => a - b));
  return { indices, values: Float32Array.from(indices, (id) => byId.get(id) as number) };
}

interface ModeResult {
  mode: SearchMode;
  /** Bytes (and requests) the first query fetched, and the tenth. */
  firstBytes: number;
  firstRequests: number;
  tenthBytes: number;
  tenthRequests: number;
  meanBytes: number;
  /** Median latency of all queries (localhost, so mostly CPU), the first one's apart. */
  firstMs: number;
  medianMs: number;
  recallAt10?: number;
}

export async function main(args: string[]): Promise<number> {
  const sparse = args.includes('--sparse');
  const values = parseBenchArgs(
    args.filter((a) => a !== '--sparse'),
    ['size', 'queries', 'vector', 'shard-rows', 'out'],
    USAGE,
  );
  if (typeof values === 'number') return values;
  const size = Number(values.size ?? 100_000);
  const queries = Number(values.queries ?? 40);
  const vector = (values.vector ?? 'f32') as VectorType;
  const shardRows = values['shard-rows'] === undefined ? undefined : Number(values['shard-rows']);
  if (!Number.isInteger(size) || size < 100 || !Number.isInteger(queries) || queries < 10 || !['f32', 'int8'].includes(vector)) {
    console.error(`--size must be an integer >= 100, --queries >= 10, --vector f32 or int8\n\n${USAGE}`);
    return 2;
  }
  const partial = values.size !== undefined || values.queries !== undefined || shardRows !== undefined;
  const out = values.out !== undefined ? resolve(values.out) : partial ? null : sparse ? SPARSE_OUT : DEFAULT_OUT;
  const log = (msg: string) => process.stderr.write(`${msg}\n`);

  const data = new Synthetic(Math.max(10, Math.round(size / 100)), size);
  const next = rng(size + 1);
  const vectors = new Map<string, Float32Array>();
  const weights = new Map<string, SparseVector>();
  const docs = Array.from({ length: size }, (_, i) => {
    const c = data.cluster();
    const text = `p${i} ${textOf(next, c, 20 + Math.floor(next() * 40))}`;
    vectors.set(text, data.pointOf(c));
    if (sparse) weights.set(text, weightsOf(next, text, c, 20));
    return { id: `d${i}`, text };
  });
  const qs = Array.from({ length: queries }, () => {
    const c = data.cluster();
    const text = textOf(next, c, 3 + Math.floor(next() * 3));
    vectors.set(text, data.pointOf(c));
    if (sparse) weights.set(text, weightsOf(next, text, c, 10));
    return text;
  });
  const encoder = lookupEncoder(
    (t) => vectors.get(t) as Float32Array,
    'cpu',
    sparse ? (t) => weights.get(t) as SparseVector : undefined,
  );

  let t0 = performance.now();
  const memory = await openIndex({ encoder, name: 'bench-static', vector, device: 'cpu' });
  for (let i = 0; i < docs.length; i += 10_000) await memory.add(docs.slice(i, i + 10_000));
  log(`${size} passages indexed in memory in ${fmt(performance.now() - t0)} ms`);
  const exact: string[][] = [];
  for (const q of qs) exact.push((await memory.search(q, { k: K, mode: 'vector', exact: true })).map((h) => h.id));
  // The in-memory index's ranking by the weights: the static one should find the same.
  const bySparse: string[][] = [];
  if (sparse) for (const q of qs) bySparse.push((await memory.search(q, { k: K, mode: 'sparse' })).map((h) => h.id));

  rmSync(WORK, { recursive: true, force: true });
  t0 = performance.now();
  const { signature, segment } = parseIndex(await memory.export());
  memory.close();
  const manifest = await writeStaticIndex(signature, segment, {
    trainedDims: TRAINED_DIMS,
    ngrams: true,
    ...(shardRows ? { shardRows } : {}),
    put: async (path, bytes) => {
      mkdirSync(dirname(join(WORK, path)), { recursive: true });
      writeFileSync(join(WORK, path), bytes);
    },
  });
  const writeMs = performance.now() - t0;
  const tiers = tierSizes(manifest);
  log(`static folder written in ${fmt(writeMs)} ms: ${JSON.stringify(tiers)}`);

  const results: ModeResult[] = [];
  let openMs = 0;
  let openBytes = 0;
  for (const mode of sparse ? (['sparse', 'hybrid'] as const) : (['vector', 'lexical', 'hybrid'] as const)) {
    // A fresh index object and server URL per mode, so each starts with nothing fetched.
    const own = await serveStatic(WORK);
    t0 = performance.now();
    const index: StaticIndex = await openIndex({ encoder, url: own.url });
    openMs = performance.now() - t0;
    openBytes = (await index.stats()).fetched.bytes;
    const samples: number[] = [];
    const fetched: { requests: number; bytes: number }[] = [];
    const found: string[][] = [];
    for (const q of qs) {
      const t = performance.now();
      const hits = await index.search(q, { k: K, mode });
      samples.push(performance.now() - t);
      fetched.push((await index.stats()).lastSearch);
      found.push(hits.map((h) => h.id));
    }
    index.close();
    own.server.close();
    const r: ModeResult = {
      mode,
      firstBytes: fetched[0]?.bytes ?? 0,
      firstRequests: fetched[0]?.requests ?? 0,
      tenthBytes: fetched[9]?.bytes ?? 0,
      tenthRequests: fetched[9]?.requests ?? 0,
      meanBytes: fetched.reduce((n, f) => n + f.bytes, 0) / fetched.length,
      firstMs: samples[0] ?? 0,
      medianMs: median(samples.slice(1)),
      ...(mode === 'vector'
        ? { recallAt10: recall(found, exact) }
        : mode === 'sparse'
          ? { recallAt10: recall(found, bySparse) }
          : {}),
    };
    log(`${mode}: ${JSON.stringify(r)}`);
    results.push(r);
  }

  const kb = (b: number) => `${(b / 1024).toFixed(0)} KiB`;
  const mb = (b: number) => `${(b / 1e6).toFixed(2)} MB`;
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    host: hostName(),
    load: loadNow(),
    size,
    queries,
    vector,
    dims: DIMS,
    coarse: manifest.coarse,
    shardRows: manifest.shardRows,
    files: {
      rows: manifest.sizes.rows.length,
      texts: manifest.sizes.texts.length,
      terms: manifest.sizes.terms.length,
      ...(manifest.sizes.sparse ? { sparse: manifest.sizes.sparse.length } : {}),
    },
    tiers,
    writeMs: Math.round(writeMs),
    openMs: Math.round(openMs),
    openBytes,
  };
  console.log(
    [
      '## m3web static index benchmark',
      '',
      `- ${meta.date}; node ${meta.node}; ${meta.host}; load ${meta.load}; served from localhost (latency is CPU, not network)`,
      `- ${size} synthetic passages (${DIMS}-dim ${vector} vectors, clustered as in \`bench -- search\`; 20-60 words each), ${queries} queries of 3-5 words, k = ${K}`,
      `- tiers: coarse ${mb(tiers.coarse)} (${manifest.coarse.dims}-dim ${manifest.coarse.vector} rows, ids, BM25 lengths), postings ${mb(tiers.postings)} in ${meta.files.terms} shards${meta.files.sparse ? ` + ${meta.files.sparse} of lexical weights (${mb((manifest.sizes.sparse ?? []).reduce((a, b) => a + b, 0))})` : ''}, rows ${mb(tiers.rows)} in ${meta.files.rows} shards of ${manifest.shardRows}, texts ${mb(tiers.texts)}`,
      ...(sparse
        ? [
            '- lexical weights: a passage its words and 20 expansion ids of its topic, a query its words and 10 (BGE-M3 or SPLADE-like)',
          ]
        : []),
      `- written in ${fmt(writeMs)} ms; opened in ${fmt(openMs)} ms fetching ${mb(openBytes)}`,
      '',
      '| mode | 1st query fetched | 10th query fetched | mean per query | 1st query ms | median ms | recall@10 vs exact (sparse: vs in memory) |',
      '|---|---:|---:|---:|---:|---:|---:|',
      ...results.map(
        (r) =>
          `| ${r.mode} | ${kb(r.firstBytes)} (${r.firstRequests} requests) | ${kb(r.tenthBytes)} (${r.tenthRequests} requests) | ${kb(r.meanBytes)} | ${fmt(r.firstMs)} | ${fmt(r.medianMs)} | ${r.recallAt10 === undefined ? '—' : r.recallAt10.toFixed(3)} |`,
      ),
    ].join('\n'),
  );
  if (out) {
    writeJsonFile(out, { ...meta, results });
    log(`wrote ${relative(process.cwd(), out)}`);
  }
  return 0;
}
