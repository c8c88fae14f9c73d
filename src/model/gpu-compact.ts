/** A block of consecutive rows moving down to a lower row number. */
export interface RowRun {
  from: number;
  to: number;
  rows: number;
}

/**
 * The moves that bring rows `keep` (ascending) to rows 0, 1, ... in order, consecutive rows
 * merged into one run. Rows already in place (a leading prefix) do not move.
 */
export function rowRuns(keep: readonly number[]): RowRun[] {
  const runs: RowRun[] = [];
  keep.forEach((row, j) => {
    if (row === j) return;
    const last = runs.at(-1);
    if (last && last.from + last.rows === row && last.to + last.rows === j) last.rows++;
    else runs.push({ from: row, to: j, rows: 1 });
  });
  return runs;
}

/**
 * Encodes the copies that compact the stream to rows `keep` of `rowBytes` each. WebGPU refuses a
 * copy within one buffer, so the moving rows go to `scratch` at their new places and come back in
 * one copy: once one row has moved, every later kept row has too, so that range is contiguous.
 */
export function encodeCompaction(
  encoder: GPUCommandEncoder,
  buffers: { stream: GPUBuffer; scratch: GPUBuffer },
  keep: readonly number[],
  rowBytes: number,
): void {
  const runs = rowRuns(keep);
  const first = runs[0];
  if (!first) return;
  for (const r of runs)
    encoder.copyBufferToBuffer(buffers.stream, r.from * rowBytes, buffers.scratch, r.to * rowBytes, r.rows * rowBytes);
  const start = first.to * rowBytes;
  encoder.copyBufferToBuffer(buffers.scratch, start, buffers.stream, start, keep.length * rowBytes - start);
}
