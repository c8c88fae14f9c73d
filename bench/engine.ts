/**
 * `npm run bench -- engine`: tokens/s of the public forward path, GpuEncoder.embed (one submission
 * and one readback per call), on a random-weight BERT the size of a MiniLM-L12 / e5-small
 * (12 layers, 384 wide), at full and half depth, f32 and q8 weights; the CPU fallback for context.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createGpuContext, type GpuContext } from '../src/gpu/device.js';
import { CpuEncoder } from '../src/model/cpu.js';
import type { EncoderBackend, ForwardOptions } from '../src/model/encoder.js';
import { GpuEncoder } from '../src/model/gpu.js';
import type { Quant } from '../src/model/weights.js';
import { bertConfig, randomBert, randomTokens } from '../test/support/random.js';
import { icdName } from './adapter.js';

const CONFIG = bertConfig({
  vocabSize: 30522,
  hiddenSize: 384,
  numLayers: 12,
  numHeads: 12,
  intermediateSize: 1536,
  maxPositions: 512,
});
const FULL = CONFIG.numLayers;
const HALF = FULL / 2;
const QUANTS: readonly Quant[] = ['f32', 'q8'];
/** A case whose warm-up call takes longer than this is timed over 3 runs instead of `runs`. */
const LONG_RUN_MS = 20_000;
const LONG_RUNS = 3;
/** A single call this slow is treated as a hang: report what we have and stop. */
const CALL_TIMEOUT_MS = 300_000;

interface Shape {
  batch: number;
  seq: number;
}
const SHAPES: Shape[] = [
  { batch: 1, seq: 16 },
  { batch: 1, seq: 128 },
  { batch: 32, seq: 128 },
];
const CPU_SHAPES: Shape[] = [
  { batch: 1, seq: 16 },
  { batch: 1, seq: 128 },
];
const QUICK_SHAPES: Shape[] = [
  { batch: 1, seq: 16 },
  { batch: 1, seq: 128 },
  { batch: 4, seq: 128 },
];
const QUICK_CPU_SHAPES: Shape[] = [{ batch: 1, seq: 16 }];

const DEFAULT_OUT = resolve(dirname(fileURLToPath(import.meta.url)), 'results', 'engine-latest.json');

const USAGE = `usage: npm run bench -- engine [--quick] [--runs N] [--out FILE] [--adapter lavapipe|swiftshader]

  --quick     smoke check: 2 runs, cases 1x16, 1x128, 4x128, CPU 1x16 only; writes no JSON unless --out
  --runs N    timed runs per case after one warm-up (default 5; cases slower than 20 s per call use 3)
  --out FILE  where the JSON goes (default bench/results/engine-latest.json)`;

interface CaseResult {
  backend: 'webgpu' | 'cpu';
  quant: Quant;
  layers: number;
  batch: number;
  seq: number;
  runs: number;
  /** True when the case was timed over 3 runs because one call took more than 20 s. */
  reducedRuns: boolean;
  warmupMs: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  tokensPerSec: number;
  gflopPerSec: number;
  error?: string;
}

/** Multiply-adds x 2 of the encoder layers: the dense projections plus attention's QK^T and PV (embed/norms/pool ignored). */
export function forwardFlops(shape: Shape, layers: number, H = CONFIG.hiddenSize, I = CONFIG.intermediateSize): number {
  const tokens = shape.batch * shape.seq;
  const dense = 2 * tokens * (4 * H * H + 2 * H * I);
  const attention = 2 * 2 * shape.batch * shape.seq * shape.seq * H;
  return layers * (dense + attention);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

const round = (x: number, digits = 3) => (x === 0 || !Number.isFinite(x) ? x : Number(x.toPrecision(digits)));
const fmtMs = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
const fmtRate = (r: number) => (r >= 100 ? Math.round(r).toString() : r.toFixed(1));
const shapeName = (s: Shape) => `${s.batch}×${s.seq}`;
const log = (msg: string) => process.stderr.write(`${msg}\n`);

class CallTimeout extends Error {}

async function timed(call: () => Promise<unknown>): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CallTimeout(`a call took more than ${CALL_TIMEOUT_MS / 1000} s`)), CALL_TIMEOUT_MS);
  });
  const t0 = performance.now();
  try {
    await Promise.race([call(), timeout]);
  } finally {
    clearTimeout(timer);
  }
  return performance.now() - t0;
}

