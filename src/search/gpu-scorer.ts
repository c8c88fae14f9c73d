import { GpuError } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import { ScoreKernel } from '../gpu/kernels/score.js';
import { type TopkBuffers, TopkKernel } from '../gpu/kernels/topk.js';
import { GpuQueue, type Readback } from '../gpu/queue.js';
import { GrowableBuffer, type UniformArena } from '../gpu/resources.js';
import { PAGE_ROWS, type RowStore } from './rows.js';
import type { Scorer } from './scorer.js';
import { MASKED_SCORE, type Ranked, selectTop } from './topk.js';

export interface GpuScorerOptions {
  /**
   * Largest vector buffer in bytes; default the device's maxStorageBufferBindingSize (128 MiB on
   * most adapters). Stores past it are split over several buffers, one dispatch each.
   */
  maxBufferBytes?: number;
}

interface VectorBuffer {
  buffer: GPUBuffer;
  pages: number;
}

// A function: in Node the GPUBufferUsage global exists only once Dawn is loaded.
const storage = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;

/**
 * WebGPU scoring over a RowStore. The GPU keeps a copy of the pages that follows the store
 * incrementally (changed row ranges only), and every buffer and pipeline lives as long as the
 * scorer; one search is one submission and one small readback, through the device's GpuQueue
 * (shared with the encoder when both run on one device).
 */
export class GpuScorer implements Scorer {
  readonly kind = 'webgpu';
  private readonly device: GPUDevice;
  private readonly vectors: VectorBuffer[] = [];
  private readonly pagesPerBuffer: number;
  private readonly buffers: Record<
    'scales' | 'query' | 'mask' | 'scores' | 'histogram' | 'state' | 'candidateScores' | 'candidateRows' | 'out',
    GrowableBuffer
  >;
  private scalesUploaded: GPUBuffer | null = null;

  private constructor(
    gpu: GpuContext,
    private readonly store: RowStore,
    private readonly score: ScoreKernel,
    private readonly topk: TopkKernel,
    private readonly queue: GpuQueue,
    options: GpuScorerOptions,
  ) {
    const d = gpu.device;
    this.device = d;
    const limit = options.maxBufferBytes ?? Math.min(d.limits.maxStorageBufferBindingSize, d.limits.maxBufferSize);
    this.pagesPerBuffer = Math.floor(limit / (store.pageWords * 4));
    if (this.pagesPerBuffer < 1) {
      throw new GpuError(
        'GPU_ERROR',
        `one page of ${PAGE_ROWS} vectors (${store.pageWords * 4} bytes) exceeds the ${limit}-byte buffer limit`,
      );
    }
    const grow = (label: string) => new GrowableBuffer(d, `search ${label}`, storage());
    this.buffers = {
      scales: grow('scales'),
      query: grow('query'),
      mask: grow('mask'),
      scores: grow('scores'),
      histogram: grow('top-k histogram'),
      state: grow('top-k state'),
      candidateScores: grow('top-k candidate scores'),
      candidateRows: grow('top-k candidate rows'),
      out: grow('top-k out'),
    };
  }

  /** `queue`: the device's shared queue where other work (the encoder) runs on the same device. */
  static async create(
    gpu: GpuContext,
    store: RowStore,
    options: GpuScorerOptions = {},
    queue = new GpuQueue(gpu),
  ): Promise<GpuScorer> {
    const [score, topk] = await Promise.all([ScoreKernel.create(gpu.device, store.codec.type), TopkKernel.create(gpu.device)]);
    return new GpuScorer(gpu, store, score, topk, queue, options);
  }

  /** Number of vector buffers the store occupies now. */
  get bufferCount(): number {
    return Math.ceil(this.store.pages.length / this.pagesPerBuffer);
  }

  top(query: Uint32Array, width: number, k: number, mask: Uint32Array | null): Promise<Ranked> {
    if (k > TopkKernel.MAX_K) return this.scoreAll(query, width, mask).then((s) => selectLive(s, k));
    return this.queued(async () => {
      const n = this.store.count;
      if (n === 0 || k < 1) return { rows: new Uint32Array(0), scores: new Float32Array(0) };
      const b = this.buffers;
      const t: TopkBuffers = {
        histogram: b.histogram.ensure(TopkKernel.HISTOGRAM_BYTES),
        state: b.state.ensure(TopkKernel.STATE_BYTES),
        candidateScores: b.candidateScores.ensure(TopkKernel.CANDIDATE_BYTES),
        candidateRows: b.candidateRows.ensure(TopkKernel.CANDIDATE_BYTES),
        out: b.out.ensure(TopkKernel.outBytes(k)),
      };
      const { data, scores } = await this.run(query, width, mask, 1, (enc, uniforms, scores) => {
        this.topk.encode(enc, uniforms, scores, t, n, k);
        return { buffer: t.out, bytes: TopkKernel.outBytes(k) };
      });
      const words = new Uint32Array(data);
      // Too many scores tied around the k-th for the candidate list: select from all of them.
      if ((words[0] as number) > TopkKernel.CAP) return selectLive(new Float32Array(await this.download(scores, n * 4)), k);
      const found = Math.min(k, words[0] as number);
      return {
        scores: new Float32Array(words.buffer, 4, k).slice(0, found),
        rows: words.slice(1 + k, 1 + k + found),
      };
    });
  }

