import type { GpuAdapterSummary } from '../gpu/device.js';
import type { Elem } from '../gpu/resources.js';
import type { EncoderBackend } from '../model/encoder.js';
import { probeBatchShape, probeCacheKey, probeTokens, SLOW_CALL_MS } from './probe.js';
import { significant } from './significant.js';

/**
 * f16 activations are kept only where they take at most this share of f32's time: a smaller gain
 * is within the noise of two timed calls, and not worth f16's coarser rounding.
 */
export const F16_MARGIN = 0.95;

/** Timings of one adapter with f32 and with f16 activations, which decide device 'auto''s activations there. */
export interface ActivationsProbe {
  version: 1;
  /** probeCacheKey of the adapter: which kernels and adapter the timings belong to. */
  key: string;
  /** The shape both were timed at: the probe's batch (probeBatchShape) at one layer. */
  layers: number;
  batch: number;
  seqLen: number;
  /**
   * The faster of two timed calls of each; f16 null when it was not timed because one f32 call
   * alone took over SLOW_CALL_MS (a software adapter or a large model), where the probe would
   * cost the page seconds.
   */
  ms: { f32: number; f16: number | null };
  /** Date.now() when measured. */
  createdAt: number;
}

/** The element type `probe` picks: f16 where it ran in F16_MARGIN of f32's time or less. */
export function activationsOf(probe: Pick<ActivationsProbe, 'ms'>): Elem {
  const { f32, f16 } = probe.ms;
  return f16 !== null && f16 <= F16_MARGIN * f32 ? 'f16' : 'f32';
}

/** Why `probe` picked what it did, in a sentence for EncoderInfo. */
export function activationsReason(probe: ActivationsProbe): string {
  const { f32, f16 } = probe.ms;
  const at = `${probe.batch}×${probe.seqLen} tokens, ${probe.layers} layer${probe.layers === 1 ? '' : 's'}`;
  if (f16 === null) {
    return `f16 was not timed: one f32 call at ${at} took ${f32.toFixed(0)} ms, over the ${SLOW_CALL_MS} ms the probe spends on one`;
  }
  const times = `${at} (f16 ${significant(f16, 3)} ms, f32 ${significant(f32, 3)} ms)`;
  const ratio = `${(f16 / f32).toFixed(2)}x the f32 time`;
  return activationsOf(probe) === 'f16'
    ? `measured ${ratio} at ${times}`
    : `f16 measured ${ratio} at ${times}, not ${Math.round((1 - F16_MARGIN) * 100)}% faster`;
}

/**
 * Times backends of one layer with f32 and with f16 activations (made by `make`, and disposed
 * here) at the probe's batch shape: one untimed warm-up call each (pipelines, buffer growth), then
 * two timed calls each, interleaved so a slow spell of the machine does not fall on one type alone.
 * The f16 backend is not made where one f32 call is already slow (ActivationsProbe.ms).
 */
export async function probeActivations(
  make: (activations: Elem) => Promise<EncoderBackend>,
  adapter: GpuAdapterSummary,
): Promise<ActivationsProbe> {
  const f32 = await make('f32');
  try {
    const { maxTokens, vocabSize, hiddenSize } = f32.config;
    const { batch, seqLen } = probeBatchShape(maxTokens);
    const tokens = probeTokens(batch, seqLen, vocabSize);
    const time = async (backend: EncoderBackend): Promise<number> => {
      const start = performance.now();
      await backend.embed(tokens, { layers: 1, dims: hiddenSize, pooling: 'mean', normalize: false });
      return performance.now() - start;
    };
    const probe = (ms: ActivationsProbe['ms']): ActivationsProbe => ({
      version: 1,
      key: probeCacheKey({ kind: 'webgpu', adapter }),
      layers: 1,
      batch,
      seqLen,
      ms,
      createdAt: Date.now(),
    });
    await time(f32);
    const f32First = await time(f32);
    if (f32First > SLOW_CALL_MS) return probe({ f32: f32First, f16: null });
    const f16 = await make('f16');
    try {
      await time(f16);
      const f16First = await time(f16);
      const f32Second = await time(f32);
      const f16Second = await time(f16);
      // The faster call of each: being descheduled only ever adds time.
      return probe({ f32: Math.min(f32First, f32Second), f16: Math.min(f16First, f16Second) });
    } finally {
      f16.dispose();
    }
  } finally {
    f32.dispose();
  }
}
