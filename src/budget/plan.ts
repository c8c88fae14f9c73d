import { InputError } from '../errors.js';
import type { AdaptiveQualityRow, QualityRow } from '../pack/manifest.js';
import { type EncoderConfig, parseHfConfig } from '../weights/config.js';
import { type AdaptivePlan, adaptiveCells } from './adaptive-plan.js';
import { type CostModel, memoryMB, type WeightQuant } from './cost.js';
import { compareQuality, type QualityEstimate, qualityEstimator } from './quality.js';

/** What the planner needs of a model; a PackManifest is one. */
export interface PlanModel {
  /** Layer counts the model may stop at. */
  exits: readonly number[];
  /** Widths the pooled vector may be truncated to. */
  dims: readonly number[];
  quality?: { rows: readonly QualityRow[]; adaptive?: readonly AdaptiveQualityRow[] | undefined } | undefined;
  /** The parsed config, or the Hugging Face config.json as a manifest carries it. */
  config: EncoderConfig | Record<string, unknown>;
  /** Defaults to f32 everywhere, the largest footprint. */
  quantization?: WeightQuant | undefined;
  /** A pack's token cap, when below the config's: longer texts are truncated to it. */
  maxTokens?: number | undefined;
}

/** Limits a plan must meet, and the workload they are measured on. Every field is optional. */
export interface Budget {
  /** Wall-clock ms of one embed call of `batch` texts of `typicalTokens` tokens. */
  maxLatencyMs?: number;
  /** MiB of weights, activations and index vectors (see memoryMB). */
  maxMemoryMB?: number;
  /** Bytes of one stored f32 vector (dims × 4). */
  maxBytesPerVector?: number;
  /** Tokens per text, specials included; default 64, capped at the model's maximum. */
  typicalTokens?: number;
  /** Texts per embed call; default 1. */
  batch?: number;
  /** Vectors the app keeps in memory (a search index); they count towards maxMemoryMB. */
  indexVectors?: number;
}

export interface Plan {
  /** The exit to run, or with `adaptive` the deepest a text may run to. */
  layers: number;
  dims: number;
  /**
   * Present when the budget is best met by adaptive depth: embed with `{ layers: 'adaptive',
   * tolerance }`, and texts run `meanLayers` on average (measured, or assumed: see `measured`).
   */
  adaptive?: AdaptivePlan;
  /** False when no (layers, dims) meets every limit; the plan is then the cheapest one. */
  fits: boolean;
  predicted: { latencyMs: number; memoryMB: number; quality: number | null };
  /** Why this plan, in a sentence a developer can act on. */
  reason: string;
}

const DEFAULT_TOKENS = 64;
const F32: WeightQuant = { linear: 'f32', embeddings: 'f32' };
const LIMITS = {
  maxLatencyMs: { unit: 'ms', of: (c: Candidate) => c.latencyMs },
  maxMemoryMB: { unit: 'MiB', of: (c: Candidate) => c.memoryMB },
  maxBytesPerVector: { unit: 'bytes per vector', of: (c: Candidate) => c.dims * 4 },
} as const;
type Limit = keyof typeof LIMITS;
const WORKLOAD = ['typicalTokens', 'batch', 'indexVectors'] as const;

interface Candidate {
  layers: number;
  dims: number;
  latencyMs: number;
  memoryMB: number;
  quality: QualityEstimate;
  adaptive?: AdaptivePlan;
}

/**
 * The highest-quality (layers, dims) among the model's exits × dims, and adaptive depth at each
 * width (adaptiveCells: measured in the manifest, else assumed), that meets every given limit,
 * ties going to the lower latency. Each candidate's costs are fixed by the workload, so raising a
 * limit only adds candidates and never lowers the chosen quality. When nothing fits, the cheapest
 * plan: costs grow with layers and dims, so it is cheapest in every limit at once, and each limit
 * it misses is one no plan can meet. Throws InputError only for a budget of the wrong type.
 */