async function measure(
  encoder: EncoderBackend,
  backend: CaseResult['backend'],
  quant: Quant,
  shape: Shape,
  layers: number,
  runs: number,
): Promise<CaseResult> {
  const tokens = randomTokens(new Array(shape.batch).fill(shape.seq), CONFIG.vocabSize, shape.batch * 1000 + shape.seq);
  const options: ForwardOptions = { layers, dims: CONFIG.hiddenSize, pooling: 'mean', normalize: true };
  const base = { backend, quant, layers, batch: shape.batch, seq: shape.seq };
  const label = `${backend} ${quant} ${shapeName(shape)} L${layers}`;
  try {
    const warmupMs = await timed(() => encoder.embed(tokens, options));
    const reducedRuns = warmupMs > LONG_RUN_MS && runs > LONG_RUNS;
    const n = reducedRuns ? LONG_RUNS : runs;
    const samples: number[] = [];
    for (let i = 0; i < n; i++) samples.push(await timed(() => encoder.embed(tokens, options)));
    const medianMs = median(samples);
    const result: CaseResult = {
      ...base,
      runs: n,
      reducedRuns,
      warmupMs,
      medianMs,
      minMs: Math.min(...samples),
      maxMs: Math.max(...samples),
      tokensPerSec: (shape.batch * shape.seq) / (medianMs / 1000),
      gflopPerSec: forwardFlops(shape, layers) / (medianMs / 1000) / 1e9,
    };
    log(
      `  ${label.padEnd(26)} median ${fmtMs(medianMs).padStart(7)} ms  ${fmtRate(result.tokensPerSec).padStart(7)} tok/s` +
        `  ${result.gflopPerSec.toFixed(2)} GFLOP/s  (warm-up ${fmtMs(warmupMs)} ms, ${n} runs ${samples.map(fmtMs).join(' ')})`,
    );
    return result;
  } catch (err) {
    if (err instanceof CallTimeout) throw err;
    const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    log(`  ${label}: FAILED ${error}`);
    const nan = Number.NaN;
    return {
      ...base,
      runs: 0,
      reducedRuns: false,
      warmupMs: nan,
      medianMs: nan,
      minMs: nan,
      maxMs: nan,
      tokensPerSec: nan,
      gflopPerSec: nan,
      error,
    };
  }
}

interface Meta {
  date: string;
  node: string;
  adapter: GpuContext['adapter'] | null;
  driver: string;
  host: string;
  quick: boolean;
  runs: number;
  model: Record<string, number | string>;
  setupMs: Partial<Record<Quant, number>>;
  weightGenMs: Partial<Record<Quant, number>>;
}

function find(results: CaseResult[], backend: string, quant: Quant, shape: Shape, layers: number): CaseResult | undefined {
  return results.find(
    (r) => r.backend === backend && r.quant === quant && r.batch === shape.batch && r.seq === shape.seq && r.layers === layers,
  );
}

function cell(r: CaseResult | undefined, value: (r: CaseResult) => string): string {
  if (!r) return '—';
  if (r.error) return 'error';
  return `${value(r)}${r.reducedRuns ? ' †' : ''}`;
}

