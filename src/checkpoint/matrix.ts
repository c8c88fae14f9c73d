import { QuantizedEmbeddingTable } from '../weights/embedding-table.js';
import { type Alloc, emptyLinear, quantizeRows, rowStart } from '../weights/quantize.js';
import { type EmbeddingTable, F32EmbeddingTable, type LayerNormParams, type Linear, type Quant } from '../weights/weights.js';
import type { TensorSource } from './safetensors.js';

/**
 * Values decoded per block (4 MiB of f32): a matrix is read and quantized this many rows at a
 * time, so converting it costs its quantized copy and one block, never its f32 copy or its raw
 * bytes whole (a 250k-row vocabulary table is 0.4-1.5 GB of either).
 */
export const BLOCK_VALUES = 1 << 20;

/**
 * `rows` rows of a checkpoint tensor, one of the tensors a matrix stacks (q, k and v into one
 * qkv): the whole tensor, or rows [first, first + rows) of a tensor of `of` rows.
 */
export interface RowRun {
  name: string;
  rows: number;
  first?: number;
  of?: number;
}

/**
 * Reads the matrix that stacks `runs` (each a [rows, cols] tensor) a block of rows at a time,
 * quantizing each block into `data` / `scales` (sized by matrixBytes / scaleCount): the result is
 * byte for byte what quantizing the whole f32 matrix gives.
 */
export async function quantizeStacked(
  source: TensorSource,
  runs: readonly RowRun[],
  cols: number,
  quant: Quant,
  data: Uint8Array,
  scales?: Float32Array,
): Promise<void> {
  const block = Math.max(1, Math.floor(BLOCK_VALUES / Math.max(1, cols)));
  let row = 0;
  for (const run of runs) {
    for (let from = 0; from < run.rows; from += block) {
      const to = Math.min(from + block, run.rows);
      const first = run.first ?? 0;
      const values = await source.getRows(run.name, [run.of ?? run.rows, cols], first + from, first + to);
      const at = rowStart(quant, cols, row);
      const end = rowStart(quant, cols, row + to - from);
      quantizeRows(values, cols, quant, data.subarray(at.byte, end.byte), scales?.subarray(at.scale, end.scale));
      row += to - from;
    }
  }
}

/**
 * A Linear whose weight stacks `runs` (see quantizeStacked), read and quantized a block at a
 * time into storage from `alloc` (default: new buffers).
 */
export async function readLinear(
  source: TensorSource,
  runs: readonly RowRun[],
  cols: number,
  bias: Float32Array,
  quant: Quant,
  alloc?: Alloc,
): Promise<Linear> {
  const linear = emptyLinear(
    quant,
    runs.reduce((n, r) => n + r.rows, 0),
    cols,
    bias,
    alloc,
  );
  await quantizeStacked(source, runs, cols, quant, linear.data, linear.scales);
  return linear;
}

/**
 * readLinear for matrices whose stacked tensors each have a bias tensor (`bias`, a full name) or
 * none (null: zeros), the bias stacked like the rows.
 */
export async function readBiasedLinear(
  source: TensorSource,
  runs: readonly (RowRun & { bias: string | null })[],
  cols: number,
  quant: Quant,
  alloc?: Alloc,
): Promise<Linear> {
  const bias = new Float32Array(runs.reduce((n, r) => n + r.rows, 0));
  let at = 0;
  for (const run of runs) {
    if (run.bias) bias.set(await source.get(run.bias, [run.rows]), at);
    at += run.rows;
  }
  return readLinear(source, runs, cols, bias, quant, alloc);
}

/** The LayerNorm `name` of width `width`: `.weight` / `.bias`, or the older `.gamma` / `.beta`. */
export async function readLayerNorm(source: TensorSource, name: string, width: number): Promise<LayerNormParams> {
  const modern = source.has(`${name}.weight`);
  return {
    gamma: await source.get(`${name}.${modern ? 'weight' : 'gamma'}`, [width]),
    beta: await source.get(`${name}.${modern ? 'bias' : 'beta'}`, [width]),
  };
}

/** The vocabulary table as the CPU keeps it, read a block at a time: f32, or quantized like a Linear's weight. */
export const readEmbeddingTable: TableReader = async (source, name, rows, cols, quant, alloc) => {
  const table = await readLinear(source, [{ name, rows }], cols, new Float32Array(0), quant, alloc);
  return quant === 'f32'
    ? new F32EmbeddingTable(new Float32Array(table.data.buffer, table.data.byteOffset, rows * cols), rows, cols)
    : new QuantizedEmbeddingTable(table);
};

/** How a reader makes the vocabulary table (readEmbeddingTable, or pendingTable for a converter). */
export type TableReader = (
  source: TensorSource,
  name: string,
  rows: number,
  cols: number,
  quant: Quant,
  alloc?: Alloc,
) => Promise<EmbeddingTable>;

/**
 * A vocabulary table not read yet, for a converter: it reads it straight into the shard that
 * stores it (`fill`) instead of into a table and then a copy of it. It is no table to gather
 * rows from, so nothing but the pack writer is handed one.
 */
export class PendingTable implements EmbeddingTable {
  constructor(
    private readonly source: TensorSource,
    private readonly name: string,
    readonly rows: number,
    readonly cols: number,
    readonly quant: Quant,
  ) {}

  gather(): never {
    throw new RangeError(`${this.name} is read only into a pack, not gathered from`);
  }

  /** Reads and quantizes the table into `data` and `scales` (sized by matrixBytes / scaleCount). */
  fill(data: Uint8Array, scales?: Float32Array): Promise<void> {
    return quantizeStacked(this.source, [{ name: this.name, rows: this.rows }], this.cols, this.quant, data, scales);
  }
}

export const pendingTable: TableReader = async (source, name, rows, cols, quant) =>
  new PendingTable(source, name, rows, cols, quant);
