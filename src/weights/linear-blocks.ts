import { dequantizeLinear, rowStart } from './quantize.js';
import { type Linear, Q4_GROUP } from './weights.js';

/**
 * Blocks of a stacked Linear, each a Linear of its own, with a zero bias: a mixture of experts'
 * per-expert projections cut from the [E I, H] and [H, E I] matrices its layer stores
 * (BertLayer.router), for the paths that run each expert over its own tokens.
 */

/** Rows [from, from + n), sharing the matrix's storage. */
export function rowBlock(l: Linear, from: number, n: number): Linear {
  const a = rowStart(l.quant, l.cols, from);
  const b = rowStart(l.quant, l.cols, from + n);
  return {
    quant: l.quant,
    rows: n,
    cols: l.cols,
    data: l.data.subarray(a.byte, b.byte),
    ...(l.scales ? { scales: l.scales.subarray(a.scale, b.scale) } : {}),
    bias: new Float32Array(n),
  };
}

const BYTES = { f32: 4, f16: 2, q8: 1 } as const;

/**
 * Columns [from, from + n) of every row, copied in the matrix's format where that is exact (a q8
 * row's scale covers all its columns; q4's groups of 32 stay whole when the block starts and ends
 * on a group), else decoded to f32.
 */
export function columnBlock(l: Linear, from: number, n: number): Linear {
  const bias = new Float32Array(l.rows);
  if (l.quant !== 'q4') {
    const size = BYTES[l.quant];
    const data = new Uint8Array(l.rows * n * size);
    for (let r = 0; r < l.rows; r++) {
      const start = (r * l.cols + from) * size;
      data.set(l.data.subarray(start, start + n * size), r * n * size);
    }
    return { quant: l.quant, rows: l.rows, cols: n, data, ...(l.scales ? { scales: l.scales } : {}), bias };
  }
  if (columnBlockQuant(l, from, n) === 'q4') {
    const groups = Math.ceil(l.cols / Q4_GROUP);
    const data = new Uint8Array((l.rows * n) / 2);
    const scales = new Float32Array((l.rows * n) / Q4_GROUP);
    const all = l.scales as Float32Array;
    for (let r = 0; r < l.rows; r++) {
      const start = rowStart('q4', l.cols, r).byte + from / 2;
      data.set(l.data.subarray(start, start + n / 2), (r * n) / 2);
      scales.set(all.subarray(r * groups + from / Q4_GROUP, r * groups + (from + n) / Q4_GROUP), (r * n) / Q4_GROUP);
    }
    return { quant: 'q4', rows: l.rows, cols: n, data, scales, bias };
  }
  const all = dequantizeLinear(l);
  const w = new Float32Array(l.rows * n);
  for (let r = 0; r < l.rows; r++) w.set(all.subarray(r * l.cols + from, r * l.cols + from + n), r * n);
  return { quant: 'f32', rows: l.rows, cols: n, data: new Uint8Array(w.buffer), bias };
}

/** The format columnBlock keeps for columns [from, from + n) of `l`. */
export const columnBlockQuant = (l: Linear, from: number, n: number): Linear['quant'] =>
  l.quant === 'q4' && (from % Q4_GROUP !== 0 || n % Q4_GROUP !== 0) ? 'f32' : l.quant;

/** Expert e's two projections out of a layer's stacked ones (E experts side by side). */
export function expertBlocks(ffnIn: Linear, ffnOut: Linear, experts: number): { up: Linear; down: Linear }[] {
  const I = ffnIn.rows / experts;
  return Array.from({ length: experts }, (_, e) => ({ up: rowBlock(ffnIn, e * I, I), down: columnBlock(ffnOut, e * I, I) }));
}
