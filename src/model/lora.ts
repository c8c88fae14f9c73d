import type { LoraPair } from '../weights/weights.js';

/**
 * Task adapters on the CPU (config.lora): the low-rank part of W + B A is applied on its own,
 * y += B (A x), rank-wide in between, so W runs as it was quantized. The GPU's twin is lora.wgsl;
 * the embeddings' part is added as word rows are gathered (word-rows.ts).
 */

/** y[m, :] += up[task] (down[task] x[m, :]) over the M rows of x [M, cols] and y [M, rows]. */
export function addLowRank(x: Float32Array, y: Float32Array, M: number, pair: LoraPair, task: number, rank: number): void {
  const cols = x.length / M;
  const rows = y.length / M;
  const down = pair.down.subarray(task * rank * cols, (task + 1) * rank * cols);
  const up = pair.up.subarray(task * rows * rank, (task + 1) * rows * rank);
  const t = new Float64Array(rank);
  for (let m = 0; m < M; m++) {
    for (let k = 0; k < rank; k++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += (down[k * cols + c] as number) * (x[m * cols + c] as number);
      t[k] = s;
    }
    for (let n = 0; n < rows; n++) {
      let s = 0;
      for (let k = 0; k < rank; k++) s += (up[n * rank + k] as number) * (t[k] as number);
      y[m * rows + n] = (y[m * rows + n] as number) + s;
    }
  }
}
