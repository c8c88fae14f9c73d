import { Q4_GROUP, type Quant } from '../weights/weights.js';

/** Tensors start on 16-byte boundaries so any typed-array view of them is aligned. */
export const TENSOR_ALIGN = 16;

export const alignUp = (n: number, to = TENSOR_ALIGN) => Math.ceil(n / to) * to;

/** Bytes a [rows, cols] matrix takes in `dtype`, padded to whole u32 words as the GPU reads it. */
export function matrixBytes(dtype: Quant, rows: number, cols: number): number {
  switch (dtype) {
    case 'f32':
      return rows * cols * 4;
    case 'f16':
      return alignUp(rows * cols * 2, 4);
    case 'q8':
      return alignUp(rows * cols, 4);
    case 'q4':
      return alignUp(rows * Math.ceil(cols / Q4_GROUP) * (Q4_GROUP / 2), 4);
  }
}

/** Number of f32 scales a quantized [rows, cols] matrix carries (0 for f32 / f16). */
export function scaleCount(dtype: Quant, rows: number, cols: number): number {
  if (dtype === 'q8') return rows;
  if (dtype === 'q4') return rows * Math.ceil(cols / Q4_GROUP);
  return 0;
}

/** Shard file names. One shard per layer lets a depth-L load fetch exactly L layer files. */
export const EMBEDDINGS_SHARD = 'embeddings.bin';
export const HEAD_SHARD = 'head.bin';
export const layerShardName = (from: number, to: number) =>
  to - from === 1
    ? `layer-${String(from).padStart(2, '0')}.bin`
    : `layers-${String(from).padStart(2, '0')}-${String(to - 1).padStart(2, '0')}.bin`;
