import { ScoreKernel } from '../gpu/kernels/score.js';
import { BLOCK_WORDS, type Codec } from './codec.js';

/**
 * Rows per page, the score kernel's workgroup. A page is laid out block-major ([block][row] of
 * 16-byte blocks), so the workgroup that owns a page (one invocation per row) reads each block of
 * its rows as one contiguous run, and a prefix width reads only the page's first blocks.
 */
export const PAGE_ROWS = ScoreKernel.PAGE_ROWS;

/** A range of rows of one page that changed since the GPU copy last synced. */
export interface DirtyRange {
  page: number;
  lo: number;
  hi: number;
}

/** The encoded vectors of an index in the paged layout both scorers read, plus int8 scales. */
export class RowStore {
  readonly pages: Uint32Array[] = [];
  private scaleData = new Float32Array(PAGE_ROWS);
  private rows = 0;
  private readonly dirty = new Map<number, { lo: number; hi: number }>();

  constructor(readonly codec: Codec) {}

  get count(): number {
    return this.rows;
  }

  get pageWords(): number {
    return PAGE_ROWS * this.codec.rowWords;
  }

  /** int8 steps per row (1 for other types), valid for rows < count. */
  get scales(): Float32Array {
    return this.scaleData;
  }

  /** Word `w` of row `row`'s row-major encoding. */
  word(row: number, w: number): number {
    const page = this.pages[Math.floor(row / PAGE_ROWS)] as Uint32Array;
    return page[((w >>> 2) * PAGE_ROWS + (row % PAGE_ROWS)) * BLOCK_WORDS + (w & 3)] as number;
  }

  /** Appends rows given row-major (rowWords words each) with their scales. */
  append(words: Uint32Array, scales: Float32Array): void {
    const n = scales.length;
    const rw = this.codec.rowWords;
    for (let i = 0; i < n; i++) this.place(this.rows + i, words, i * rw, scales[i] as number);
    this.rows += n;
  }

  /** Rows `rows` in row-major order, with their scales. */
  read(rows: readonly number[]): { words: Uint32Array; scales: Float32Array } {
    const rw = this.codec.rowWords;
    const words = new Uint32Array(rows.length * rw);
    rows.forEach((row, i) => {
      for (let w = 0; w < rw; w++) words[i * rw + w] = this.word(row, w);
    });
    return { words, scales: Float32Array.from(rows, (r) => this.scaleData[r] as number) };
  }

  /** Keeps only rows for which `keep` is true, in order; returns the old-to-new row map (-1 = dropped). */
  compact(keep: (row: number) => boolean): Int32Array {
    const map = new Int32Array(this.rows).fill(-1);
    const rw = this.codec.rowWords;
    const tmp = new Uint32Array(rw);
    let next = 0;
    for (let row = 0; row < this.rows; row++) {
      if (!keep(row)) continue;
      map[row] = next;
      if (next !== row) {
        for (let w = 0; w < rw; w++) tmp[w] = this.word(row, w);
        this.place(next, tmp, 0, this.scaleData[row] as number);
      }
      next++;
    }
    this.truncate(next);
    return map;
  }

  clear(): void {
    this.truncate(0);
  }

  /** Changed row ranges since the last call, for the GPU copy. */
  takeDirty(): DirtyRange[] {
    const out = [...this.dirty].map(([page, r]) => ({ page, ...r }));
    this.dirty.clear();
    return out;
  }

  private truncate(rows: number): void {
    this.rows = rows;
    this.pages.length = Math.ceil(rows / PAGE_ROWS);
    for (const page of this.dirty.keys()) if (page >= this.pages.length) this.dirty.delete(page);
  }

  private place(row: number, src: Uint32Array, offset: number, scale: number): void {
    const p = Math.floor(row / PAGE_ROWS);
    const r = row % PAGE_ROWS;
    if (p === this.pages.length) this.pages.push(new Uint32Array(this.pageWords));
    const page = this.pages[p] as Uint32Array;
    for (let w = 0; w < this.codec.rowWords; w++)
      page[((w >>> 2) * PAGE_ROWS + r) * BLOCK_WORDS + (w & 3)] = src[offset + w] as number;
    if (row >= this.scaleData.length) {
      const grown = new Float32Array(this.scaleData.length * 2);
      grown.set(this.scaleData);
      this.scaleData = grown;
    }
    this.scaleData[row] = scale;
    const d = this.dirty.get(p);
    if (d) {
      d.lo = Math.min(d.lo, r);
      d.hi = Math.max(d.hi, r + 1);
    } else this.dirty.set(p, { lo: r, hi: r + 1 });
  }
}
