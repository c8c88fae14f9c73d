/**
 * `npm run bench -- rerank`: m3web's `encoder.rerank` against transformers.js's
 * AutoModelForSequenceClassification on the same cross-encoder (bert-12x384 with a pooler and a
 * one-label classifier: bench/onnx_cross_encoder.py), the same pairs, each runtime in its own
 * process, in one run. Writes bench/results/rerank-latest.json and .md. `npm run bench -- colbert`:
 * the same on a late-interaction model (bert-12x384 as a ColBERT: models.ts prepareColbert), where
 * transformers.js runs the encoder and JavaScript the ColBERT steps; colbert-latest.*.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { icdName } from './adapter.js';
import { batchAndRuns, hostName, loadNow, parseBenchArgs, runInProcess, writeJsonFile } from './common.js';
import {
  type BenchCrossEncoder,
  type LateBench,
  MODELS_DIR,
  prepareColbert,
  prepareCrossEncoder,
  prepareDebertaCrossEncoder,
} from './models.js';
import type { RerankResult, RerankSpec } from './rerank-runner.js';
import { benchTexts } from './texts.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const RESULTS = join(HERE, 'results');
const RUNNER_TIMEOUT_MS = 15 * 60_000;

type Kind = 'cross-encoder' | 'deberta' | 'late';

const usage = (kind: Kind) => `Usage: npm run bench -- ${KINDS[kind].name} [--batch N] [--runs N] [--only LIST] [--quick]

One query (16 tokens) against one document (16 tokens) and against N documents of 113 tokens
(default 8 on a software adapter), scored by m3web (rerank) and transformers.js on the same
${
  kind === 'late'
    ? `late-interaction model (AutoModel's last_hidden_state, then the projection,
normalisation and MaxSim in JavaScript; queries expanded to 32 tokens)`
    : 'cross-encoder (AutoModelForSequenceClassification, sigmoid of the logit; pairs of 31 and 128 tokens)'
}, each runtime in its own process. --only takes runtime keys (m3web-webgpu, m3web-cpu,
transformers.js-webgpu, transformers.js-cpu).`;

type Setup = {
  key: string;
  spec: (m: { hfDir: string; packDir: string; id: string }) => Omit<RerankSpec, 'query' | 'shortDoc' | 'documents' | 'plan'>;
};

/** m3web's q8 is its pack, f32 the Hugging Face folder; transformers.js reads that folder's ONNX exports. */
const SETUPS: Setup[] = [
  {
    key: 'm3web-webgpu',
    spec: (m) => ({ runtime: 'm3web', device: 'webgpu', dtype: 'q8', modelDir: m.packDir, modelId: m.id }),
  },
  {
    key: 'm3web-webgpu',
    spec: (m) => ({ runtime: 'm3web', device: 'webgpu', dtype: 'f32', modelDir: m.hfDir, modelId: m.id }),
  },
  ...(['q8', 'f32'] as const).map((dtype) => ({
    key: 'transformers.js-webgpu',
    spec: (m: { id: string }) => ({
      runtime: 'transformers.js' as const,
      device: 'webgpu' as const,
      dtype,
      modelDir: MODELS_DIR,
      modelId: m.id,
    }),
  })),
  {
    key: 'm3web-cpu',
    spec: (m) => ({ runtime: 'm3web', device: 'cpu', dtype: 'q8', modelDir: m.packDir, modelId: m.id }),
  },
  { key: 'm3web-cpu', spec: (m) => ({ runtime: 'm3web', device: 'cpu', dtype: 'f32', modelDir: m.hfDir, modelId: m.id }) },
  ...(['q8', 'f32'] as const).map((dtype) => ({
    key: 'transformers.js-cpu',
    spec: (m: { id: string }) => ({
      runtime: 'transformers.js' as const,
      device: 'cpu' as const,
      dtype,
      modelDir: MODELS_DIR,
      modelId: m.id,
    }),
  })),
];

function runRunner(spec: RerankSpec): Promise<RerankResult> {
  return runInProcess<RerankResult>(join(HERE, 'rerank-runner.ts'), spec, RUNNER_TIMEOUT_MS, (error) => ({
    runtime: spec.runtime,
    device: spec.device,
    dtype: spec.dtype,
    error,
  }));
}

const ms = (v: number | undefined) => (v === undefined ? '—' : v < 100 ? v.toFixed(1) : v.toFixed(0));

