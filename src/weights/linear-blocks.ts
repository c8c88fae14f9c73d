import { rowStart } from './quantize.js';
import type { Linear } from './weights.js';

/** Rows [from, from + n) of a Linear as a Linear of its own, sharing its storage, with a zero bias. */
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

/**
 * Expert e's two projections out of a mixture of experts' stacked ones (BertLayer.experts): rows
 * [e I, (e + 1) I) of ffnIn [E I, H] and [e H, (e + 1) H) of ffnOut [E H, I], storage shared.
 */
export function expertBlocks(ffnIn: Linear, ffnOut: Linear, experts: number): { up: Linear; down: Linear }[] {
  const I = ffnIn.rows / experts;
  const H = ffnOut.rows / experts;
  return Array.from({ length: experts }, (_, e) => ({ up: rowBlock(ffnIn, e * I, I), down: rowBlock(ffnOut, e * H, H) }));
}
