/**
 * `npm run bench -- engine`: tokens/s of the public forward path, GpuEncoder.embed (one submission
 * and one readback per call), on a random-weight BERT the size of a MiniLM-L12 / e5-small
 * (12 layers, 384 wide), at full and half depth, f32 and q8 weights; the CPU fallback for context;
 * and the ModernBERT path on the mmBERT-small shape (22 layers, 384 wide, 256k vocabulary), q8.
 */
import { loadavg } from 'node:os';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { weightsFromTensors } from '../src/checkpoint/weights.js';
import { createGpuContext, type GpuContext } from '../src/gpu/device.js';
import { CpuEncoder } from '../src/model/cpu.js';
import type { EncoderBackend, ForwardOptions } from '../src/model/encoder.js';
import { GpuEncoder } from '../src/model/gpu.js';
import { type EncoderConfig, parseHfConfig } from '../src/weights/config.js';
import type { BertWeights, Quant } from '../src/weights/weights.js';
import { MMBERT_SMALL_CONFIG } from '../test/support/mmbert.js';
import { bertConfig, randomBert, randomModernBertTensors, randomTokens } from '../test/support/random.js';
import { icdName } from './adapter.js';
import { hostName, loadNow, parseBenchArgs, writeJsonFile } from './common.js';

const CONFIG = bertConfig({
  vocabSize: 30522,
  hiddenSize: 384,
  numLayers: 12,
  numHeads: 12,
  intermediateSize: 1536,
  maxPositions: 512,
});
/**
 * Same depth, negligible arithmetic: its time is what the forward costs apart from matmul
 * throughput (dispatches, submission, readback, input upload).
 */
const PROBE_CONFIG = bertConfig({ vocabSize: 1000, hiddenSize: 64, numLayers: 12, numHeads: 4, intermediateSize: 128 });
/** The public mmBERT-small config (random q8 weights): RoPE, local/global attention, GeGLU. */
const MMBERT_CONFIG = parseHfConfig(MMBERT_SMALL_CONFIG);
const FULL = CONFIG.numLayers;
const HALF = FULL / 2;
const QUANTS: readonly Quant[] = ['f32', 'q8'];
/** Dispatches per layer in GpuEncoder: qkv, attention, attn-out, norm, ffn-in, ffn-out, norm. */
const DISPATCHES_PER_LAYER = 7;
/** A case whose warm-up call takes longer than this is timed over 3 runs instead of `runs`. */
const LONG_RUN_MS = 20_000;
const LONG_RUNS = 3;
/** A single call this slow is treated as a hang: report what we have and stop. */
const CALL_TIMEOUT_MS = 300_000;
const DEFAULT_BUDGET_MIN = 14;

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
const PROBE_SHAPE: Shape = { batch: 1, seq: 16 };

const DEFAULT_OUT = resolve(dirname(fileURLToPath(import.meta.url)), 'results', 'engine-latest.json');

const USAGE = `usage: npm run bench -- engine [--quick] [--runs N] [--budget MIN] [--shapes LIST] [--quants LIST] [--out FILE] [--adapter lavapipe|swiftshader]

  --quick       smoke check: 2 runs, cases 1x16, 1x128, 4x128, CPU 1x16 only; writes no JSON unless --out
  --runs N      timed runs per case after one warm-up (default 5; cases slower than 20 s per call use 3)
  --budget MIN  skip cases predicted to end past MIN minutes of total run time (default ${DEFAULT_BUDGET_MIN}; 0 = no limit)
  --shapes LIST only these GPU/CPU shapes, e.g. 32x128,1x16   --quants LIST only these weight formats (f32,q8)
  --out FILE    where the JSON goes (default bench/results/engine-latest.json; --quick/--shapes/--quants write none unless given)`;

type Model = 'bert-384' | 'probe-64' | 'mmbert-small';
type Backend = 'webgpu' | 'cpu';

interface CaseResult {
  model: Model;
  backend: Backend;
  quant: Quant;
  layers: number;
  batch: number;
  seq: number;
  runs: number;
  /** True when the case was timed over 3 runs because one call took more than 20 s. */
  reducedRuns?: boolean;
  warmupMs?: number;
  medianMs?: number;
  minMs?: number;
  maxMs?: number;
  tokensPerSec?: number;
  gflopPerSec?: number;
  /** Not measured because it would have run past the time budget. */
  skipped?: string;
  error?: string;
}
type Measured = CaseResult & Required<Pick<CaseResult, 'medianMs' | 'tokensPerSec' | 'gflopPerSec'>>;
const ok = (r: CaseResult | undefined): r is Measured => r?.medianMs !== undefined;

