/**
 * `npm run bench -- node`: m3web against transformers.js in Node, both on Dawn over the same
 * Vulkan adapter (m3web through the `webgpu` package, transformers.js through onnxruntime-node's
 * WebGPU execution provider), same model, same texts, one run. Every runtime runs in its own
 * process, one after the other.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { icdName } from './adapter.js';
import { batchAndRuns, hostName, loadNow, parseBenchArgs, runInProcess } from './common.js';
import { type BenchModel, isBenchModel, isDecoderModel, MODELS_DIR, prepareModel } from './models.js';
import type { RunnerSpec } from './node-runner.js';
import { writeComparison } from './results.js';
import { type RowResult, ratios } from './results-table.js';
import { casePlan } from './texts.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const RUNNER_TIMEOUT_MS = 25 * 60_000;

const USAGE = `usage: npm run bench -- node [--model ID] [--batch N] [--runs N] [--only LIST] [--quick]

  --model    bert-12x384 (default: random weights, 12 layers x 384, the bundled tokenizer), mpnet-12x384
             (the same shape as MPNet, with its relative attention bias; results in
             bench/results/node-mpnet-latest.*), jina-4x512 (JinaBERT v2 at jina-embeddings-v2-small-en's
             shape: ALiBi, GeGLU; bench/results/node-jina-latest.*), modernbert-8x768 (ModernBERT at
             gte-modernbert-base's widths, 8 of its 22 layers; bench/results/node-modernbert-latest.*), m3-mini
             (the bundled model), or qwen3-0.6b-8l /
             embeddinggemma-300m-8l / eurobert-210m-8l (random weights at those models' widths, 8 layers; q8 and q4
             instead of f32 and q8)
  --batch N  texts of 128 tokens in the throughput case (default 32 on a hardware adapter, 8 on a
             software one, where 32 x 128 would take minutes per call; the same for every runtime)
  --runs N   timed runs per case (default 5; fast latency cases take up to 20 within 10 s)
  --only     runtimes to run, e.g. m3web-webgpu,transformers.js-webgpu (default: all; a partial run writes no results)
  --quick    smoke check: bert-12x384 replaced by m3-mini, batch 2, 2 runs; writes no results`;

interface RuntimeSetup {
  key: string;
  spec: (m: BenchModel & { half: { layers: number; dims: number } }) => Omit<RunnerSpec, 'plan'>;
}

/** Decoders: q8 and q4 for both runtimes (m3web's packs; transformers.js's model_quantized / model_q4 exports). */
const DECODER_RUNTIMES: RuntimeSetup[] = [
  ...(['q8', 'q4'] as const).flatMap((dtype): RuntimeSetup[] => [
    {
      key: 'm3web-webgpu',
      spec: (m) => ({
        runtime: 'm3web',
        device: 'webgpu',
        dtype,
        modelDir: dtype === 'q8' ? m.packDir : (m.packQ4Dir ?? ''),
        modelId: m.id,
      }),
    },
    {
      key: 'transformers.js-webgpu',
      spec: (m) => ({
        runtime: 'transformers.js',
        device: 'webgpu',
        dtype,
        modelDir: MODELS_DIR,
        modelId: m.id,
        pooling: m.pooling,
      }),
    },
  ]),
  { key: 'm3web-cpu', spec: (m) => ({ runtime: 'm3web', device: 'cpu', dtype: 'q8', modelDir: m.packDir, modelId: m.id }) },
  ...(['q8', 'q4'] as const).map(
    (dtype): RuntimeSetup => ({
      key: 'transformers.js-cpu',
      spec: (m) => ({
        runtime: 'transformers.js',
        device: 'cpu',
        dtype,
        modelDir: MODELS_DIR,
        modelId: m.id,
        pooling: m.pooling,
      }),
    }),
  ),
];

