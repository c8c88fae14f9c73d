/** The shape and mask of one grouped-query attention call. */
export interface AttentionShape {
  heads: number;
  /** Query head h reads key/value head floor(h / (heads / kvHeads)). */
  kvHeads: number;
  d: number;
  windowHalf: number;
  /** Queries see only keys at or before them. */
  causal: boolean;
  scale: number;
  /** ALiBi: head h's scores get -alibi[h] |i - j| (model/alibi.ts); absent: none. */
  alibi?: Float32Array;
  /** MPNet, T5: head h's scores get table[h (2 reach + 1) + reach + clamp(j - i, +-reach)] (model/relative-bias.ts). */
  relative?: { table: Float32Array; reach: number };
}
