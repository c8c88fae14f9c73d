import { describe, expect, it } from 'vitest';
import { type Codec, codec, encodeQuery, encodeRow } from '../../src/search/codec.js';
import { CpuScorer } from '../../src/search/cpu-scorer.js';
import { GpuScorer } from '../../src/search/gpu-scorer.js';
import { PAGE_ROWS, RowStore } from '../../src/search/rows.js';
import { MASKED_SCORE, selectTop } from '../../src/search/topk.js';
import type { VectorType } from '../../src/search/types.js';
import { testGpu } from '../support/gpu.js';
import { randomArray, rng } from '../support/random.js';

// The search kernels (shaders/score.wgsl, shaders/topk.wgsl) against the plain-TypeScript
// scorer and a sort, in Node (Dawn) and in headless Chromium.

function fill(store: RowStore, vectors: Float32Array[]): void {
  const c = store.codec;
  const words = new Uint32Array(vectors.length * c.rowWords);
  const scales = new Float32Array(vectors.length);
  vectors.forEach((v, i) => {
    scales[i] = encodeRow(c, v, words.subarray(i * c.rowWords, (i + 1) * c.rowWords));
  });
  store.append(words, scales);
}

function randomVectors(n: number, dims: number, seed: number): Float32Array[] {
  const next = rng(seed);
  return Array.from({ length: n }, () => randomArray(dims, 1, next));
}

/** Every third row left out, plus the rows in `also`. */
function sparseMask(n: number, also: number[] = []): Uint32Array {
  const mask = new Uint32Array(Math.ceil(n / 32));
  for (let r = 0; r < n; r++) if (r % 3 !== 1 && !also.includes(r)) mask[r >>> 5] = (mask[r >>> 5] as number) | (1 << (r & 31));
  return mask;
}

const fullMask = (n: number) => new Uint32Array(Math.ceil(n / 32)).fill(0xffffffff);

async function scorers(c: Codec, vectors: Float32Array[], maxBufferBytes?: number) {
  const store = new RowStore(c);
  fill(store, vectors);
  const gpu = await GpuScorer.create(await testGpu(), store, maxBufferBytes ? { maxBufferBytes } : {});
  return { store, gpu, cpu: new CpuScorer(store) };
}

/** Hamming count behind a binary score, (width - 2h) / width. */
const hamming = (score: number, width: number) => Math.round(((1 - score) * width) / 2);

describe('score kernel', () => {
  const N = 3 * PAGE_ROWS + 77;
  const cases: [VectorType, number, number[]][] = [
    ['f32', 48, [48, 16, 22]],
    ['int8', 48, [48, 16, 20, 22]],
    ['binary', 48, [48, 16, 20]],
    ['binary', 384, [384, 64, 100]],
    ['f32', 384, [384, 64]],
  ];
  for (const [type, dims, widths] of cases) {
    it(`${type} ${dims} dims: every row's score matches the CPU reference at widths ${widths}`, async () => {
      const c = codec(type, dims);
      const vectors = randomVectors(N, dims, dims + type.length);
      const { gpu, cpu } = await scorers(c, vectors);
      const mask = sparseMask(N);
      for (const width of widths) {
        const query = encodeQuery(c, randomArray(dims, 1, rng(width)), width);
        const got = await gpu.scoreAll(query, width, mask);
        const want = await cpu.scoreAll(query, width, mask);
        expect(got.length).toBe(N);
        for (let r = 0; r < N; r++) {
          const g = got[r] as number;
          const w = want[r] as number;
          if (w === MASKED_SCORE) expect(g).toBe(MASKED_SCORE);
          // Vectors are unit length, so |score| <= 1: 1e-5 relative to |q||v| for f32 and int8
          // (summation order differs); binary Hamming counts are integers and must agree exactly.
          else if (type === 'binary') expect(hamming(g, width)).toBe(hamming(w, width));
          else expect(Math.abs(g - w)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(w)));
        }
      }
      gpu.dispose();
    });
  }
});

