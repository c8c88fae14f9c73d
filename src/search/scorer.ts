import type { Ranked } from './topk.js';

/** Scores stored rows against a query; the CPU and WebGPU implementations give the same ranking. */
export interface Scorer {
  readonly kind: 'webgpu' | 'cpu';
  /**
   * The k best rows among those whose bit is set in `mask` (bit r % 32 of word r / 32; null for
   * every row, which spares the kernels a load per row), scored on
   * the first `width` dims: a cosine for f32 / int8 (the dequantised vector, normalised by its
   * prefix norm when width < stored dims), 1 - 2 hamming / width for binary.
   */
  top(query: Uint32Array, width: number, k: number, mask: Uint32Array | null): Promise<Ranked>;
  /** Every row's score (MASKED_SCORE outside the mask), indexed by row. */
  scoreAll(query: Uint32Array, width: number, mask: Uint32Array | null): Promise<Float32Array>;
  dispose(): void;
}
