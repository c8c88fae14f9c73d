import type { DisentangledSpec, EncoderConfig } from '../weights/encoder-config.js';
import type { BertWeights } from '../weights/weights.js';
import { layerNorm } from './cpu-ops.js';

/**
 * make_log_bucket_position (transformers' modeling_deberta_v2.py) for one distance d = i - j:
 * d itself below buckets / 2 each way, beyond it a logarithmic bucket up to maxPosition; the
 * logarithms and their ratio run in float32 and round up as torch's do, so boundaries match.
 * Without buckets, d.
 */
export function debertaBucket(d: number, { buckets, maxPosition }: Pick<DisentangledSpec, 'buckets' | 'maxPosition'>): number {
  if (buckets <= 0) return d;
  const mid = buckets / 2;
  const abs = d < mid && d > -mid ? mid - 1 : Math.abs(d);
  if (abs <= mid) return d;
  const f = Math.fround;
  const ratio = f(f(Math.log(f(abs / mid))) / f(Math.log(f((maxPosition - 1) / mid))));
  return Math.sign(d) * (Math.ceil(f(ratio * (mid - 1))) + mid);
}

/**
 * The relative-embedding row each distance d in [-reach, reach] reads, at [d + reach]:
 * clamp(bucket(d) + span, 0, 2 span - 1). Both the content -> position and position -> content
 * terms of query i and key j read row delta(i - j): p2c's gather of -bucket(j - i) is the same row,
 * the bucket being odd in d.
 */
export function relativeRows(spec: DisentangledSpec, reach: number): Int32Array {
  const rows = new Int32Array(2 * reach + 1);
  for (let d = -reach; d <= reach; d++) {
    rows[d + reach] = Math.min(2 * spec.span - 1, Math.max(0, debertaBucket(d, spec) + spec.span));
  }
  return rows;
}

/**
 * The rows a batch of `seqLen` tokens reads: distances run from -(seqLen - 1) to seqLen - 1 and
 * their rows rise with them, so one contiguous block [first, first + count) of the table.
 */
export function rowsForLength(rows: Int32Array, reach: number, seqLen: number): { first: number; count: number } {
  const first = rows[reach - (seqLen - 1)] as number;
  return { first, count: (rows[reach + seqLen - 1] as number) - first + 1 };
}

/**
 * The relative rows as every layer reads them, [2 span, H]: through encoder.LayerNorm where the
 * model has it (a copy; the weights keep the checkpoint's tensors). Once per backend.
 */
export function relativeEmbeddings(weights: Pick<BertWeights, 'relEmbeddings'>, config: EncoderConfig): Float32Array {
  const rel = weights.relEmbeddings;
  if (!rel) throw new Error('DeBERTa weights without their relative embeddings');
  const table = rel.table.slice();
  if (rel.norm) layerNorm(table, null, rel.norm, config.hiddenSize, config.layerNormEps);
  return table;
}

/** 1 / sqrt(head_dim x (1 + the relative terms)): DeBERTa's scale of all three score terms. */
export const disentangledScale = (spec: DisentangledSpec, headDim: number): number =>
  1 / Math.sqrt(headDim * (1 + Number(spec.c2p) + Number(spec.p2c)));
