import type { Alloc } from '../weights/quantize.js';
import type { Quant } from '../weights/weights.js';
import type { TableReader } from './matrix.js';

/** How a checkpoint's tensors become weights, for every architecture's reader. */
export interface HfWeightOptions {
  /** Storage of the layer matrices (default f32). */
  quant?: Quant;
  /** Storage of the vocabulary table (default f32; packs store it like the layers). */
  embeddingQuant?: Quant;
  /** Read only the first `layers` transformer layers (default: all). */
  layers?: number;
  /** Where the quantized matrices' storage comes from (default: new buffers; a converter reuses one arena per shard). */
  alloc?: Alloc;
  /** How the vocabulary table is made (default readEmbeddingTable: read and quantized now). */
  table?: TableReader;
}