function report(meta: Meta, results: CaseResult[], shapes: Shape[], cpuShapes: Shape[]): string {
  const a = meta.adapter;
  const lines: string[] = [];
  lines.push('## m3web engine benchmark', '');
  lines.push(`- date: ${meta.date}`);
  lines.push(`- node: ${meta.node}; host: ${meta.host}`);
  lines.push(
    `- adapter: ${a ? `${a.description || '(no description)'} [vendor ${a.vendor || '?'}, arch ${a.architecture || '?'}, fallback ${a.isFallback}]` : 'none'}`,
  );
  lines.push(`- driver: ${meta.driver}`);
  lines.push(
    `- model: random BERT, ${FULL} layers (half = ${HALF}), H ${CONFIG.hiddenSize}, ${CONFIG.numHeads} heads, FFN ${CONFIG.intermediateSize}, vocab ${CONFIG.vocabSize}; ` +
      `GpuEncoder.embed(mean pooling, ${CONFIG.hiddenSize} dims, normalize)`,
  );
  const setup = QUANTS.filter((q) => meta.setupMs[q] !== undefined)
    .map((q) => `${q} ${fmtMs(meta.setupMs[q] as number)} ms`)
    .join(', ');
  lines.push(`- encoder setup (upload + pipelines): ${setup || 'n/a'}`);
  lines.push(
    `- timing: 1 warm-up, then median of ${meta.runs} runs${meta.quick ? ' (--quick)' : ''}; † = ${LONG_RUNS} runs (one call > ${LONG_RUN_MS / 1000} s)`,
    '',
  );

  const layersOf = (half: boolean) => (half ? HALF : FULL);
  const columns = QUANTS.flatMap((q) => [false, true].map((half) => ({ q, half })));
  const ratio = (r1: CaseResult | undefined, r2: CaseResult | undefined) =>
    r1 && r2 && !r1.error && !r2.error ? (r2.medianMs / r1.medianMs).toFixed(2) : '—';

  lines.push('### tokens/s (median ms per call)', '');
  lines.push(
    `| case | ${columns.map((c) => `${c.q} ${c.half ? 'half' : 'full'}`).join(' | ')} | ${QUANTS.map((q) => `${q} half/full time`).join(' | ')} |`,
  );
  lines.push(`|---|${columns.map(() => '---:').join('|')}|${QUANTS.map(() => '---:').join('|')}|`);
  for (const s of shapes) {
    const cells = columns.map((c) =>
      cell(find(results, 'webgpu', c.q, s, layersOf(c.half)), (r) => `${fmtRate(r.tokensPerSec)} (${fmtMs(r.medianMs)} ms)`),
    );
    const ratios = QUANTS.map((q) => ratio(find(results, 'webgpu', q, s, FULL), find(results, 'webgpu', q, s, HALF)));
    lines.push(`| GPU ${shapeName(s)} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`);
  }
  for (const s of cpuShapes) {
    const cells = columns.map((c) =>
      c.q === 'f32' && !c.half
        ? cell(find(results, 'cpu', 'f32', s, FULL), (r) => `${fmtRate(r.tokensPerSec)} (${fmtMs(r.medianMs)} ms)`)
        : '—',
    );
    lines.push(`| CPU ${shapeName(s)} | ${cells.join(' | ')} | ${QUANTS.map(() => '—').join(' | ')} |`);
  }
  lines.push(
    '',
    'Half depth should cost about half: a half/full time ratio well above 0.5 means fixed per-call cost dominates.',
    '',
  );

  lines.push('### achieved GFLOP/s (2 x multiply-adds of dense layers + attention, per median call)', '');
  lines.push(`| case | ${columns.map((c) => `${c.q} ${c.half ? 'half' : 'full'}`).join(' | ')} |`);
  lines.push(`|---|${columns.map(() => '---:').join('|')}|`);
  for (const s of shapes) {
    const cells = columns.map((c) => cell(find(results, 'webgpu', c.q, s, layersOf(c.half)), (r) => r.gflopPerSec.toFixed(2)));
    lines.push(`| GPU ${shapeName(s)} (${(forwardFlops(s, FULL) / 1e9).toFixed(2)} GFLOP full) | ${cells.join(' | ')} |`);
  }
  for (const s of cpuShapes) {
    const r = find(results, 'cpu', 'f32', s, FULL);
    lines.push(`| CPU ${shapeName(s)} | ${cell(r, (x) => x.gflopPerSec.toFixed(2))} | ${['—', '—', '—'].join(' | ')} |`);
  }
  lines.push('');

  // t(layers) ≈ fixed + layers * perLayer, solved from the full and half runs.
  lines.push('### where the time goes (from full vs half depth: t = fixed + layers × per-layer)', '');
  lines.push('| case | quant | fixed ms | per-layer ms | per-layer GFLOP/s | ms per dispatch (7 per layer) |');
  lines.push('|---|---|---:|---:|---:|---:|');
  for (const s of shapes) {
    for (const q of QUANTS) {
      const f = find(results, 'webgpu', q, s, FULL);
      const h = find(results, 'webgpu', q, s, HALF);
      if (!f || !h || f.error || h.error) continue;
      const perLayer = (f.medianMs - h.medianMs) / (FULL - HALF);
      const fixed = f.medianMs - FULL * perLayer;
      const layerGflops = forwardFlops(s, 1) / (perLayer / 1000) / 1e9;
      lines.push(
        `| GPU ${shapeName(s)} | ${q} | ${fmtMs(fixed)} | ${fmtMs(perLayer)} | ${layerGflops.toFixed(2)} | ${fmtMs(perLayer / 7)} |`,
      );
    }
  }
  lines.push('');
  return lines.join('\n');
}