/** m3web's q8 is its pack; f32 the Hugging Face folder. transformers.js reads the ONNX exports of that folder. */
const RUNTIMES: RuntimeSetup[] = [
  {
    key: 'm3web-webgpu',
    spec: (m) => ({ runtime: 'm3web', device: 'webgpu', dtype: 'q8', modelDir: m.packDir, modelId: m.id, half: m.half }),
  },
  { key: 'm3web-webgpu', spec: (m) => ({ runtime: 'm3web', device: 'webgpu', dtype: 'f32', modelDir: m.hfDir, modelId: m.id }) },
  {
    key: 'transformers.js-webgpu',
    spec: (m) => ({ runtime: 'transformers.js', device: 'webgpu', dtype: 'q8', modelDir: MODELS_DIR, modelId: m.id }),
  },
  {
    key: 'transformers.js-webgpu',
    spec: (m) => ({ runtime: 'transformers.js', device: 'webgpu', dtype: 'f32', modelDir: MODELS_DIR, modelId: m.id }),
  },
  { key: 'm3web-cpu', spec: (m) => ({ runtime: 'm3web', device: 'cpu', dtype: 'q8', modelDir: m.packDir, modelId: m.id }) },
  { key: 'm3web-cpu', spec: (m) => ({ runtime: 'm3web', device: 'cpu', dtype: 'f32', modelDir: m.hfDir, modelId: m.id }) },
  {
    key: 'transformers.js-cpu',
    spec: (m) => ({ runtime: 'transformers.js', device: 'cpu', dtype: 'q8', modelDir: MODELS_DIR, modelId: m.id }),
  },
  {
    key: 'transformers.js-cpu',
    spec: (m) => ({ runtime: 'transformers.js', device: 'cpu', dtype: 'f32', modelDir: MODELS_DIR, modelId: m.id }),
  },
];

function runRunner(spec: RunnerSpec): Promise<RowResult[]> {
  return runInProcess(join(HERE, 'node-runner.ts'), spec, RUNNER_TIMEOUT_MS, (error) => [
    { runtime: spec.runtime, device: spec.device, dtype: spec.dtype, point: 'full', error },
  ]);
}

export async function main(args: string[]): Promise<number> {
  const opts = parseBenchArgs(args, ['model', 'batch', 'runs', 'only'] as const, USAGE);
  if (typeof opts === 'number') return opts;
  const modelId = opts.quick ? 'm3-mini' : (opts.model ?? 'bert-12x384');
  if (!isBenchModel(modelId)) {
    console.error(`--model: unknown ${modelId}\n\n${USAGE}`);
    return 2;
  }
  const software = /lavapipe|swiftshader/.test(icdName());
  const counts = batchAndRuns(opts, software ? 8 : 32, USAGE);
  if (typeof counts === 'number') return counts;
  const { batch, runs } = counts;
  const only = opts.only?.split(',');
  const log = (s: string) => console.error(s);

  const model = await prepareModel(modelId, log);
  const plan = await casePlan(model.hfDir, { batch, runs, quick: opts.quick === true });
  const half = { layers: model.halfLayers, dims: model.quarterDims };
  const rows: RowResult[] = [];
  for (const setup of isDecoderModel(modelId) ? DECODER_RUNTIMES : RUNTIMES) {
    if (only && !only.includes(setup.key)) continue;
    const spec: RunnerSpec = { ...setup.spec({ ...model, half }), plan };
    log(`${spec.runtime} ${spec.device} ${spec.dtype}...`);
    const got = await runRunner(spec);
    for (const r of got)
      log(r.error ? `  failed: ${r.error}` : `  ${r.point}: ${r.throughput?.tokensPerSec.toFixed(1)} tokens/s`);
    rows.push(...got);
  }

  const meta = {
    date: new Date().toISOString(),
    host: hostName(),
    adapter: icdName(),
    node: process.version,
    load: loadNow(),
    model: model.description,
    batch: `${batch} × 128 tokens${batch < 32 ? ' (32 × 128 takes minutes per call on a software adapter; every runtime gets the same batch)' : ''}`,
  };
  const table = await writeComparison(
    isDecoderModel(modelId) || model.resultsFile ? `node ${modelId}` : 'node',
    meta,
    rows,
    opts.quick === true || only !== undefined,
    model.resultsFile,
  );
  console.log(table);
  console.log(ratios(rows).join('\n'));
  return rows.some((r) => r.error) ? 1 : 0;
}
