/**
 * `npm run bench -- search`: latency of index.search, exact and Matryoshka funnel, and the
 * funnel's recall@10 against exact search, on synthetic vectors (no model) through the public
 * createIndex path, scoring on WebGPU (Dawn) with the CPU scorer for context.
 */
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createIndex } from '../src/client/client.js';
import { createGpuContext } from '../src/gpu/device.js';
import type { IndexEncoder, VectorIndex, VectorType } from '../src/search/index.js';
import type { EmbedResult, EncoderInfo, SparseVector } from '../src/types.js';
import { rng } from '../test/support/random.js';
import { icdName } from './adapter.js';
import { hostName, loadNow, parseBenchArgs, writeJsonFile } from './common.js';

export const DIMS = 384;
export const TRAINED_DIMS = [64, 128, 256, 384];
const K = 10;
const SWEEP = [50, 100, 200, 400, 800];
const DEFAULT_OUT = resolve(dirname(fileURLToPath(import.meta.url)), 'results', 'search-latest.json');

const USAGE = `usage: npm run bench -- search [--quick] [--queries N] [--sizes LIST] [--out FILE] [--adapter lavapipe|swiftshader]

  --quick       smoke check: 10k vectors, 10 queries, no N sweep; writes no JSON unless --out
  --queries N   timed queries per case after 3 warm-up ones (default 40)
  --sizes LIST  vector counts (default 10000,100000); a partial run writes no JSON unless --out
  --out FILE    where the JSON goes (default bench/results/search-latest.json)`;

/** Approximately normal (sum of four uniforms, unit variance). */
const gauss = (next: () => number) => (next() + next() + next() + next() - 2) * Math.sqrt(3);

/**
 * Matryoshka-like clustered data: dim i has standard deviation (i + 1)^-0.5 (early dims carry
 * most of the variance, as in a model trained for truncation); points are a cluster centre plus
 * noise of `spread` times the centres' scale: clusters overlap, so the first 64 dims rank the
 * neighbours approximately but not exactly (64-dim top-10 alone finds about 0.8 of the true one).
 */
export class Synthetic {
  private readonly centres: Float32Array[];
  private readonly next: () => number;

  constructor(
    clusters: number,
    seed: number,
    readonly spread = 1,
  ) {
    this.next = rng(seed);
    this.centres = Array.from({ length: clusters }, () => this.sample(null));
  }

  point(): Float32Array {
    return this.pointOf(this.cluster());
  }

  /** A random cluster's number. */
  cluster(): number {
    return Math.floor(this.next() * this.centres.length);
  }

  /** A point of cluster `c`. */
  pointOf(c: number): Float32Array {
    return this.sample(this.centres[c] as Float32Array);
  }

  private sample(centre: Float32Array | null): Float32Array {
    const v = new Float32Array(DIMS);
    for (let i = 0; i < DIMS; i++) {
      const scale = 1 / Math.sqrt(i + 1);
      v[i] = centre ? (centre[i] as number) + this.spread * scale * gauss(this.next) : scale * gauss(this.next);
    }
    return v;
  }
}

/**
 * An encoder that looks a text's vector up (`vectorOf`): the index sees only the IndexEncoder
 * interface. `backend` says where the index scores ('cpu' keeps it off the GPU).
 */
export function lookupEncoder(
  vectorOf: (text: string) => Float32Array,
  backend: 'webgpu' | 'cpu',
  /** Lexical weights of a text, for a model with a sparse head (BGE-M3's layout). */
  sparseOf?: (text: string) => SparseVector,
): IndexEncoder {
  const info: EncoderInfo = {
    model: {
      id: 'synthetic-384',
      source: 'bench',
      layers: 12,
      hiddenSize: DIMS,
      exits: [12],
      dims: TRAINED_DIMS,
      pooling: 'mean',
      maxTokens: 512,
      quantization: 'f32',
      prefixes: {},
      quality: null,
      ...(sparseOf ? { sparse: true as const } : {}),
    },
    backend,
    adapter: null,
    activations: null,
    backends: { short: { backend: backend, reason: 'bench' }, batch: { backend: backend, reason: 'bench' } },
    fallbackReason: null,
    loadedLayers: 12,
    fromCache: false,
    engine: { shared: false, clients: 1 },
  };
  return {
    info: async () => info,
    embedDetailed: async (texts, options): Promise<EmbedResult> => {
      const dims = options?.dims ?? DIMS;
      const vectors = texts.map((t) => {
        const cut = vectorOf(t).slice(0, dims);
        const n = Math.hypot(...cut);
        return cut.map((x) => x / n);
      });
      const sparse = options?.sparse && sparseOf ? { sparse: texts.map(sparseOf) } : {};
      return { vectors, tokens: texts.map(() => 3), truncated: texts.map(() => false), layers: texts.map(() => 12), ...sparse };
    },
  };
}

