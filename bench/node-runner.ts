/**
 * One runtime of `npm run bench -- node`, in its own process: each runtime's Dawn instance, heap
 * and peak RSS stay its own. Reads a RunnerSpec (JSON, argv[2]), prints one `RESULT {json}` line
 * with its RowResults.
 */
import { memoryUsage, resourceUsage } from 'node:process';
import { fileURLToPath } from 'node:url';
import { RESULT_MARK } from './common.js';
import { type CasePlan, type EmbedFn, runCases } from './measure.js';
import type { Dtype, RowResult, Runtime } from './results-table.js';

export interface RunnerSpec {
  runtime: Runtime;
  device: 'webgpu' | 'cpu';
  dtype: Dtype;
  /** transformers.js: feature-extraction pooling (m3web reads the model's own). Default mean. */
  pooling?: 'mean' | 'last_token';
  /** m3web: the model folder (pack or HF). transformers.js: the folder holding `<modelId>/`. */
  modelDir: string;
  modelId: string;
  /** m3web: also time this cheaper Matryoshka point. */
  half?: { layers: number; dims: number };
  plan: CasePlan;
}

let peakHeap = 0;
const sampleHeap = () => {
  peakHeap = Math.max(peakHeap, memoryUsage().heapUsed);
};

function sampled(embed: EmbedFn): EmbedFn {
  return async (texts) => {
    const out = await embed(texts);
    sampleHeap();
    return out;
  };
}

async function open(spec: RunnerSpec): Promise<{ full: EmbedFn; half?: EmbedFn; close(): Promise<void> }> {
  if (spec.runtime === 'm3web') {
    const { openM3web } = await import('./runtimes/m3web.js');
    const m = await openM3web(spec.modelDir, spec.device);
    return { full: m.at(), ...(spec.half ? { half: m.at(spec.half) } : {}), close: () => m.encoder.dispose() };
  }
  const { openTransformers } = await import('./runtimes/transformers.js');
  const t = await openTransformers({
    modelId: spec.modelId,
    localModelPath: spec.modelDir,
    device: spec.device,
    dtype: spec.dtype === 'f32' ? 'fp32' : spec.dtype,
    pooling: spec.pooling ?? 'mean',
  });
  return { full: t.embed, close: () => t.dispose() };
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] as string) as RunnerSpec;
  const base = { runtime: spec.runtime, device: spec.device, dtype: spec.dtype };
  const t0 = performance.now();
  const rt = await open(spec);
  const full = sampled(rt.full);
  const probe = (await full([spec.plan.long]))[0] as ArrayLike<number>;
  const coldStartMs = performance.now() - t0;
  const rows: RowResult[] = [
    { ...base, point: 'full', coldStartMs, ...(await runCases(full, spec.plan)), probe: Array.from(probe) },
  ];
  if (rt.half && spec.half)
    rows.push({
      ...base,
      point: `${spec.half.layers} layers × ${spec.half.dims} dims`,
      ...(await runCases(sampled(rt.half), spec.plan)),
    });
  await rt.close();
  const memory = { RSS: resourceUsage().maxRSS / 1024, 'JS heap': peakHeap / 2 ** 20 };
  for (const r of rows) r.peakMemory = memory;
  process.stdout.write(`${RESULT_MARK}${JSON.stringify(rows)}\n`);
  // Dawn and onnxruntime keep threads alive after dispose; the result is out, so leave now.
  process.exit(0);
}

// The orchestrator imports this module for RESULT_MARK and the spec type; only a run as a script measures.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
