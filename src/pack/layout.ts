/** Tensors start on 16-byte boundaries so any typed-array view of them is aligned. */
export const TENSOR_ALIGN = 16;

export const alignUp = (n: number, to = TENSOR_ALIGN) => Math.ceil(n / to) * to;

export { matrixBytes, scaleCount } from '../weights/quantize.js';

/** Shard file names. One shard per layer lets a depth-L load fetch exactly L layer files. */
export const EMBEDDINGS_SHARD = 'embeddings.bin';
export const HEAD_SHARD = 'head.bin';
export const layerShardName = (from: number, to: number) =>
  to - from === 1
    ? `layer-${String(from).padStart(2, '0')}.bin`
    : `layers-${String(from).padStart(2, '0')}-${String(to - 1).padStart(2, '0')}.bin`;
