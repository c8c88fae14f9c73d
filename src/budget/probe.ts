import { InputError } from '../errors.js';
import type { GpuAdapterSummary } from '../gpu/device.js';
import type { Elem } from '../gpu/resources.js';
import type { BackendKind, EncoderBackend } from '../model/encoder.js';
import { firstExit } from '../weights/config.js';

/** Which device a probe describes: the shape of a ManagedBackend's `info`. */
export interface ProbeTarget {
  kind: BackendKind;
  adapter: GpuAdapterSummary | null;
  /** WebGPU's activation element type (absent or null: f32, the only one before f16 existed). */
  activations?: Elem | null;
}

/** One timed shape: the median wall-clock time of `backend.embed` for `batch` texts of `seqLen` tokens. */
export interface ProbePoint {
  layers: number;
  batch: number;
  seqLen: number;
  ms: number;
}

/**
 * Raw timings of one device and model shape. Only measurements are stored (no fitted numbers), so
 * a cached probe stays usable when the cost model in cost.ts changes.
 */
export interface DeviceProbe {
  /** 2: `stoppedAt`, and probes of both backends for device 'auto' (probe-cache.ts). */
  version: 2;
  /** probeCacheKey(target): which adapter and backend the timings belong to. */
  key: string;
  kind: BackendKind;
  adapter: GpuAdapterSummary | null;
  /** Every shape at depth 1, and again at depth 2 when the backend has two layers loaded. */
  measured: ProbePoint[];
  /**
   * Set by probeAgainst when a call ran past the probe's time budget: the shape of that call, and
   * `ms`, how long it had run by then (the call took at least that long). Larger shapes were not run.
   */
  stoppedAt?: ProbePoint;
  /** Date.now() when measured. */
  createdAt: number;
}

export interface ProbeOptions {
  /** A short and a long text length in tokens; default 16 and 128 (capped by the model's maxTokens). */
  seqLens?: [number, number];
  /** Timed runs per shape (the median is kept); default 3, or 1 on a device where one call is slow. */
  repeats?: number;
  /**
   * Wall-clock ms the probe should end within, warm-up included; without it, `repeats` runs of
   * every shape (one where the warm-up alone is slow). The warm-up (at one layer) and one run of
   * every shape always happen; past them a shape runs again only if its last call, run once more,
   * would end within the budget, or is a small call (SMALL_CALL_SHARE of the budget at most).
   */
  budgetMs?: number;
}

const DEFAULT_SEQ_LENS: [number, number] = [16, 128];
const DEFAULT_REPEATS = 3;
/** Texts in the batched shape: enough to see how cost grows with batch, small enough to stay fast. */
const PROBE_BATCH = 8;

/** The probe's batched shape: PROBE_BATCH texts of its long length. */
export function probeBatchShape(maxTokens: number): { batch: number; seqLen: number } {
  return { batch: PROBE_BATCH, seqLen: defaultSeqLens(maxTokens)[1] };
}
/**
 * When the warm-up call alone takes this long (the CPU backend, a large model), one run per shape
 * is already well above timer noise, and three would make the probe take many seconds.
 */
export const SLOW_CALL_MS = 250;
/**
 * Under a budget, calls this small a part of it are repeated whatever the budget says: they cost
 * little, and are the noisiest (a millisecond of descheduling doubles a one-text call at one
 * layer, and the fit extrapolates that to every layer), while a batch's long call averages it out.
 */
const SMALL_CALL_SHARE = 1 / 32;

/**
 * Which generation of kernels a probe timed. Bumped when a kernel change moves speed, so that
 * stored probes of older kernels are measured again instead of steering plans for 30 days
 * (2: subgroup reads on CPU adapters, 2-3x faster there).
 */
const KERNELS_REVISION = 2;

/**
 * Cache key for a device: the kernels, the backend kind, everything the adapter says about itself,
 * and f16 activations where WebGPU runs them (f32 adds nothing, so probes stored before f16
 * existed keep their key).
 */
export function probeCacheKey(target: ProbeTarget): string {
  const a = target.adapter;
  const device = a ? `${target.kind}:${[a.vendor, a.architecture, a.device, a.description].join('/')}` : target.kind;
  return `k${KERNELS_REVISION}|${device}${target.activations === 'f16' ? '|f16' : ''}`;
}

