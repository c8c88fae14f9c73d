import type { ExitJudge } from './adaptive.js';
import { selectRows, type TokenBatch } from './batch.js';
import type { CpuStepper } from './cpu-ops.js';

/**
 * Runs one batch through `stepper` a layer at a time up to the last of `exits`; at each exit the
 * judge hears every running text, and the rows of the texts that left are cut out of the stream,
 * so the next layer runs over the rest only. `pooled` pools one row's [seqLen, H] tokens.
 */
export function runAdaptiveCpu(
  stepper: CpuStepper,
  batch: TokenBatch,
  exits: readonly number[],
  judge: ExitJudge,
  pooled: (rowTokens: Float32Array, length: number) => Float32Array,
  hiddenSize: number,
  task?: number,
): void {
  const rowFloats = batch.seqLen * hiddenSize;
  let rows = batch;
  let x = stepper.embed(batch, task);
  for (let layer = 1; rows.size > 0 && layer <= (exits.at(-1) as number); layer++) {
    x = stepper.layer(layer - 1, x, rows, task);
    judge.ran(layer, rows.size);
    if (!exits.includes(layer)) continue;
    const keep: number[] = [];
    rows.indices.forEach((text, r) => {
      const row = x.subarray(r * rowFloats, (r + 1) * rowFloats);
      if (!judge.offer(text, layer, pooled(row, rows.lengths[r] as number))) keep.push(r);
    });
    if (keep.length === rows.size) continue;
    const kept = new Float32Array(keep.length * rowFloats);
    keep.forEach((r, j) => {
      kept.set(x.subarray(r * rowFloats, (r + 1) * rowFloats), j * rowFloats);
    });
    x = kept;
    rows = selectRows(rows, keep);
  }
}
