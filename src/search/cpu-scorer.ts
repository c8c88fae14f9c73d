import { BLOCK_WORDS, int8Lane, popcount } from './codec.js';
import { PAGE_ROWS, type RowStore } from './rows.js';
import type { Scorer } from './scorer.js';
import { MASKED_SCORE, type Ranked, selectTop } from './topk.js';

/** Word `w` of a row inside its page ([block][row][4 words] layout). */
const at = (r: number, w: number) => ((w >>> 2) * PAGE_ROWS + r) * 4 + (w & 3);

/**
 * The score of one row, as the kernels in shaders/score.wgsl define it (see Scorer.top); the
 * plain-TypeScript path and the reference the GPU is tested against.
 */
export function rowScorer(store: RowStore, query: Uint32Array, width: number): (row: number) => number {
  const c = store.codec;
  const normalize = width < c.dims;
  const q = new Float32Array(query.buffer, query.byteOffset, query.length);
  if (c.type === 'binary') {
    const words = Math.ceil(width / 32);
    return (row) => {
      const page = store.pages[Math.floor(row / PAGE_ROWS)] as Uint32Array;
      const r = row % PAGE_ROWS;
      let h = 0;
      for (let w = 0; w < words; w++) {
        const bits = Math.min(32, width - w * 32);
        const m = bits === 32 ? 0xffffffff : (1 << bits) - 1;
        h += popcount(((query[w] as number) ^ (page[at(r, w)] as number)) & m);
      }
      return Math.fround((width - 2 * h) / width);
    };
  }
  const finish = (dot: number, sq: number, scale: number) =>
    Math.fround(normalize ? dot / Math.max(Math.sqrt(sq), 1e-30) : dot * scale);
  // Walks a row block by block (4 dims a block for f32, 4 words of 4 dims for int8): the block's
  // words are contiguous, the next block lies a page-row stride further on.
  const stride = PAGE_ROWS * BLOCK_WORDS;
  if (c.type === 'f32') {
    const floats = store.pages.map((p) => new Float32Array(p.buffer));
    return (row) => {
      const f = floats[Math.floor(row / PAGE_ROWS)] as Float32Array;
      let at = (row % PAGE_ROWS) * BLOCK_WORDS;
      let dot = 0;
      let sq = 0;
      for (let i = 0; i < width; i += 4, at += stride) {
        for (let j = 0; j < 4 && i + j < width; j++) {
          const v = f[at + j] as number;
          dot += (q[i + j] as number) * v;
          sq += v * v;
        }
      }
      return finish(dot, sq, 1);
    };
  }
  return (row) => {
    const page = store.pages[Math.floor(row / PAGE_ROWS)] as Uint32Array;
    let at = (row % PAGE_ROWS) * BLOCK_WORDS;
    let dot = 0;
    let sq = 0;
    for (let i = 0; i < width; i += 16, at += stride) {
      for (let j = 0; j < 16 && i + j < width; j++) {
        const v = int8Lane(page[at + (j >>> 2)] as number, j & 3);
        dot += (q[i + j] as number) * v;
        sq += v * v;
      }
    }
    return finish(dot, sq, store.scales[row] as number);
  };
}

export const isSet = (mask: Uint32Array | null, row: number) => !mask || (((mask[row >>> 5] ?? 0) >>> (row & 31)) & 1) === 1;

/** Scoring in plain TypeScript, for CPU encoders and machines without WebGPU. */
export class CpuScorer implements Scorer {
  readonly kind = 'cpu';

  constructor(private readonly store: RowStore) {}

  async top(query: Uint32Array, width: number, k: number, mask: Uint32Array | null): Promise<Ranked> {
    const score = rowScorer(this.store, query, width);
    const rows: number[] = [];
    const scores: number[] = [];
    for (let row = 0; row < this.store.count; row++) {
      if (!isSet(mask, row)) continue;
      rows.push(row);
      scores.push(score(row));
    }
    return selectTop(scores, rows, k);
  }

  async scoreAll(query: Uint32Array, width: number, mask: Uint32Array | null): Promise<Float32Array> {
    const score = rowScorer(this.store, query, width);
    return Float32Array.from({ length: this.store.count }, (_, row) => (isSet(mask, row) ? score(row) : MASKED_SCORE));
  }

  dispose(): void {}
}