  scoreAll(query: Uint32Array, width: number, mask: Uint32Array | null): Promise<Float32Array> {
    return this.queued(async () => {
      const n = this.store.count;
      if (n === 0) return new Float32Array(0);
      const { data } = await this.run(query, width, mask, 0, (_enc, _uniforms, scores) => ({ buffer: scores, bytes: n * 4 }));
      return new Float32Array(data);
    });
  }

  dispose(): void {
    for (const v of this.vectors) v.buffer.destroy();
    this.vectors.length = 0;
    for (const b of Object.values(this.buffers)) b.destroy();
  }

  private queued<T>(job: () => Promise<T>): Promise<T> {
    return this.queue.exclusive(job);
  }

  /**
   * One submission: syncs the store, scores every row into the score buffer (one dispatch per
   * vector buffer), lets `more` encode what uses the scores, and reads back the range it names.
   */
  private async run(
    query: Uint32Array,
    width: number,
    mask: Uint32Array | null,
    extraSlots: number,
    more: (encoder: GPUCommandEncoder, uniforms: UniformArena, scores: GPUBuffer) => Readback,
  ): Promise<{ data: ArrayBuffer; scores: GPUBuffer }> {
    const { device, store } = this;
    const c = store.codec;
    // Set while encoding, inside the error scopes: growing it can run out of memory.
    let scores!: GPUBuffer;
    const data = await this.queue.submit({
      label: 'search',
      slots: this.bufferCount + extraSlots,
      work: store.count * width,
      encode: (enc, uniforms) => {
        this.sync();
        const b = this.buffers;
        scores = b.scores.ensure(store.pages.length * PAGE_ROWS * 4);
        const queryBuffer = b.query.ensure(query.byteLength);
        device.queue.writeBuffer(queryBuffer, 0, query);
        const maskBuffer = b.mask.ensure(mask ? Math.ceil(store.count / 32) * 4 : 4);
        if (mask) device.queue.writeBuffer(maskBuffer, 0, mask, 0, Math.min(mask.length, maskBuffer.size / 4));
        const scales = b.scales.ensure(c.type === 'int8' ? store.count * 4 : 4);
        const pass = enc.beginComputePass({ label: 'score' });
        for (let i = 0; i < this.bufferCount; i++) {
          const row0 = i * this.pagesPerBuffer * PAGE_ROWS;
          this.score.encode(
            pass,
            uniforms,
            { query: queryBuffer, rows: (this.vectors[i] as VectorBuffer).buffer, scales, mask: maskBuffer, scores },
            {
              rows: Math.min(store.count - row0, this.pagesPerBuffer * PAGE_ROWS),
              row0,
              blocks: c.blocks,
              width,
              widthBlocks: c.blocksFor(width),
              normalize: c.type !== 'binary' && width < c.dims,
              masked: mask !== null,
            },
          );
        }
        pass.end();
        return more(enc, uniforms, scores);
      },
    });
    return { data, scores };
  }

  /** A second readback of `bytes` of `buffer` (the overflow path). */
  private download(buffer: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    return this.queue.submit({ label: 'search readback', slots: 0, work: 0, encode: () => ({ buffer, bytes }) });
  }

  /** Brings the GPU copy up to date: grown buffers are re-uploaded whole, others get changed rows. */
  private sync(): void {
    const { device, store } = this;
    const pageWords = store.pageWords;
    const fresh = new Set<number>();
    for (let i = 0; i < this.bufferCount; i++) {
      const first = i * this.pagesPerBuffer;
      const used = Math.min(this.pagesPerBuffer, store.pages.length - first);
      const current = this.vectors[i];
      if (current && current.pages >= used) continue;
      // Doubling keeps re-uploads amortised O(1) per row while the store grows.
      const pages = Math.min(this.pagesPerBuffer, Math.max(used, 2 * (current?.pages ?? 0)));
      current?.buffer.destroy();
      const buffer = device.createBuffer({ label: `search vectors ${i}`, size: pages * pageWords * 4, usage: storage() });
      this.vectors[i] = { buffer, pages };
      for (let p = 0; p < used; p++) {
        device.queue.writeBuffer(buffer, p * pageWords * 4, store.pages[first + p] as Uint32Array);
        fresh.add(first + p);
      }
    }
    const dirty = store.takeDirty();
    for (const { page, lo, hi } of dirty) {
      if (fresh.has(page)) continue;
      const { buffer } = this.vectors[Math.floor(page / this.pagesPerBuffer)] as VectorBuffer;
      const base = (page % this.pagesPerBuffer) * pageWords;
      const data = store.pages[page] as Uint32Array;
      for (let w = 0; w < pageWords; w += PAGE_ROWS * 4) {
        device.queue.writeBuffer(buffer, (base + w + lo * 4) * 4, data, w + lo * 4, (hi - lo) * 4);
      }
    }
    if (store.codec.type !== 'int8') return;
    const scales = this.buffers.scales.ensure(store.count * 4);
    if (scales !== this.scalesUploaded) {
      device.queue.writeBuffer(scales, 0, store.scales, 0, store.count);
      this.scalesUploaded = scales;
      return;
    }
    for (const { page, lo, hi } of dirty)
      device.queue.writeBuffer(scales, (page * PAGE_ROWS + lo) * 4, store.scales, page * PAGE_ROWS + lo, hi - lo);
  }
}

/** The k best of a score array indexed by row, skipping masked rows. */
function selectLive(scores: Float32Array, k: number): Ranked {
  const rows: number[] = [];
  const live: number[] = [];
  scores.forEach((s, row) => {
    if (s > MASKED_SCORE / 2) {
      rows.push(row);
      live.push(s);
    }
  });
  return selectTop(live, rows, k);
}