describe('top-k kernel', () => {
  it.each([1, 10, 200, 1024])('k = %i equals sorting the GPU scores', async (k) => {
    const c = codec('f32', 64);
    const n = 5000;
    const { gpu } = await scorers(c, randomVectors(n, 64, 7));
    const query = encodeQuery(c, randomArray(64, 1, rng(k)), 64);
    const mask = sparseMask(n);
    const scores = await gpu.scoreAll(query, 64, mask);
    const live = [...scores.keys()].filter((r) => (scores[r] as number) > MASKED_SCORE);
    const want = selectTop(
      live.map((r) => scores[r] as number),
      live,
      k,
    );
    const got = await gpu.top(query, 64, k, mask);
    expect([...got.rows]).toEqual([...want.rows]);
    expect([...got.scores]).toEqual([...want.scores]);
    gpu.dispose();
  });

  it('breaks ties by row, so duplicates come back in the order they were added', async () => {
    const c = codec('int8', 32);
    const distinct = randomVectors(7, 32, 3);
    const vectors = Array.from({ length: 3000 }, (_, i) => distinct[(i * 5) % 7] as Float32Array);
    const { gpu, cpu } = await scorers(c, vectors);
    const query = encodeQuery(c, distinct[2] as Float32Array, 32);
    const got = await gpu.top(query, 32, 300, fullMask(3000));
    const tied = vectors.flatMap((v, r) => (v === distinct[2] ? [r] : []));
    expect([...got.rows]).toEqual(tied.slice(0, 300));
    expect([...got.rows]).toEqual([...(await cpu.top(query, 32, 300, fullMask(3000))).rows]);
    gpu.dispose();
  });

  it('stays exact when more scores tie at the cut than the candidate list holds', async () => {
    const c = codec('f32', 16);
    const same = randomVectors(1, 16, 4)[0] as Float32Array;
    const vectors = [...randomVectors(100, 16, 5), ...Array.from({ length: 2500 }, () => same)];
    const { gpu } = await scorers(c, vectors);
    const got = await gpu.top(encodeQuery(c, same, 16), 16, 10, fullMask(vectors.length));
    expect([...got.rows]).toEqual([100, 101, 102, 103, 104, 105, 106, 107, 108, 109]);
    gpu.dispose();
  });

  it('returns only live rows when fewer than k pass the mask, and k above MAX_K selects on the CPU from all scores', async () => {
    const c = codec('binary', 128);
    const n = 2500;
    const { gpu } = await scorers(c, randomVectors(n, 128, 9));
    const query = encodeQuery(c, randomArray(128, 1, rng(1)), 128);
    const few = new Uint32Array(Math.ceil(n / 32));
    for (const r of [4, 900, 2499]) few[r >>> 5] = (few[r >>> 5] as number) | (1 << (r & 31));
    expect([...(await gpu.top(query, 128, 10, few)).rows].sort((a, b) => a - b)).toEqual([4, 900, 2499]);

    const mask = sparseMask(n);
    const scores = await gpu.scoreAll(query, 128, mask);
    const live = [...scores.keys()].filter((r) => (scores[r] as number) > MASKED_SCORE);
    const want = selectTop(
      live.map((r) => scores[r] as number),
      live,
      1500,
    );
    expect([...(await gpu.top(query, 128, 1500, mask)).rows]).toEqual([...want.rows]);
    gpu.dispose();
  });
});

describe('GPU vector store', () => {
  it('splits rows over several buffers past the size limit and scores them all (no mask)', async () => {
    const c = codec('f32', 96);
    const n = 9 * PAGE_ROWS + 5;
    const vectors = randomVectors(n, 96, 11);
    const pageBytes = PAGE_ROWS * c.rowWords * 4;
    const { gpu, cpu } = await scorers(c, vectors, 2 * pageBytes);
    const query = encodeQuery(c, randomArray(96, 1, rng(2)), 96);
    // A null mask (every row) skips the mask loads; it must select the same rows as an all-ones mask.
    const got = await gpu.top(query, 96, 50, null);
    expect(gpu.bufferCount).toBe(5);
    expect([...got.rows]).toEqual([...(await cpu.top(query, 96, 50, fullMask(n))).rows]);
    gpu.dispose();
  });

  it('follows appends and compaction incrementally', async () => {
    const c = codec('int8', 64);
    // 700 rows fill the first buffer's 3 pages, so later changes reach it as dirty row ranges.
    const { store, gpu, cpu } = await scorers(c, randomVectors(700, 64, 21), 3 * PAGE_ROWS * c.rowWords * 4);
    const query = encodeQuery(c, randomArray(64, 1, rng(5)), 64);
    await gpu.scoreAll(query, 64, fullMask(700));
    fill(store, randomVectors(600, 64, 22));
    store.compact((row) => row % 4 !== 0);
    fill(store, randomVectors(10, 64, 23));
    const n = store.count;
    const got = await gpu.scoreAll(query, 64, fullMask(n));
    const want = await cpu.scoreAll(query, 64, fullMask(n));
    expect(n).toBe(985);
    expect(gpu.bufferCount).toBe(2);
    got.forEach((g, r) => {
      expect(Math.abs(g - (want[r] as number))).toBeLessThan(1e-5);
    });
    gpu.dispose();
  });
});
