import type { EmbeddingAdapters, EncoderWeights, LoraPair } from '../weights/weights.js';

/**
 * Task adapters on the CPU (config.lora): the low-rank part of W + B A is applied on its own,
 * y += B (A x), rank-wide in between, so W runs as it was quantized. The GPU's twin is lora.wgsl.
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

/** The vocabulary rows of `ids` into `rows` [ids.length, H], with task `task`'s update where one runs. */
export function gatherWords(weights: EncoderWeights, ids: ArrayLike<number>, rows: Float32Array, task?: number): void {
  weights.word.gather(ids, rows);
  const adapters = weights.family === 'bert' ? weights.adapters : undefined;
  if (task !== undefined && adapters) addEmbeddingAdapter(adapters, ids, rows, task, weights.config.lora?.rank ?? 0);
}

/** Adds task `task`'s update (word and token-type rows) to word rows gathered for `ids` into `rows` [ids.length, H]. */
function addEmbeddingAdapter(
  adapters: EmbeddingAdapters,
  ids: ArrayLike<number>,
  rows: Float32Array,
  task: number,
  rank: number,
): void {
  const H = rows.length / ids.length;
  const vocab = adapters.down.length / ((adapters.tokenType.length / H) * rank);
  const up = adapters.up.subarray(task * rank * H, (task + 1) * rank * H);
  const typeRow = adapters.tokenType.subarray(task * H, (task + 1) * H);
  for (let i = 0; i < ids.length; i++) {
    const a = (task * vocab + (ids[i] as number)) * rank;
    for (let c = 0; c < H; c++) {
      let s = typeRow[c] as number;
      for (let k = 0; k < rank; k++) s += (adapters.down[a + k] as number) * (up[k * H + c] as number);
      rows[i * H + c] = (rows[i * H + c] as number) + s;
    }
  }
}