export function planBudget(model: PlanModel, cost: Pick<CostModel, 'latencyMs'>, budget: Budget = {}): Plan {
  const b = readBudget(budget);
  if (!model.exits.length || !model.dims.length) throw new InputError('the model lists no exits or no dims to plan over');
  const config = configOf(model);
  const { batch, seqLen } = workload(b, config, model.maxTokens);
  const indexVectors = Math.ceil(b.indexVectors ?? 0);
  const rows = model.quality?.rows ?? [];
  const quality = qualityEstimator(rows, model.exits, model.dims);

  const candidates: Candidate[] = model.exits.flatMap((layers) =>
    model.dims.map((dims) => ({
      layers,
      dims,
      latencyMs: cost.latencyMs(layers, batch, seqLen),
      memoryMB: memoryMB(layers, dims, batch, seqLen, config, model.quantization ?? F32, indexVectors),
      quality: quality(layers, dims),
    })),
  );
  // Adaptive depth loads every layer and costs, on average, its mean depth.
  const deepest = Math.max(...model.exits);
  for (const { quality: q, dims, ...adaptive } of adaptiveCells(
    model.exits,
    model.dims,
    config,
    model.quality?.adaptive,
    quality,
  )) {
    candidates.push({
      layers: deepest,
      dims,
      latencyMs: cost.latencyMs(adaptive.meanLayers, batch, seqLen),
      memoryMB: memoryMB(deepest, dims, batch, seqLen, config, model.quantization ?? F32, indexVectors),
      quality: q,
      adaptive,
    });
  }
  const misses = (c: Candidate) => b.limits.filter(([name, max]) => LIMITS[name].of(c) > max);
  const fitting = candidates.filter((c) => misses(c).length === 0);
  const fits = fitting.length > 0;
  const better = (a: Candidate, b: Candidate) => {
    const q = compareQuality(a.quality, b.quality);
    return q > 0 || (q === 0 && cheaper(a, b));
  };
  const chosen = fits
    ? fitting.reduce((best, c) => (better(c, best) ? c : best))
    : candidates.reduce((best, c) => (cheaper(c, best) ? c : best));

  const a = chosen.adaptive;
  const shape = a
    ? `adaptive depth (tolerance ${a.tolerance}, ${fmt(a.meanLayers)} of ${chosen.layers} layers on average, ${
        a.measured ? 'measured on the dev sets' : 'assumed: no measurement in the model'
      }) × ${chosen.dims} dims`
    : `${chosen.layers} layer${chosen.layers === 1 ? '' : 's'} × ${chosen.dims} dims`;
  let reason: string;
  if (fits) {
    const within = b.limits.map(([name, max]) => `${fmt(LIMITS[name].of(chosen))} <= ${fmt(max)} ${LIMITS[name].unit}`);
    reason = `${shape}: the best quality ${qualityText(chosen.quality, rows.length > 0)} ${
      within.length ? `within the budget (${within.join(', ')})` : 'with no limits given'
    }`;
  } else {
    const over = misses(chosen).map(([name, max]) => {
      const value = LIMITS[name].of(chosen);
      const pct = max > 0 ? ` (${fmt((100 * (value - max)) / max)}%)` : '';
      return `${name} ${fmt(max)}: needs ${fmt(value)} ${LIMITS[name].unit}, ${fmt(value - max)} over${pct}`;
    });
    reason = `nothing fits; the cheapest plan is ${shape}, and no plan meets ${over.join('; ')}`;
  }
  if (b.unknown.length) reason += ` (ignored unknown budget fields: ${b.unknown.join(', ')})`;
  return {
    layers: chosen.layers,
    dims: chosen.dims,
    ...(a ? { adaptive: a } : {}),
    fits,
    predicted: { latencyMs: chosen.latencyMs, memoryMB: chosen.memoryMB, quality: chosen.quality.score },
    reason,
  };
}

/**
 * The call a budget describes, as planBudget plans for it: `batch` texts of `seqLen` tokens. A
 * caller choosing a backend per call size asks this first. Throws InputError like planBudget.
 */
export function planWorkload(
  model: Pick<PlanModel, 'config' | 'maxTokens'>,
  budget: Budget = {},
): { batch: number; seqLen: number } {
  return workload(readBudget(budget), configOf(model), model.maxTokens);
}

const configOf = (model: Pick<PlanModel, 'config'>): EncoderConfig =>
  'hiddenSize' in model.config ? (model.config as EncoderConfig) : parseHfConfig(model.config);

function workload(b: ReadBudget, config: EncoderConfig, packMaxTokens: number | undefined) {
  const maxTokens = Math.min(config.maxTokens, packMaxTokens ?? config.maxTokens);
  const seqLen = Math.min(maxTokens, Math.max(1, Math.ceil(b.typicalTokens ?? DEFAULT_TOKENS)));
  return { batch: Math.max(1, Math.ceil(b.batch ?? 1)), seqLen };
}

function cheaper(a: Candidate, b: Candidate): boolean {
  return (a.latencyMs - b.latencyMs || a.memoryMB - b.memoryMB || a.layers - b.layers || a.dims - b.dims) < 0;
}

function qualityText(q: QualityEstimate, hasTable: boolean): string {
  const s = q.score === null ? '' : fmt(q.score);
  switch (q.source) {
    case 'table':
      return `(score ${s})`;
    case 'interpolated':
      return `(score ~${s}, interpolated from neighbouring cells of the quality table)`;
    case 'bound':
      return `(score >= ${s}: not in the quality table, bounded by a smaller measured cell)`;
    case 'proxy':
      return `(${hasTable ? 'no nearby cell in the quality table' : 'no quality table'}: ranked by a proxy, more layers and dims = better)`;
  }
}

function fmt(n: number): string {
  return Math.abs(n) >= 100 || Number.isInteger(n) ? n.toFixed(0) : n.toPrecision(3);
}

interface ReadBudget {
  limits: [Limit, number][];
  typicalTokens?: number;
  batch?: number;
  indexVectors?: number;
  unknown: string[];
}

/** Type checks only: zero, huge or fractional values are legal and planned as given (or rounded up). */
function readBudget(budget: unknown): ReadBudget {
  if (typeof budget !== 'object' || budget === null || Array.isArray(budget)) {
    throw new InputError(`the budget must be an object, got ${budget === null ? 'null' : typeof budget}`);
  }
  const raw = budget as Record<string, unknown>;
  const out: ReadBudget = { limits: [], unknown: [] };
  for (const [key, v] of Object.entries(raw)) {
    if (v === undefined) continue;
    const isLimit = key in LIMITS;
    const isWorkload = (WORKLOAD as readonly string[]).includes(key);
    if (!isLimit && !isWorkload) {
      out.unknown.push(key);
      continue;
    }
    // A limit may be Infinity (no limit); a workload size must be a real count.
    if (typeof v !== 'number' || Number.isNaN(v) || v < 0 || (isWorkload && !Number.isFinite(v))) {
      throw new InputError(`budget.${key} must be a ${isLimit ? '' : 'finite '}number >= 0, got ${String(v)}`);
    }
    if (isLimit) out.limits.push([key as Limit, v]);
    else out[key as (typeof WORKLOAD)[number]] = v;
  }
  return out;
}
