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
  /**
   * DeBERTa: query i and key j also score q_i . Kr and k_j . Qr (c2p, p2c), scaled with q_i . k_j,
   * from row index[i - j + reach] of `rel`: the layer's query | key | value projections of the
   * relative embeddings, laid out as qkv rows (model/disentangled.ts).
   */
  disentangled?: { rel: Float32Array; index: Int32Array; reach: number; c2p: boolean; p2c: boolean };
}