function writeJson(path: string, meta: Meta, results: CaseResult[]): void {
  const clean = results.map((r) => ({
    ...r,
    warmupMs: round(r.warmupMs, 4),
    medianMs: round(r.medianMs, 4),
    minMs: round(r.minMs, 4),
    maxMs: round(r.maxMs, 4),
    tokensPerSec: round(r.tokensPerSec),
    gflopPerSec: round(r.gflopPerSec),
  }));
  const setupMs = Object.fromEntries(Object.entries(meta.setupMs).map(([k, v]) => [k, round(v as number, 4)]));
  const weightGenMs = Object.fromEntries(Object.entries(meta.weightGenMs).map(([k, v]) => [k, round(v as number, 4)]));
  const body = `${JSON.stringify({ ...meta, setupMs, weightGenMs, results: clean }, null, 2)}\n`;
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, body);
  renameSync(tmp, path);
}

export async function main(args: string[]): Promise<number> {
  let values: { quick?: boolean; runs?: string; out?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        quick: { type: 'boolean' },
        runs: { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : err}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const quick = values.quick === true;
  const runs = values.runs === undefined ? (quick ? 2 : 5) : Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) {
    console.error(`--runs must be a positive integer, got "${values.runs}"\n\n${USAGE}`);
    return 2;
  }
  const out = values.out !== undefined ? resolve(values.out) : quick ? null : DEFAULT_OUT;
  const shapes = quick ? QUICK_SHAPES : SHAPES;
  const cpuShapes = quick ? QUICK_CPU_SHAPES : CPU_SHAPES;

  const cpu = cpus();
  const meta: Meta = {
    date: new Date().toISOString(),
    node: process.version,
    adapter: null,
    driver: icdName(),
    host: `${cpu[0]?.model.trim() ?? 'unknown CPU'} × ${cpu.length}, ${process.platform}-${process.arch}`,
    quick,
    runs,
    model: {
      layers: FULL,
      halfLayers: HALF,
      hidden: CONFIG.hiddenSize,
      heads: CONFIG.numHeads,
      ffn: CONFIG.intermediateSize,
      vocab: CONFIG.vocabSize,
      maxPositions: CONFIG.maxPositions,
      pooling: 'mean',
      dims: CONFIG.hiddenSize,
      normalize: 'true',
    },
    setupMs: {},
    weightGenMs: {},
  };
  const results: CaseResult[] = [];

  const ctx = await createGpuContext();
  meta.adapter = ctx.adapter;
  log(`adapter: ${ctx.adapter.description} (${meta.driver}); node ${process.version}`);
  ctx.device.onuncapturederror = (e) => log(`uncaptured WebGPU error: ${e.error.message}`);
  let encoder: GpuEncoder | null = null;
  let status = 0;
  let hung = false;
  try {
    for (const quant of QUANTS) {
      log(`${quant}: generating random weights...`);
      let t0 = performance.now();
      const weights = randomBert(CONFIG, quant);
      meta.weightGenMs[quant] = performance.now() - t0;
      t0 = performance.now();
      encoder = await GpuEncoder.create(ctx, weights);
      meta.setupMs[quant] = performance.now() - t0;
      log(`${quant}: encoder ready in ${fmtMs(meta.setupMs[quant] as number)} ms`);
      for (const shape of shapes) {
        for (const layers of [FULL, HALF]) results.push(await measure(encoder, 'webgpu', quant, shape, layers, runs));
      }
      encoder.dispose();
      encoder = null;
      if (quant === 'f32') {
        log('cpu f32: dequantizing...');
        const cpuEncoder = new CpuEncoder(weights);
        for (const shape of cpuShapes) results.push(await measure(cpuEncoder, 'cpu', 'f32', shape, FULL, runs));
        cpuEncoder.dispose();
      }
    }
  } catch (err) {
    // Only a hung call lands here; per-case errors are recorded in the results.
    log(`stopping: ${err instanceof Error ? err.message : err}`);
    status = 1;
    hung = err instanceof CallTimeout;
  } finally {
    encoder?.dispose();
    ctx.device.destroy();
  }

  console.log(report(meta, results, shapes, cpuShapes));
  if (out) {
    writeJson(out, meta, results);
    log(`wrote ${relative(process.cwd(), out)}`);
  }
  if (results.some((r) => r.error)) status = 1;
  // A hung call may leave Dawn work pending that keeps the event loop alive: don't wait for it.
  if (status === 1 && hung) setTimeout(() => process.exit(1), 1000).unref();
  return status;
}
