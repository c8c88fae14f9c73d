import { dequantizeRow } from './quantize.js';
import type { EmbeddingTable, Linear } from './weights.js';

/**
 * A vocabulary table stored like a Linear's weight (f16, q8 per row, q4 per group): a 32k x 256
 * table is 32 MB in f32 but 8 MB in q8, and only the rows of a batch are ever expanded.
 */
export class QuantizedEmbeddingTable implements EmbeddingTable {
  readonly rows: number;
  readonly cols: number;

  constructor(readonly table: Linear) {
    this.rows = table.rows;
    this.cols = table.cols;
  }

  gather(ids: ArrayLike<number>, out: Float32Array): void {
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      if (id < 0 || id >= this.rows) throw new RangeError(`token id ${id} outside the vocabulary (${this.rows})`);
      dequantizeRow(this.table, id, out, i * this.cols);
    }
  }
}