/**
 * Times one-layer forwards (and two-layer ones, whose difference separates the per-layer cost from
 * the fixed cost of embedding, upload, pooling and readback) at a short and a long text length,
 * for one text and for a batch of PROBE_BATCH long texts. One warm-up call at the largest shape
 * first, so buffer growth is not timed; repeats are interleaved across shapes so a slow spell of
 * the machine spreads over all of them instead of skewing one. 19 calls in all (fewer under
 * `budgetMs`); on a hardware GPU, where one call of these sizes is a few ms, that stays well under
 * the ~2 s a page can spare.
 */
export async function probeDevice(
  backend: EncoderBackend,
  target: ProbeTarget,
  options: ProbeOptions = {},
): Promise<DeviceProbe> {
  const { hiddenSize, maxTokens, vocabSize } = backend.config;
  const [short, long] = options.seqLens ?? defaultSeqLens(maxTokens);
  if (!Number.isInteger(short) || !Number.isInteger(long) || short < 1 || long <= short || long > maxTokens) {
    throw new InputError(`seqLens must be two integers 1 <= short < long <= ${maxTokens}, got [${short}, ${long}]`);
  }
  const repeats = options.repeats ?? DEFAULT_REPEATS;
  if (!Number.isInteger(repeats) || repeats < 1) throw new InputError(`repeats must be a positive integer, got ${repeats}`);
  const budget = options.budgetMs;
  if (budget !== undefined && !(budget >= 0)) throw new InputError(`budgetMs must be a number >= 0, got ${budget}`);

  const shapes = [
    { batch: 1, seqLen: short },
    { batch: 1, seqLen: long },
    { batch: PROBE_BATCH, seqLen: long },
  ];
  const depths = backend.loadedLayers >= 2 ? [1, 2] : [firstExit(backend.loadedLayers)];
  const cases = depths.flatMap((layers) =>
    shapes.map((s) => ({ layers, ...s, tokens: probeTokens(s.batch, s.seqLen, vocabSize) })),
  );
  const time = async (c: (typeof cases)[number]): Promise<number> => {
    const start = performance.now();
    await backend.embed(c.tokens, { layers: c.layers, dims: hiddenSize, pooling: 'mean', normalize: false });
    return performance.now() - start;
  };

  const start = performance.now();
  // Under a budget, the largest shape at one layer: it grows every buffer the deeper call would
  // (layers reuse them) in about half the time.
  const warmUp = await time(cases[budget === undefined ? cases.length - 1 : shapes.length - 1] as (typeof cases)[number]);
  const runs = options.repeats === undefined && budget === undefined && warmUp > SLOW_CALL_MS ? 1 : repeats;
  const again = (last: number) =>
    budget === undefined || performance.now() - start + last <= budget || last <= budget * SMALL_CALL_SHARE;
  const times = cases.map((): number[] => []);
  for (let r = 0; r < runs; r++) {
    for (const [i, c] of cases.entries()) {
      const t = times[i] as number[];
      if (r === 0 || again(t[t.length - 1] as number)) t.push(await time(c));
    }
  }
  return record(
    target,
    cases.map((c, i) => ({ layers: c.layers, batch: c.batch, seqLen: c.seqLen, ms: median(times[i] as number[]) })),
  );
}

/** A probe of a second backend, bounded in time, and the call still running when it stopped. */
export interface BoundedProbe {
  probe: DeviceProbe;
  /** Settles when the backend is idle again: await it before using or disposing the backend. */
  settled: Promise<void>;
}

/**
 * When one call of a shape takes this many times the reference's time there, the backend loses
 * that shape by far more than timer noise, so that first call is kept and no repeats are run.
 */
const CLEAR_LOSS = 4;

/**
 * Times `backend` at the shapes `reference` (the other backend's probeDevice) measured, to tell
 * which of the two is faster, within `budgetMs` of wall-clock time. On a software WebGPU adapter
 * one batched call alone can take seconds, so the shapes run smallest first (one untimed warm-up
 * call at the smallest, for first-use costs), and a call still running when the budget is spent
 * ends the probe there: `stoppedAt` records it as a lower bound, and the call is left to finish
 * (`settled`) instead of being waited for. A shape that the first call shows lost by CLEAR_LOSS
 * or more keeps that one time; the others keep the median of `repeats` more calls (the first
 * call at a shape, which grows buffers, is not among them).
 */