function table(rows: RerankResult[], batch: number, kind: Kind): string {
  const reference = rows.find((r) => r.runtime === 'transformers.js' && r.dtype === 'f32' && r.scores)?.scores;
  const [one, many] =
    kind === 'late'
      ? ['1 document (16 tokens)', `${batch} documents × 113 tokens`]
      : ['1 pair (31 tokens)', `${batch} pairs × 128 tokens`];
  const lines = [
    `| runtime | load → first scores ms | ${one} ms p50 / p95 | ${many} ms p50 / p95 | documents/s | max abs score diff vs transformers.js f32 |`,
    '|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const name = `${r.runtime} ${r.device} ${r.dtype}`;
    if (r.error) {
      lines.push(`| ${name} | failed: ${r.error.replace(/\|/g, '/')} | | | | |`);
      continue;
    }
    const diff =
      reference && r.scores && r.runtime === 'm3web'
        ? Math.max(...r.scores.map((s, i) => Math.abs(s - (reference[i] as number)))).toExponential(1)
        : '—';
    const perSec = r.batch ? ((batch / r.batch.p50) * 1000).toFixed(1) : '—';
    lines.push(
      `| ${name} | ${ms(r.loadMs)} | ${ms(r.short?.p50)} / ${ms(r.short?.p95)} | ${ms(r.batch?.p50)} / ${ms(r.batch?.p95)} | ${perSec} | ${diff} |`,
    );
  }
  return lines.join('\n');
}

/** m3web's time over transformers.js's on the same device and dtype: below 1 is faster. */
function ratios(rows: RerankResult[], kind: Kind): string[] {
  const one = kind === 'late' ? '1 document' : '1 pair';
  const out: string[] = [];
  for (const m of rows.filter((r) => r.runtime === 'm3web' && !r.error)) {
    const t = rows.find((r) => r.runtime === 'transformers.js' && r.device === m.device && r.dtype === m.dtype && !r.error);
    if (!t?.batch || !m.batch || !t.short || !m.short) continue;
    out.push(
      `${m.device} ${m.dtype}: m3web / transformers.js time, ${one} ${(m.short.p50 / t.short.p50).toFixed(2)}x, batch ${(m.batch.p50 / t.batch.p50).toFixed(2)}x`,
    );
  }
  return out;
}

export const main = (args: string[]): Promise<number> => bench(args, 'cross-encoder');
export const colbertMain = (args: string[]): Promise<number> => bench(args, 'late');
export const debertaMain = (args: string[]): Promise<number> => bench(args, 'deberta');

/** Each comparison's model, its id among the bench models, and its results' file name. */
const KINDS: Record<
  Kind,
  { prepare: (log: (s: string) => void) => Promise<BenchCrossEncoder & { late?: LateBench }>; id: string; name: string }
> = {
  'cross-encoder': { prepare: prepareCrossEncoder, id: 'ce-12x384', name: 'rerank' },
  deberta: { prepare: prepareDebertaCrossEncoder, id: 'ce-deberta-12x384', name: 'rerank-deberta' },
  late: { prepare: prepareColbert, id: 'colbert-12x384', name: 'colbert' },
};

async function bench(args: string[], kind: Kind): Promise<number> {
  const USAGE = usage(kind);
  const opts = parseBenchArgs(args, ['batch', 'runs', 'only'] as const, USAGE);
  if (typeof opts === 'number') return opts;
  const software = /lavapipe|swiftshader/.test(icdName());
  const counts = batchAndRuns(opts, software ? 8 : 32, USAGE);
  if (typeof counts === 'number') return counts;
  const { batch, runs } = counts;
  const only = opts.only?.split(',');
  const log = (s: string) => console.error(s);
  const { id, name } = KINDS[kind];
  const model = await KINDS[kind].prepare(log);
  const texts = await benchTexts(model.hfDir);
  // Texts are measured with their own [CLS] and [SEP]; a pair frames both once, so 16 + 113 tokens make 128.
  const [query, shortDoc] = texts.batch(2, 16);
  const documents = texts.batch(batch, 113);
  const plan = { minRuns: runs, maxRuns: opts.quick ? runs : Math.max(runs, 20), budgetMs: opts.quick ? 0 : 10_000 };
  const rows: RerankResult[] = [];
  for (const setup of SETUPS) {
    if (only && !only.includes(setup.key)) continue;
    const spec: RerankSpec = {
      ...setup.spec({ ...model, id }),
      query: query as string,
      shortDoc: shortDoc as string,
      documents,
      plan,
      ...(model.late ? { late: model.late } : {}),
    };
    log(`${spec.runtime} ${spec.device} ${spec.dtype}...`);
    const got = await runRunner(spec);
    log(got.error ? `  failed: ${got.error}` : `  ${batch} documents: ${ms(got.batch?.p50)} ms`);
    rows.push(got);
  }
  const meta = {
    date: new Date().toISOString(),
    host: hostName(),
    adapter: icdName(),
    node: process.version,
    load: loadNow(),
    model: model.description,
    batch,
  };
  const md = `${table(rows, batch, kind)}\n\n${ratios(rows, kind).join('\n')}\n`;
  console.log(md);
  if (!opts.quick && !only) {
    writeJsonFile(join(RESULTS, `${name}-latest.json`), { meta, rows });
    writeFileSync(join(RESULTS, `${name}-latest.md`), `${JSON.stringify(meta)}\n\n${md}`);
  }
  return rows.some((r) => r.error) ? 1 : 0;
}
