import type { Quant } from '../weights/weights.js';

/** How a checkpoint's tensors become weights, for every architecture's reader. */
export interface HfWeightOptions {
  /** Storage of the layer matrices (default f32). */
  quant?: Quant;
  /** Storage of the vocabulary table (default f32; packs store it like the layers). */
  embeddingQuant?: Quant;
  /** Read only the first `layers` transformer layers (default: all). */
  layers?: number;
}