interface CaseResult {
  size: number;
  vector: VectorType;
  scorer: 'webgpu' | 'cpu';
  exactMs: number;
  funnelMs: number;
  speedup: number;
  /** Funnel top-10 against exact top-10 of the same index. */
  recallAt10: number;
  /** Exact top-10 of this vector type against exact f32 (what quantisation costs). */
  recallVsF32?: number;
}

interface SweepResult {
  candidates: number;
  funnelMs: number;
  recallAt10: number;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

const log = (msg: string) => process.stderr.write(`${msg}\n`);
export const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
const round = (x: number, digits = 4) => Number(x.toPrecision(digits));
export const overlap = (a: string[], b: string[]) => a.filter((id) => b.includes(id)).length / b.length;

type Mode = { exact?: boolean; candidates?: number };
type Timed = { ms: number; ids: string[][] };

/**
 * Median latency of each mode over `queries` queries, after 3 warm-up ones, and the ids found.
 * Modes alternate query by query, so load from elsewhere on the machine hits them alike.
 */
async function timeSearches(index: VectorIndex, queries: number, modes: Mode[]): Promise<Timed[]> {
  // The vector ranker alone: what the funnel changes (hybrid adds BM25 over the same rows).
  const search = (i: number, m: Mode) => index.search(`q${i}`, { k: K, mode: 'vector', ...m });
  for (let i = 0; i < 3; i++) for (const m of modes) await search(i, m);
  const out = modes.map(() => ({ samples: [] as number[], ids: [] as string[][] }));
  for (let i = 0; i < queries; i++) {
    for (const [j, m] of modes.entries()) {
      const t0 = performance.now();
      const hits = await search(i, m);
      const o = out[j] as (typeof out)[number];
      o.samples.push(performance.now() - t0);
      o.ids.push(hits.map((h) => h.id));
    }
  }
  return out.map((o) => ({ ms: median(o.samples), ids: o.ids }));
}

export const recall = (found: string[][], exact: string[][]) =>
  found.reduce((n, ids, i) => n + overlap(ids, exact[i] as string[]), 0) / found.length;

export async function main(args: string[]): Promise<number> {
  const values = parseBenchArgs(args, ['queries', 'sizes', 'out'], USAGE);
  if (typeof values === 'number') return values;
  const quick = values.quick === true;
  const queries = Number(values.queries ?? (quick ? 10 : 40));
  const sizes = (values.sizes ?? (quick ? '10000' : '10000,100000')).split(',').map(Number);
  if (!Number.isInteger(queries) || queries < 1 || sizes.some((n) => !Number.isInteger(n) || n < 100)) {
    console.error(`--queries must be a positive integer and --sizes integers >= 100\n\n${USAGE}`);
    return 2;
  }
  const partial = quick || values.sizes !== undefined || values.queries !== undefined;
  const out = values.out !== undefined ? resolve(values.out) : partial ? null : DEFAULT_OUT;

  const gpu = await createGpuContext();
  const adapter = gpu.adapter;
  gpu.device.destroy();
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    adapter,
    driver: icdName(),
    host: hostName(),
    loadAvg: { start: loadNow(), end: 0 },
    dims: DIMS,
    trainedDims: TRAINED_DIMS,
    coarseDims: 64,
    k: K,
    queries,
    data: 'clusters of n/100 points, dim i scaled by (i+1)^-0.5, noise as large as the centres spread; queries are fresh points',
  };
  log(`adapter: ${adapter.description} (${meta.driver}); load ${meta.loadAvg.start}`);