export async function probeAgainst(
  backend: EncoderBackend,
  target: ProbeTarget,
  reference: DeviceProbe,
  budgetMs: number,
  repeats = DEFAULT_REPEATS,
): Promise<BoundedProbe> {
  const { hiddenSize, vocabSize } = backend.config;
  const cases = [...reference.measured]
    .filter((p) => p.layers <= backend.loadedLayers)
    .sort((a, b) => a.batch * a.seqLen - b.batch * b.seqLen || a.layers - b.layers);
  const deadline = performance.now() + budgetMs;
  let settled: Promise<void> = Promise.resolve();
  /** The call's ms, and whether it finished within the budget (else: how long it had run when given up). */
  const time = async (c: ProbePoint): Promise<{ ms: number; within: boolean }> => {
    const start = performance.now();
    const left = deadline - start;
    if (left <= 0) return { ms: 0, within: false };
    const call = backend.embed(probeTokens(c.batch, c.seqLen, vocabSize), {
      layers: c.layers,
      dims: hiddenSize,
      pooling: 'mean',
      normalize: false,
    });
    settled = call.then(
      () => undefined,
      () => undefined,
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), left);
    });
    // Which promise won, not the clock, says whether the call finished: browsers coarsen
    // performance.now() (100 µs steps with jitter), so a call cut off a few µs before the deadline
    // can read as 0 ms and within it, and such a 0 ms once sent queries to SwiftShader.
    const finished = await Promise.race([call.then(() => true), expired]);
    clearTimeout(timer);
    const ms = performance.now() - start;
    // A cut-off call ran `left` ms at least, whatever the coarse clock read.
    return finished ? { ms, within: ms <= left } : { ms: Math.max(ms, left), within: false };
  };

  const measured: ProbePoint[] = [];
  const stopped = (c: ProbePoint, ms: number): BoundedProbe => ({
    probe: record(target, measured, { ...shapeOf(c), ms }),
    settled,
  });
  const first = cases[0];
  if (first !== undefined) {
    const warmUp = await time(first);
    if (!warmUp.within) return stopped(first, warmUp.ms);
  }
  for (const c of cases) {
    const scout = await time(c);
    if (!scout.within) return stopped(c, scout.ms);
    if (scout.ms >= CLEAR_LOSS * c.ms) {
      measured.push({ ...shapeOf(c), ms: scout.ms });
      continue;
    }
    const runs: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const run = await time(c);
      if (!run.within) return stopped(c, run.ms);
      runs.push(run.ms);
    }
    measured.push({ ...shapeOf(c), ms: median(runs) });
  }
  return { probe: record(target, measured), settled };
}

const shapeOf = (p: ProbePoint) => ({ layers: p.layers, batch: p.batch, seqLen: p.seqLen });

function record(target: ProbeTarget, measured: ProbePoint[], stoppedAt?: ProbePoint): DeviceProbe {
  return {
    version: 2,
    key: probeCacheKey(target),
    kind: target.kind,
    adapter: target.adapter,
    measured,
    ...(stoppedAt ? { stoppedAt } : {}),
    createdAt: Date.now(),
  };
}

function defaultSeqLens(maxTokens: number): [number, number] {
  const long = Math.min(DEFAULT_SEQ_LENS[1], maxTokens);
  return [Math.max(1, Math.min(DEFAULT_SEQ_LENS[0], Math.floor(long / 2))), long];
}

/** Deterministic ids spread over the vocabulary: the forward's cost does not depend on which ids. */
export function probeTokens(batch: number, seqLen: number, vocabSize: number): Uint32Array[] {
  return Array.from({ length: batch }, (_, b) =>
    Uint32Array.from({ length: seqLen }, (_, j) => ((b * seqLen + j) * 7919 + 13) % vocabSize),
  );
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/**
 * The whole first-visit probe of device 'auto', in wall-clock ms: the CPU's probe within all but
 * MIN_AGAINST_MS of it (every shape once, repeats as the budget allows), then WebGPU's
 * probeAgainst in what is left (at least MIN_AGAINST_MS). A software adapter then costs the page
 * under a second once, unless the machine is busy enough to slow the CPU's first round past its
 * share; a hardware GPU finishes long before.
 */
const BOTH_BUDGET_MS = 800;
const MIN_AGAINST_MS = 200;

/** Probes the CPU backend, then `gpu` against it within the budget left: what device 'auto' decides by. */
export async function probeBoth(
  cpu: EncoderBackend,
  gpu: { backend: EncoderBackend; target: ProbeTarget },
): Promise<{ cpu: DeviceProbe; webgpu: BoundedProbe }> {
  const start = performance.now();
  const cpuProbe = await probeDevice(cpu, { kind: 'cpu', adapter: null }, { budgetMs: BOTH_BUDGET_MS - MIN_AGAINST_MS });
  const left = Math.max(MIN_AGAINST_MS, BOTH_BUDGET_MS - (performance.now() - start));
  return { cpu: cpuProbe, webgpu: await probeAgainst(gpu.backend, gpu.target, cpuProbe, left) };
}