/** 2 x multiply-adds of the encoder layers: dense projections plus attention's QK^T and PV (embed, norms, pool ignored). */
export function forwardFlops(shape: Shape, layers: number, c: EncoderConfig = CONFIG): number {
  const H = c.hiddenSize;
  const tokens = shape.batch * shape.seq;
  // ModernBERT's GeGLU input projection is twice as wide: 3 H x I multiply-adds instead of 2.
  const dense = 2 * tokens * (4 * H * H + (c.modern ? 3 : 2) * H * c.intermediateSize);
  const attention = 2 * 2 * shape.batch * shape.seq * shape.seq * H;
  return layers * (dense + attention);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

const round = (x: number | undefined, digits = 4) => (x === undefined || x === 0 ? x : Number(x.toPrecision(digits)));
const fmtMs = (ms: number) => (Math.abs(ms) >= 100 ? ms.toFixed(0) : Math.abs(ms) >= 10 ? ms.toFixed(1) : ms.toFixed(2));
const fmtRate = (r: number) => (r >= 100 ? Math.round(r).toString() : r.toFixed(1));
const fmtMin = (ms: number) => `${(ms / 60_000).toFixed(1)} min`;
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

/** Runs cases in order, keeps the results, and skips what would overrun the time budget. */
class Runner {
  readonly results: CaseResult[] = [];
  private readonly start = performance.now();
  /** Shapes each encoder has already run: buffers grown, pipelines warm. */
  private readonly warmed = new WeakMap<EncoderBackend, Set<string>>();

  constructor(
    private readonly runs: number,
    private readonly budgetMs: number,
  ) {}

  elapsedMs(): number {
    return performance.now() - this.start;
  }

  /** Predicted wall time of a case, from the throughput of the heaviest case measured so far on the same path. */
  private predictMs(model: Model, backend: Backend, quant: Quant, flops: number, warm: boolean): number | undefined {
    const done = this.results.filter(
      (r): r is Measured => ok(r) && r.model === model && r.backend === backend && r.quant === quant,
    );
    if (!done.length) return undefined;
    // gflopPerSec x medianMs is proportional to the case's FLOP count.
    const heaviest = done.reduce((a, b) => (a.gflopPerSec * a.medianMs >= b.gflopPerSec * b.medianMs ? a : b));
    const perCall = (flops / heaviest.gflopPerSec / 1e9) * 1000;
    return perCall * ((warm ? 0 : 1) + (perCall > LONG_RUN_MS ? Math.min(this.runs, LONG_RUNS) : this.runs));
  }

  /**
   * Times `runs` calls of encoder.embed after one warm-up call per (encoder, shape): the warm-up
   * grows the activation buffers to the shape, and a later depth of the same shape reuses them.
   */
  async measure(encoder: EncoderBackend, model: Model, backend: Backend, quant: Quant, shape: Shape, layers: number) {
    const config = encoder.config;
    const base = { model, backend, quant, layers, batch: shape.batch, seq: shape.seq };
    const label = `${model} ${backend} ${quant} ${shapeName(shape)} L${layers}`;
    const flops = forwardFlops(shape, layers, config);
    const warmed = this.warmed.get(encoder) ?? new Set<string>();
    this.warmed.set(encoder, warmed);
    const key = shapeName(shape);
    const predicted = this.predictMs(model, backend, quant, flops, warmed.has(key));
    if (this.budgetMs > 0 && predicted !== undefined && this.elapsedMs() + predicted > this.budgetMs) {
      const skipped = `predicted ${fmtMin(predicted)} at ${fmtMin(this.elapsedMs())} elapsed would pass the ${fmtMin(this.budgetMs)} budget`;
      log(`  ${label.padEnd(34)} skipped: ${skipped}`);
      this.results.push({ ...base, runs: 0, skipped });
      return;
    }
    const tokens = randomTokens(new Array(shape.batch).fill(shape.seq), config.vocabSize, shape.batch * 1000 + shape.seq);
    const options: ForwardOptions = { layers, dims: config.hiddenSize, pooling: 'mean', normalize: true };
    try {
      let warmupMs: number | undefined;
      if (!warmed.has(key)) {
        warmupMs = await timed(() => encoder.embed(tokens, options));
        warmed.add(key);
      }
      const samples: number[] = [];
      let n = this.runs;
      let reducedRuns = false;
      while (samples.length < n) {
        samples.push(await timed(() => encoder.embed(tokens, options)));
        if (!reducedRuns && n > LONG_RUNS && (warmupMs ?? (samples[0] as number)) > LONG_RUN_MS) {
          n = LONG_RUNS;
          reducedRuns = true;
        }
      }
      const medianMs = median(samples);
      const r: Measured = {
        ...base,
        runs: n,
        ...(reducedRuns ? { reducedRuns } : {}),
        ...(warmupMs !== undefined ? { warmupMs } : {}),
        medianMs,
        minMs: Math.min(...samples),
        maxMs: Math.max(...samples),
        tokensPerSec: (shape.batch * shape.seq) / (medianMs / 1000),
        gflopPerSec: flops / (medianMs / 1000) / 1e9,
      };
      log(
        `  ${label.padEnd(34)} median ${fmtMs(medianMs).padStart(6)} ms ${fmtRate(r.tokensPerSec).padStart(6)} tok/s ` +
          `${r.gflopPerSec.toFixed(2).padStart(5)} GFLOP/s (warm-up ${warmupMs === undefined ? '-' : fmtMs(warmupMs)}; ` +
          `${samples.map(fmtMs).join(' ')}; t+${fmtMin(this.elapsedMs())}, load ${loadavg()[0]?.toFixed(1)})`,
      );
      this.results.push(r);
    } catch (err) {
      if (err instanceof CallTimeout) throw err;
      const error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      log(`  ${label}: FAILED ${error}`);
      this.results.push({ ...base, runs: 0, error });
    }
  }
}

interface Meta {
  date: string;
  node: string;
  adapter: GpuContext['adapter'] | null;
  driver: string;
  host: string;
  /** 1-minute load average at start and end: other work on the machine skews the numbers. */
  loadAvg: { start: number; end: number };
  quick: boolean;
  runs: number;
  budgetMin: number;
  totalMin: number;
  model: Record<string, number | string | boolean>;
  setupMs: Partial<Record<Quant, number>>;
}

function find(results: CaseResult[], model: Model, backend: Backend, quant: Quant, shape: Shape, layers: number) {
  return results.find(
    (r) =>
      r.model === model &&
      r.backend === backend &&
      r.quant === quant &&
      r.batch === shape.batch &&
      r.seq === shape.seq &&
      r.layers === layers,
  );
}

function cell(r: CaseResult | undefined, value: (r: Measured) => string): string {
  if (!r) return '—';
  if (r.error) return 'error';
  if (r.skipped) return 'skipped';
  if (!ok(r)) return '—';
  return `${value(r)}${r.reducedRuns ? ' †' : ''}`;
}

function report(meta: Meta, results: CaseResult[], shapes: Shape[], cpuShapes: Shape[]): string {
  const a = meta.adapter;
  const lines: string[] = [];
  lines.push('## m3web engine benchmark', '');
  lines.push(`- date: ${meta.date}; total ${meta.totalMin.toFixed(1)} min`);
  lines.push(`- node: ${meta.node}; host: ${meta.host}; load average ${meta.loadAvg.start} at start, ${meta.loadAvg.end} at end`);
  lines.push(
    `- adapter: ${a ? `${a.description || '(no description)'} [vendor ${a.vendor || '?'}, arch ${a.architecture || '?'}, fallback ${a.isFallback}]` : 'none'}`,
  );
  lines.push(`- driver: ${meta.driver}`);
  lines.push(
    `- model: random BERT, ${FULL} layers (half = ${HALF}), H ${CONFIG.hiddenSize}, ${CONFIG.numHeads} heads, FFN ${CONFIG.intermediateSize}, ` +
      `vocab ${CONFIG.vocabSize}; GpuEncoder.embed(mean pooling, ${CONFIG.hiddenSize} dims, normalize), one submission + one readback per call`,
  );
  const setup = QUANTS.filter((q) => meta.setupMs[q] !== undefined)
    .map((q) => `${q} ${fmtMs(meta.setupMs[q] as number)} ms`)
    .join(', ');
  lines.push(`- GpuEncoder.create (weight upload + pipeline compile): ${setup || 'n/a'}`);
  lines.push(
    `- timing: 1 warm-up call per encoder and shape, then median of ${meta.runs} runs${meta.quick ? ' (--quick)' : ''}; † = ${LONG_RUNS} runs (one call > ${LONG_RUN_MS / 1000} s); ` +
      `skipped = predicted to pass the ${meta.budgetMin || '∞'} min budget`,
    '',
  );

  const layersOf = (half: boolean) => (half ? HALF : FULL);
  const columns = QUANTS.flatMap((q) => [false, true].map((half) => ({ q, half })));
  const head = columns.map((c) => `${c.q} ${c.half ? 'half' : 'full'}`).join(' | ');
  const ratio = (full: CaseResult | undefined, half: CaseResult | undefined) =>
    ok(full) && ok(half) ? (half.medianMs / full.medianMs).toFixed(2) : '—';
  const rate = (r: Measured) => `${fmtRate(r.tokensPerSec)} (${fmtMs(r.medianMs)} ms)`;

  lines.push('### tokens/s (median ms per call)', '');
  lines.push(`| case | ${head} | ${QUANTS.map((q) => `${q} half/full time`).join(' | ')} |`);
  lines.push(`|---|${columns.map(() => '---:').join('|')}|${QUANTS.map(() => '---:').join('|')}|`);
  for (const s of shapes) {
    const cells = columns.map((c) => cell(find(results, 'bert-384', 'webgpu', c.q, s, layersOf(c.half)), rate));
    const ratios = QUANTS.map((q) =>
      ratio(find(results, 'bert-384', 'webgpu', q, s, FULL), find(results, 'bert-384', 'webgpu', q, s, HALF)),
    );
    lines.push(`| GPU ${shapeName(s)} | ${cells.join(' | ')} | ${ratios.join(' | ')} |`);
  }
  for (const s of cpuShapes) {
    const r = find(results, 'bert-384', 'cpu', 'f32', s, FULL);
    lines.push(`| CPU ${shapeName(s)} | ${cell(r, rate)} | — | — | — | — | — |`);
  }
  lines.push(
    '',
    'Half depth should cost about half: a half/full time ratio well above 0.5 means fixed per-call cost dominates.',
    '',
  );

  lines.push('### achieved GFLOP/s (2 × multiply-adds of the dense layers + attention QK^T/PV)', '');
  lines.push(`| case | GFLOP (full) | ${head} |`);
  lines.push(`|---|---:|${columns.map(() => '---:').join('|')}|`);
  for (const s of shapes) {
    const cells = columns.map((c) =>
      cell(find(results, 'bert-384', 'webgpu', c.q, s, layersOf(c.half)), (r) => r.gflopPerSec.toFixed(2)),
    );
    lines.push(`| GPU ${shapeName(s)} | ${(forwardFlops(s, FULL) / 1e9).toFixed(2)} | ${cells.join(' | ')} |`);
  }
  for (const s of cpuShapes) {
    const r = find(results, 'bert-384', 'cpu', 'f32', s, FULL);
    lines.push(
      `| CPU ${shapeName(s)} | ${(forwardFlops(s, FULL) / 1e9).toFixed(2)} | ${cell(r, (x) => x.gflopPerSec.toFixed(2))} | — | — | — |`,
    );
  }
  lines.push('');

  // t(layers) ≈ fixed + layers × perLayer, solved from the full and half runs.
  lines.push('### where the time goes (t = fixed + layers × per-layer, solved from full and half depth)', '');
  lines.push(
    `| case | fixed ms | per-layer ms | ms per dispatch (${DISPATCHES_PER_LAYER}/layer) | per-layer GFLOP/s |`,
    '|---|---:|---:|---:|---:|',
  );
  const split = (label: string, model: Model, quant: Quant, s: Shape, c: EncoderConfig) => {
    const f = find(results, model, 'webgpu', quant, s, FULL);
    const h = find(results, model, 'webgpu', quant, s, HALF);
    if (!ok(f) || !ok(h)) return;
    const perLayer = (f.medianMs - h.medianMs) / (FULL - HALF);
    const fixed = f.medianMs - FULL * perLayer;
    const gflops = forwardFlops(s, 1, c) / (perLayer / 1000) / 1e9;
    lines.push(
      `| ${label} | ${fmtMs(fixed)} | ${fmtMs(perLayer)} | ${fmtMs(perLayer / DISPATCHES_PER_LAYER)} | ${perLayer > 0 ? gflops.toFixed(2) : '—'} |`,
    );
  };
  split(
    `overhead probe: H ${PROBE_CONFIG.hiddenSize}, FFN ${PROBE_CONFIG.intermediateSize}, ${shapeName(PROBE_SHAPE)}, f32`,
    'probe-64',
    'f32',
    PROBE_SHAPE,
    PROBE_CONFIG,
  );
  for (const s of shapes) for (const q of QUANTS) split(`GPU ${shapeName(s)} ${q}`, 'bert-384', q, s, CONFIG);
  lines.push(
    '',
    'The probe runs the same 12-layer forward with tiny matrices, so its per-layer time is dispatch/driver overhead, ' +
      'not arithmetic. Negative or odd splits mean run-to-run noise exceeded the depth difference.',
    '',
  );

  const L = MMBERT_CONFIG.numLayers;
  lines.push(
    `### ModernBERT: mmBERT-small shape (${L} layers, H ${MMBERT_CONFIG.hiddenSize}, FFN ${MMBERT_CONFIG.intermediateSize} GeGLU, vocab ${MMBERT_CONFIG.vocabSize}), q8`,
    '',
  );
  lines.push('| case | GFLOP | tokens/s (median ms per call) | GFLOP/s |', '|---|---:|---:|---:|');
  for (const s of shapes) {
    const r = find(results, 'mmbert-small', 'webgpu', 'q8', s, L);
    if (!r) continue;
    lines.push(
      `| GPU ${shapeName(s)} | ${(forwardFlops(s, L, MMBERT_CONFIG) / 1e9).toFixed(2)} | ${cell(r, rate)} | ${cell(r, (x) => x.gflopPerSec.toFixed(2))} |`,
    );
  }
  lines.push('');
  return lines.join('\n');
}

function writeJson(path: string, meta: Meta, results: CaseResult[]): void {
  const clean = results.map((r) => ({
    ...r,
    warmupMs: round(r.warmupMs),
    medianMs: round(r.medianMs),
    minMs: round(r.minMs),
    maxMs: round(r.maxMs),
    tokensPerSec: round(r.tokensPerSec),
    gflopPerSec: round(r.gflopPerSec, 3),
  }));
  const setupMs = Object.fromEntries(Object.entries(meta.setupMs).map(([k, v]) => [k, round(v)]));
  writeJsonFile(path, { ...meta, totalMin: round(meta.totalMin, 3), setupMs, results: clean });
}

export async function main(args: string[]): Promise<number> {
  const values = parseBenchArgs(args, ['runs', 'budget', 'shapes', 'quants', 'out'], USAGE);
  if (typeof values === 'number') return values;
  const quick = values.quick === true;
  const runs = values.runs === undefined ? (quick ? 2 : 5) : Number(values.runs);
  const budgetMin = values.budget === undefined ? DEFAULT_BUDGET_MIN : Number(values.budget);
  if (!Number.isInteger(runs) || runs < 1 || !Number.isFinite(budgetMin) || budgetMin < 0) {
    console.error(`--runs must be a positive integer and --budget a number >= 0\n\n${USAGE}`);
    return 2;
  }
  const list = (v: string | undefined) => (v === undefined ? undefined : v.split(',').map((x) => x.trim().replace('×', 'x')));
  const wantShapes = list(values.shapes);
  const wantQuants = list(values.quants);
  const keepShape = (sh: Shape) => !wantShapes || wantShapes.includes(`${sh.batch}x${sh.seq}`);
  const allShapes = quick ? QUICK_SHAPES : SHAPES;
  const shapes = allShapes.filter(keepShape);
  const cpuShapes = (quick ? QUICK_CPU_SHAPES : CPU_SHAPES).filter(keepShape);
  const quants = QUANTS.filter((q) => !wantQuants || wantQuants.includes(q));
  const unknown = [
    ...(wantShapes ?? []).filter((w) => !allShapes.some((sh) => `${sh.batch}x${sh.seq}` === w)),
    ...(wantQuants ?? []).filter((w) => !QUANTS.includes(w as Quant)),
  ];
  if (unknown.length || !shapes.length || !quants.length) {
    console.error(`--shapes/--quants: nothing to run or unknown ${unknown.join(', ')}\n\n${USAGE}`);
    return 2;
  }
  // A filtered run would overwrite the full results with a partial table: only write where asked.
  const partial = quick || wantShapes !== undefined || wantQuants !== undefined;
  const out = values.out !== undefined ? resolve(values.out) : partial ? null : DEFAULT_OUT;

  const meta: Meta = {
    date: new Date().toISOString(),
    node: process.version,
    adapter: null,
    driver: icdName(),
    host: hostName(),
    loadAvg: { start: loadNow(), end: 0 },
    quick,
    runs,
    budgetMin,
    totalMin: 0,
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
      normalize: true,
    },
    setupMs: {},
  };
  const runner = new Runner(runs, budgetMin * 60_000);

  const ctx = await createGpuContext();
  meta.adapter = ctx.adapter;
  log(`adapter: ${ctx.adapter.description} (${meta.driver}); node ${process.version}; load ${meta.loadAvg.start}`);
  ctx.device.onuncapturederror = (e) => log(`uncaptured WebGPU error: ${e.error.message}`);
  const live: GpuEncoder[] = [];
  let status = 0;
  let hung = false;
  try {
    // Overhead probe first: cheap, and independent of the big model.
    const probe = await GpuEncoder.create(ctx, randomBert(PROBE_CONFIG, 'f32'));
    live.push(probe);
    for (const layers of [FULL, HALF]) await runner.measure(probe, 'probe-64', 'webgpu', 'f32', PROBE_SHAPE, layers);

    const encoders = new Map<Quant, GpuEncoder>();
    let f32Weights: BertWeights | null = null;
    for (const quant of quants) {
      log(`${quant}: generating random weights...`);
      const weights = randomBert(CONFIG, quant);
      if (quant === 'f32') f32Weights = weights;
      const t0 = performance.now();
      const encoder = await GpuEncoder.create(ctx, weights);
      encoders.set(quant, encoder);
      live.push(encoder);
      meta.setupMs[quant] = performance.now() - t0;
      log(`${quant}: GpuEncoder ready in ${fmtMs(meta.setupMs[quant] as number)} ms`);
    }
    // Cheap cases first; the biggest shape last, full depth before half, so that when the
    // budget runs out it is the least informative numbers that go missing.
    const big = shapes[shapes.length - 1] as Shape;
    for (const quant of quants) {
      for (const shape of shapes.slice(0, -1)) {
        for (const layers of [FULL, HALF]) {
          await runner.measure(encoders.get(quant) as GpuEncoder, 'bert-384', 'webgpu', quant, shape, layers);
        }
      }
    }
    if (f32Weights) {
      const cpuEncoder = new CpuEncoder(f32Weights);
      for (const shape of cpuShapes) await runner.measure(cpuEncoder, 'bert-384', 'cpu', 'f32', shape, FULL);
      cpuEncoder.dispose();
    }
    for (const layers of [FULL, HALF]) {
      for (const quant of quants) {
        await runner.measure(encoders.get(quant) as GpuEncoder, 'bert-384', 'webgpu', quant, big, layers);
      }
    }
    if (quants.includes('q8')) {
      log('mmbert-small q8: generating random weights...');
      const weights = await weightsFromTensors(MMBERT_CONFIG, randomModernBertTensors(MMBERT_CONFIG), {
        quant: 'q8',
        embeddingQuant: 'q8',
      });
      const modern = await GpuEncoder.create(ctx, weights);
      live.push(modern);
      for (const shape of shapes) await runner.measure(modern, 'mmbert-small', 'webgpu', 'q8', shape, MMBERT_CONFIG.numLayers);
    }
  } catch (err) {
    // Only a hung call lands here; per-case errors are recorded in the results.
    log(`stopping: ${err instanceof Error ? err.message : err}`);
    status = 1;
    hung = err instanceof CallTimeout;
  } finally {
    for (const e of live) e.dispose();
    ctx.device.destroy();
  }
  meta.loadAvg.end = loadNow();
  meta.totalMin = runner.elapsedMs() / 60_000;

  console.log(report(meta, runner.results, shapes, cpuShapes));
  if (out) {
    writeJson(out, meta, runner.results);
    log(`wrote ${relative(process.cwd(), out)}`);
  }
  if (runner.results.some((r) => r.error)) status = 1;
  // A hung call may leave Dawn work pending that keeps the event loop alive: don't wait for it.
  if (hung) setTimeout(() => process.exit(1), 1000).unref();
  return status;
}