  const results: CaseResult[] = [];
  let sweep: SweepResult[] = [];
  for (const size of sizes) {
    const data = new Synthetic(Math.max(10, Math.round(size / 100)), size);
    const docs = Array.from({ length: size }, () => data.point());
    const qs = Array.from({ length: queries + 3 }, () => data.point());
    const encoder = lookupEncoder((t) => (t[0] === 'q' ? qs : docs)[Number(t.slice(1))] as Float32Array, 'webgpu');
    const texts = docs.map((_, i) => ({ id: `d${i}`, text: `d${i}` }));
    let f32Exact: string[][] = [];
    const cases: [VectorType, 'webgpu' | 'cpu'][] = [
      ['f32', 'webgpu'],
      ['int8', 'webgpu'],
      ['binary', 'webgpu'],
      ['f32', 'cpu'],
    ];
    for (const [vector, device] of cases) {
      const index = await createIndex({ encoder, name: `bench-${size}-${vector}`, vector, device });
      const t0 = performance.now();
      await index.add(texts);
      log(`${size} ${vector} ${device}: added in ${fmt(performance.now() - t0)} ms`);
      const [exact, funnel] = (await timeSearches(index, queries, [{ exact: true }, {}])) as [Timed, Timed];
      const r: CaseResult = {
        size,
        vector,
        scorer: device,
        exactMs: exact.ms,
        funnelMs: funnel.ms,
        speedup: exact.ms / funnel.ms,
        recallAt10: recall(funnel.ids, exact.ids),
      };
      if (vector === 'f32' && device === 'webgpu') f32Exact = exact.ids;
      else if (device === 'webgpu') r.recallVsF32 = recall(exact.ids, f32Exact);
      log(
        `  exact ${fmt(r.exactMs)} ms, funnel ${fmt(r.funnelMs)} ms (x${r.speedup.toFixed(1)}), recall@10 ${r.recallAt10.toFixed(3)}`,
      );
      results.push(r);
      if (!quick && vector === 'f32' && device === 'webgpu' && size === Math.max(...sizes)) {
        const timed = await timeSearches(
          index,
          queries,
          SWEEP.map((candidates) => ({ candidates })),
        );
        sweep = SWEEP.map((candidates, i) => {
          const t = timed[i] as Timed;
          log(`  N=${candidates}: ${fmt(t.ms)} ms, recall@10 ${recall(t.ids, exact.ids).toFixed(3)}`);
          return { candidates, funnelMs: t.ms, recallAt10: recall(t.ids, exact.ids) };
        });
      }
      index.close();
    }
  }
  meta.loadAvg.end = loadNow();

  const lines = [
    '## m3web search benchmark',
    '',
    `- ${meta.date}; node ${meta.node}; ${meta.host}; load ${meta.loadAvg.start} → ${meta.loadAvg.end}`,
    `- adapter: ${adapter.description} (${meta.driver})`,
    `- ${DIMS}-dim synthetic vectors (${meta.data}); k = ${K}; median of ${queries} queries after 3 warm-up`,
    '- funnel: int8 copy of the first 64 dims scored for every vector, best max(10k, 200) = 200 re-scored at 384 (binary: always exact); recall@10 = share of the exact top-10 the funnel finds',
    '',
    '| vectors | type | scorer | exact ms | funnel ms | speed-up | funnel recall@10 | exact recall@10 vs f32 |',
    '|---:|---|---|---:|---:|---:|---:|---:|',
    ...results.map(
      (r) =>
        `| ${r.size} | ${r.vector} | ${r.scorer} | ${fmt(r.exactMs)} | ${fmt(r.funnelMs)} | ${r.speedup.toFixed(1)}× | ${r.recallAt10.toFixed(3)} | ${r.recallVsF32 === undefined ? '—' : r.recallVsF32.toFixed(3)} |`,
    ),
  ];
  if (sweep.length) {
    lines.push(
      '',
      `### candidates N (f32, WebGPU, ${Math.max(...sizes)} vectors)`,
      '',
      '| N | funnel ms | recall@10 |',
      '|---:|---:|---:|',
    );
    for (const s of sweep) lines.push(`| ${s.candidates} | ${fmt(s.funnelMs)} | ${s.recallAt10.toFixed(3)} |`);
  }
  console.log(lines.join('\n'));
  if (out) {
    const clean = <T extends object>(o: T) =>
      Object.fromEntries(Object.entries(o).map(([k, v]) => [k, typeof v === 'number' ? round(v) : v]));
    writeJsonFile(out, { ...meta, results: results.map(clean), sweep: sweep.map(clean) });
    log(`wrote ${relative(process.cwd(), out)}`);
  }
  return 0;
}
