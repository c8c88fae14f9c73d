import { InputError } from '../errors.js';
import type { GpuAdapterSummary } from '../gpu/device.js';
import type { BackendKind, EncoderBackend } from '../model/encoder.js';

/** Which device a probe describes: the shape of a ManagedBackend's `info`. */
export interface ProbeTarget {
  kind: BackendKind;
  adapter: GpuAdapterSummary | null;
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
  version: 1;
  /** probeCacheKey(target): which adapter and backend the timings belong to. */
  key: string;
  kind: BackendKind;
  adapter: GpuAdapterSummary | null;
  /** Every shape at depth 1, and again at depth 2 when the backend has two layers loaded. */
  measured: ProbePoint[];
  /** Date.now() when measured. */
  createdAt: number;
}

export interface ProbeOptions {
  /** A short and a long text length in tokens; default 16 and 128 (capped by the model's maxTokens). */
  seqLens?: [number, number];
  /** Timed runs per shape (the median is kept); default 3, or 1 on a device where one call is slow. */
  repeats?: number;
}

const DEFAULT_SEQ_LENS: [number, number] = [16, 128];
const DEFAULT_REPEATS = 3;
/** Texts in the batched shape: enough to see how cost grows with batch, small enough to stay fast. */
const PROBE_BATCH = 8;
/**
 * When the warm-up call alone takes this long (the CPU backend, a large model), one run per shape
 * is already well above timer noise, and three would make the probe take many seconds.
 */
const SLOW_CALL_MS = 250;

/**
 * Which generation of kernels a probe timed. Bumped when a kernel change moves speed, so that
 * stored probes of older kernels are measured again instead of steering plans for 30 days
 * (2: subgroup reads on CPU adapters, 2-3x faster there).
 */
const KERNELS_REVISION = 2;

/** Cache key for a device: the kernels, the backend kind and everything the adapter says about itself. */
export function probeCacheKey(target: ProbeTarget): string {
  const a = target.adapter;
  const device = a ? `${target.kind}:${[a.vendor, a.architecture, a.device, a.description].join('/')}` : target.kind;
  return `k${KERNELS_REVISION}|${device}`;
}

/**
 * Times one-layer forwards (and two-layer ones, whose difference separates the per-layer cost from
 * the fixed cost of embedding, upload, pooling and readback) at a short and a long text length,
 * for one text and for a batch of PROBE_BATCH long texts. One warm-up call at the largest shape
 * first, so buffer growth is not timed; repeats are interleaved across shapes so a slow spell of
 * the machine spreads over all of them instead of skewing one. 19 calls in all; on a hardware GPU,
 * where one call of these sizes is a few ms, that stays well under the ~2 s a page can spare.
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

  const shapes = [
    { batch: 1, seqLen: short },
    { batch: 1, seqLen: long },
    { batch: PROBE_BATCH, seqLen: long },
  ];
  const depths = backend.loadedLayers >= 2 ? [1, 2] : [1];
  const cases = depths.flatMap((layers) =>
    shapes.map((s) => ({ layers, ...s, tokens: probeTokens(s.batch, s.seqLen, vocabSize) })),
  );
  const time = async (c: (typeof cases)[number]): Promise<number> => {
    const start = performance.now();
    await backend.embed(c.tokens, { layers: c.layers, dims: hiddenSize, pooling: 'mean', normalize: false });
    return performance.now() - start;
  };

  const warmUp = await time(cases[cases.length - 1] as (typeof cases)[number]);
  const runs = options.repeats === undefined && warmUp > SLOW_CALL_MS ? 1 : repeats;
  const times = cases.map((): number[] => []);
  for (let r = 0; r < runs; r++) {
    for (const [i, c] of cases.entries()) (times[i] as number[]).push(await time(c));
  }
  return {
    version: 1,
    key: probeCacheKey(target),
    kind: target.kind,
    adapter: target.adapter,
    measured: cases.map((c, i) => ({ layers: c.layers, batch: c.batch, seqLen: c.seqLen, ms: median(times[i] as number[]) })),
    createdAt: Date.now(),
  };
}

function defaultSeqLens(maxTokens: number): [number, number] {
  const long = Math.min(DEFAULT_SEQ_LENS[1], maxTokens);
  return [Math.max(1, Math.min(DEFAULT_SEQ_LENS[0], Math.floor(long / 2))), long];
}

/** Deterministic ids spread over the vocabulary: the forward's cost does not depend on which ids. */
function probeTokens(batch: number, seqLen: number, vocabSize: number): Uint32Array[] {
  return Array.from({ length: batch }, (_, b) =>
    Uint32Array.from({ length: seqLen }, (_, j) => ((b * seqLen + j) * 7919 + 13) % vocabSize),
  );
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}
