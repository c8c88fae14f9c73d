import { ModelFormatError } from '../errors.js';
import type { RelativeAttentionSpec } from '../weights/encoder-config.js';
import type { BertWeights, DecoderWeights } from '../weights/weights.js';

/**
 * T5's bucket of the signed distance `distance` = j - i from query i to key j, as MPNetEncoder
 * computes it: half the buckets for keys after the query; within a half, distances below a
 * quarter of the buckets each get their own, longer ones share logarithmically wider buckets up to
 * maxDistance, and the last bucket of the half takes everything beyond. The logarithm runs in
 * float32 and truncates as torch's does (float32 tensors), so buckets at the boundaries match.
 */
export function relativeBucket(
  distance: number,
  { buckets, maxDistance }: Pick<RelativeAttentionSpec, 'buckets' | 'maxDistance'>,
): number {
  const half = buckets / 2;
  const base = distance > 0 ? half : 0;
  const n = Math.abs(distance);
  const exact = half / 2;
  if (n < exact) return base + n;
  const f = Math.fround;
  const scaled = f(f(Math.log(f(n / exact))) / f(Math.log(maxDistance / exact))) * (half - exact);
  return base + Math.min(exact + Math.trunc(scaled), half - 1);
}

/**
 * MPNet's or T5's relative bias laid out for the attention kernels: head h's bias for distance d = j - i
 * at [h * (2 reach + 1) + reach + d], d clamped to +-reach. Every distance past maxDistance falls
 * in the last bucket of its sign, so reach = maxDistance covers any length.
 */
export function relativeBiasTable(
  weights: Float32Array,
  heads: number,
  spec: RelativeAttentionSpec,
): { table: Float32Array; reach: number } {
  const reach = spec.maxDistance;
  const width = 2 * reach + 1;
  const table = new Float32Array(heads * width);
  for (let d = -reach; d <= reach; d++) {
    const row = relativeBucket(d, spec) * heads;
    for (let h = 0; h < heads; h++) table[h * width + reach + d] = weights[row + h] as number;
  }
  return { table, reach };
}

/** The kernels' relative bias table of an MPNet or T5 model (see relativeBiasTable); null for every other model. */
export function modelRelativeBias(
  weights: Pick<BertWeights | DecoderWeights, 'config' | 'relativeBias'>,
): { table: Float32Array; reach: number } | null {
  const spec = weights.config.relativeAttention;
  if (!spec) return null;
  if (!weights.relativeBias)
    throw new ModelFormatError(`${weights.config.modelType} weights without their relative_attention_bias`);
  return relativeBiasTable(weights.relativeBias, weights.config.numHeads, spec);
}
