import { DisposedError, GpuError, UnsupportedError } from '../errors.js';
import type { GpuContext } from '../gpu/device.js';
import { PoolKernel } from '../gpu/kernels/pool.js';
import { KernelProfiler, type KernelTime } from '../gpu/profiler.js';
import { GpuQueue } from '../gpu/queue.js';
import { ELEM_BYTES, type Elem, GrowableBuffer } from '../gpu/resources.js';
import type { EncoderConfig, Pooling } from '../weights/config.js';
import { f16BitsToF32 } from '../weights/f16.js';
import { embeddingWidth } from '../weights/shapes.js';
import type { EncoderWeights } from '../weights/weights.js';
import { adaptiveUnsupported, checkExits, ExitJudge } from './adaptive.js';
import { bucketize, DEFAULT_BATCH_TOKENS, SUBMISSION_TOKENS, selectRows, type TokenBatch } from './batch.js';
import { type CpuHead, cpuHead } from './cpu-ops.js';
import {
  type AdaptiveOptions,
  type AdaptiveResult,
  checkAttended,
  checkForwardOptions,
  checkTokens,
  type EncoderBackend,
  type ForwardOptions,
  finishVector,
  NO_SPARSE_HEAD,
  NO_SPLADE_HEAD,
  STATIC_ON_CPU,
  truncatesWithNorm,
} from './encoder.js';
import { BertGraph } from './gpu-bert.js';
import { encodeCompaction } from './gpu-compact.js';
import { DecoderGraph } from './gpu-decoder.js';
import { type BatchInputs, type GpuGraph, isStepped, type SteppedGraph } from './gpu-graph.js';
import { ModernBertGraph } from './gpu-modernbert.js';
import { GpuSpladeHead } from './gpu-splade-head.js';
import { GpuTokenProjection } from './gpu-token-projection.js';
import type { SparseVector } from './sparse.js';
import { SpladeHead, sparseOf, spladeOf } from './splade.js';
import { WasmKernels } from './wasm/kernels.js';
import { gatherWords } from './word-rows.js';

function graphOf(gpu: GpuContext, weights: EncoderWeights, activations: Elem): Promise<GpuGraph> {
  switch (weights.family) {
    case 'bert':
      return BertGraph.create(gpu, weights, activations);
    case 'modernbert':
      return ModernBertGraph.create(gpu, weights, activations);
    case 'decoder':
      return DecoderGraph.create(gpu, weights, activations);
    case 'static':
      throw new UnsupportedError(STATIC_ON_CPU);
  }
}

export interface GpuEncoderOptions {
  /**
   * The element type of the activation buffers between kernels (default f32). f16 halves their
   * memory and traffic and needs the adapter's `shader-f16`; every kernel still accumulates in
   * f32 and keeps norm and softmax statistics in f32, and pre-norm models (ModernBERT, the
   * decoders) keep their residual stream in f32.
   */
  activations?: Elem;
  /** Bytes of logits one SPLADE decoder chunk holds (default 32 MiB; tests make it small to cross chunks). */
  spladeChunkBytes?: number;
  /** Tokens one submission encodes (default SUBMISSION_TOKENS; tests make it small to cross submissions). */
  submissionTokens?: number;
}

/** Widens f16 bits to f32. */
function widenF16(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = f16BitsToF32(bits[i] as number);
  return out;
}

/** Storage-binding offsets must be multiples of minStorageBufferOffsetAlignment (256 by default). */
const ALIGN = 256;
const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/**
 * What a forward reads back: pooled vectors, every token's state, or every token's state through
 * a projection (the late-interaction model's, or the lexical-weights head).
 */
type Output =
  | {
      kind: 'pooled';
      options: ForwardOptions;
      /** The lexical-weights head, run over every token in the same pass; its outputs go to `scores`. */
      sparse?: { projection: GpuTokenProjection; scores: Float32Array[] };
    }
  | { kind: 'hidden'; attended?: readonly number[] | undefined }
  | { kind: 'tokens'; projection: GpuTokenProjection; attended?: readonly number[] | undefined }
  | { kind: 'splade'; head: GpuSpladeHead };

/** A submission's SPLADE output, one vocabulary-wide row per text, is held to this many bytes. */
const SPLADE_OUT_BYTES = 64 * 2 ** 20;

/**
 * The encoder forward on WebGPU, for any architecture with a GpuGraph. Weights are uploaded once;
 * pipelines are compiled once; activation, input, uniform and readback buffers grow to the
 * largest call seen and are reused. Each call (up to SUBMISSION_TOKENS tokens) is one command
 * submission with one readback, through the device's GpuQueue: calls are serialised with each
 * other and with everything else on the device (an index scoring on it), so concurrent callers
 * queue instead of sharing buffers.
 */
export class GpuEncoder implements EncoderBackend {
  readonly kind = 'webgpu' as const;
  readonly config: EncoderConfig;
  private readonly device: GPUDevice;
  private readonly inputs: GrowableBuffer;
  private readonly out: GrowableBuffer;
  /** The sentence-transformers Dense modules, run on the CPU after pooling; null where there are none. */
  private readonly head: CpuHead | null;
  /** A late-interaction model's projection where it runs on the CPU (a Tanh module); null where the GPU runs it, or there is none. */
  private readonly cpuTokenHead: CpuHead | null;
  private disposed = false;
  /** Set only while a profiled forward records. */
  private profiler: KernelProfiler | null = null;

  private constructor(
    readonly gpu: GpuContext,
    private readonly weights: EncoderWeights,
    private readonly graph: GpuGraph,
    private readonly pool: PoolKernel,
    private readonly queue: GpuQueue,
    /** The element type of the activation buffers (GpuEncoderOptions). */
    readonly activations: Elem,
    private readonly projection: GpuTokenProjection | null,
    /** The lexical-weights head (weights.sparseHead) over every token; null for models without one. */
    private readonly sparse: GpuTokenProjection | null,
    /** A SPLADE model's head and pooling where the GPU runs them; null for other models, or a decoder past a binding. */
    private readonly spladeHead: GpuSpladeHead | null,
    /** A SPLADE head the CPU runs over read-back states (a decoder too large to bind). */
    private readonly cpuSplade: SpladeHead | null,
    private readonly submissionTokens: number,
  ) {
    this.config = weights.config;
    this.device = gpu.device;
    this.inputs = new GrowableBuffer(this.device, 'inputs');
    this.out = new GrowableBuffer(this.device, 'output');
    this.head = weights.head?.length || weights.quantizer ? cpuHead(weights.head, null, weights.quantizer) : null;
    this.cpuTokenHead = weights.lateProjection?.length && !projection ? cpuHead(weights.lateProjection) : null;
  }

  /** `queue`: the device's shared queue where other work (an index) runs on the same device. */
  static async create(
    gpu: GpuContext,
    weights: EncoderWeights,
    queue = new GpuQueue(gpu),
    options: GpuEncoderOptions = {},
  ): Promise<GpuEncoder> {
    const activations = options.activations ?? 'f32';
    if (activations === 'f16' && !gpu.features.shaderF16) {
      throw new UnsupportedError("f16 activations need the GPU adapter's shader-f16 feature, which this one lacks");
    }
    // Pre-norm graphs return an f32 stream under f16 activations too (see GpuEncoderOptions).
    const [graph, pool] = await Promise.all([
      graphOf(gpu, weights, activations),
      PoolKernel.create(gpu.device, ['f32', activations]),
    ]);
    const [projection, sparse] = await Promise.all([
      GpuTokenProjection.create(gpu, weights.lateProjection ?? [], graph.outputElem),
      GpuTokenProjection.create(
        gpu,
        weights.sparseHead ? [{ linear: weights.sparseHead, activation: 'identity' }] : [],
        graph.outputElem,
      ),
    ]);
    const splade = spladeOf(weights);
    const spladeHead =
      splade &&
      (await GpuSpladeHead.create(gpu, splade, {
        input: graph.outputElem,
        ...(options.spladeChunkBytes ? { chunkBytes: options.spladeChunkBytes } : {}),
      }));
    const cpuSplade = splade && !spladeHead ? new SpladeHead(splade, WasmKernels.create()) : null;
    const submissionTokens = options.submissionTokens ?? SUBMISSION_TOKENS;
    return new GpuEncoder(
      gpu,
      weights,
      graph,
      pool,
      queue,
      activations,
      projection,
      sparse,
      spladeHead,
      cpuSplade,
      submissionTokens,
    );
  }

  get loadedLayers(): number {
    return this.graph.loadedLayers;
  }

  get maxTextTokens(): number {
    return Math.min(this.config.maxTokens, this.graph.maxTokens(this.bindingBytes()));
  }

  /** The largest buffer a binding may take on this device. */
  private bindingBytes(): number {
    const { limits } = this.device;
    return Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  }

  /**
   * The batches' tokens: the usual budget, or fewer where an activation buffer of that many would
   * pass the device's buffer or binding limit (a mixture of experts' scratch holds every expert's
   * block: 96 KiB a token in f32 for nomic-embed-text-v2-moe, against 128 MiB on adapters that
   * keep the default limits).
   */
  private batchTokens(tokens: readonly ArrayLike<number>[]): number {
    const bytes = this.bindingBytes();
    const fits = this.graph.maxTokens(bytes);
    const longest = tokens.reduce((n, t) => Math.max(n, t.length), 0);
    if (longest > fits) {
      throw new UnsupportedError(
        `a text of ${longest} tokens is more than this GPU's buffer limit of ${(bytes / 2 ** 20).toFixed(1)} MiB ` +
          `holds (at most ${fits} tokens): pass shorter texts or device: 'cpu'`,
      );
    }
    return Math.min(DEFAULT_BATCH_TOKENS, fits);
  }

  embed(tokens: readonly ArrayLike<number>[], options: ForwardOptions): Promise<Float32Array[]> {
    return this.pooledVectors(tokens, options);
  }

  async embedWithScores(
    tokens: readonly ArrayLike<number>[],
    options: ForwardOptions,
  ): Promise<{ vectors: Float32Array[]; scores: Float32Array[] }> {
    if (!this.sparse) throw new UnsupportedError(NO_SPARSE_HEAD);
    const scores: Float32Array[] = new Array(tokens.length);
    const vectors = await this.pooledVectors(tokens, options, { projection: this.sparse, scores });
    return { vectors, scores };
  }

  private async pooledVectors(
    tokens: readonly ArrayLike<number>[],
    options: ForwardOptions,
    sparse?: Extract<Output, { kind: 'pooled' }>['sparse'],
  ): Promise<Float32Array[]> {
    checkForwardOptions(this, tokens, options);
    const H = this.config.hiddenSize;
    const cutNorm = truncatesWithNorm(this.config) && options.dims < H;
    const extra = sparse ? { sparse } : {};
    if (!this.head && !cutNorm)
      return this.serialised(() => this.run(tokens, options.layers, { kind: 'pooled', options, ...extra }));
    // sentence-transformers Dense modules, and a norm over the full width before a cut, run on the
    // CPU over the read-back pooled vectors: a few MFLOP per text at most, less than one more
    // dispatch and readback would cost.
    const whole = { ...options, dims: H, normalize: false };
    const pooled = await this.serialised(() => this.run(tokens, options.layers, { kind: 'pooled', options: whole, ...extra }));
    const head = this.head ?? ((v: Float32Array) => v);
    return pooled.map((v) => finishVector(head(v), options.dims, options.normalize, cutNorm));
  }

  async embedAdaptive(tokens: readonly ArrayLike<number>[], o: AdaptiveOptions): Promise<AdaptiveResult> {
    checkExits(o.exits, this.loadedLayers);
    checkForwardOptions(this, tokens, { ...o, layers: o.exits.at(-1) as number });
    const graph = this.graph;
    if (!isStepped(graph)) throw adaptiveUnsupported(this.weights.family);
    const judge = new ExitJudge(tokens.length, o, truncatesWithNorm(this.config));
    await this.serialised(async () => {
      for (const batch of bucketize(tokens, this.config, this.batchTokens(tokens)))
        await this.adaptiveBatch(graph, batch, o, judge);
    });
    return judge.result;
  }

  /** One forward per exit: the graph reads back once per call, at its last layer. */
  async pooledAtExits(
    tokens: readonly ArrayLike<number>[],
    exits: readonly number[],
    pooling: Pooling,
    task?: number,
  ): Promise<Float32Array[][]> {
    const out: Float32Array[][] = [];
    const adapter = task === undefined ? {} : { task };
    for (const layers of exits)
      out.push(await this.embed(tokens, { layers, dims: this.config.hiddenSize, pooling, normalize: false, ...adapter }));
    return out;
  }

  async hiddenStates(
    tokens: readonly ArrayLike<number>[],
    layers: number,
    attended?: readonly number[],
  ): Promise<Float32Array[]> {
    return this.perToken(tokens, layers, { kind: 'hidden', attended });
  }

  async tokenVectors(
    tokens: readonly ArrayLike<number>[],
    layers: number,
    attended?: readonly number[],
  ): Promise<Float32Array[]> {
    const head = this.cpuTokenHead;
    if (head) {
      const states = await this.hiddenStates(tokens, layers, attended);
      return states.map((s, i) => head(s, (tokens[i] as ArrayLike<number>).length));
    }
    if (!this.projection)
      throw new UnsupportedError('tokenVectors: this model has no token projection (it is no late-interaction model)');
    return this.perToken(tokens, layers, { kind: 'tokens', projection: this.projection, attended });
  }

  async spladeVectors(tokens: readonly ArrayLike<number>[], layers: number): Promise<SparseVector[]> {
    if (this.cpuSplade) return this.cpuSplade.vectors(await this.hiddenStates(tokens, layers), tokens);
    if (!this.spladeHead) throw new UnsupportedError(NO_SPLADE_HEAD);
    return (await this.perToken(tokens, layers, { kind: 'splade', head: this.spladeHead })).map(sparseOf);
  }

  /**
   * Each text's rows of the states after `layers` layers (or of their projection), or a SPLADE
   * head's vocabulary-wide row, read back once.
   */
  private perToken(
    tokens: readonly ArrayLike<number>[],
    layers: number,
    output: Extract<Output, { kind: 'hidden' | 'tokens' | 'splade' }>,
  ): Promise<Float32Array[]> {
    checkTokens(tokens, this.config);
    checkAttended(tokens, 'attended' in output ? output.attended : undefined);
    if (!Number.isInteger(layers) || layers < 0 || layers > this.loadedLayers) {
      throw new RangeError(`layers must be in 0..${this.loadedLayers}`);
    }
    return this.serialised(() => this.run(tokens, layers, output));
  }

  /**
   * Runs one forward like `embed` with every dispatch timed by timestamp queries, and returns GPU
   * time per kernel (slowest first). Needs the adapter's `timestamp-query` feature.
   */
  async profile(tokens: readonly ArrayLike<number>[], options: ForwardOptions): Promise<KernelTime[]> {
    checkForwardOptions(this, tokens, options);
    if (!this.gpu.features.timestampQuery) throw new UnsupportedError('this GPU adapter has no timestamp-query feature');
    return this.serialised(async () => {
      const profiler = new KernelProfiler(this.device);
      this.profiler = profiler;
      try {
        await this.run(tokens, options.layers, { kind: 'pooled', options });
        return await profiler.read();
      } finally {
        this.profiler = null;
        profiler.destroy();
      }
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.graph.destroy();
    this.projection?.destroy();
    this.sparse?.destroy();
    this.spladeHead?.destroy();
    this.out.destroy();
    this.inputs.destroy();
  }

  private serialised<T>(job: () => Promise<T>): Promise<T> {
    return this.queue.exclusive(() => {
      if (this.disposed) throw new DisposedError('This encoder');
      return job();
    });
  }

  private async run(tokens: readonly ArrayLike<number>[], layers: number, output: Output): Promise<Float32Array[]> {
    const results: Float32Array[] = new Array(tokens.length);
    const second = output.kind === 'pooled' ? output.options.secondSegment : undefined;
    const attended = 'attended' in output ? output.attended : undefined;
    const batches = bucketize(tokens, this.config, this.batchTokens(tokens), second, attended);
    let group: TokenBatch[] = [];
    let groupTokens = 0;
    const flush = async () => {
      if (group.length) await this.submit(group, layers, output, results);
      group = [];
      groupTokens = 0;
    };
    // A SPLADE text reads back a row as wide as the vocabulary: texts, not tokens, bound that output.
    const rowBytes = output.kind === 'splade' ? output.head.vocab * 4 : 0;
    let groupTexts = 0;
    for (const batch of batches) {
      const n = batch.size * batch.seqLen;
      if (groupTokens + n > this.submissionTokens || (groupTexts + batch.size) * rowBytes > SPLADE_OUT_BYTES) {
        await flush();
        groupTexts = 0;
      }
      group.push(batch);
      groupTokens += n;
      groupTexts += batch.size;
    }
    await flush();
    return results;
  }

  /** Encodes every batch of the group into one command buffer, submits once and reads back once. */
  private async submit(batches: TokenBatch[], layers: number, output: Output, results: Float32Array[]): Promise<void> {
    const H = this.config.hiddenSize;
    const elem = this.graph.outputElem;
    const counts = batches.map((b) => b.size * b.seqLen);
    const projection = output.kind === 'tokens' ? output.projection : null;
    const sparse = output.kind === 'pooled' ? (output.sparse ?? null) : null;
    const splade = output.kind === 'splade' ? output.head : null;
    await this.prepare(counts, projection ?? sparse?.projection ?? splade);
    this.graph.reserve(Math.max(...counts));
    projection?.reserve(Math.max(...counts));
    sparse?.projection.reserve(Math.max(...counts));
    splade?.reserve(Math.max(...counts));
    const task = output.kind === 'pooled' ? output.options.task : undefined;
    const { upload, buffer: inputBuffer, placed } = this.layoutInputs(batches, task);

    // Pooled mode writes [texts, dims]; hidden mode copies each batch's [M, H] block out, tokens
    // mode its projected [M, dim] block (f32).
    const outOffsets: number[] = [];
    let outBytes = 0;
    const rowElem: Elem = projection ? 'f32' : elem;
    const rowWidth = projection ? projection.dim : H;
    const rowBytes = rowWidth * ELEM_BYTES[rowElem];
    for (const b of batches) {
      outOffsets.push(outBytes);
      if (output.kind === 'pooled') outBytes += b.size * output.options.dims * 4;
      else if (splade) outBytes += align(b.size * splade.vocab * 4);
      else outBytes += align(b.size * b.seqLen * rowBytes);
    }
    // The lexical-weights head's [M] numbers per batch, after the pooled vectors.
    const scoreOffsets: number[] = [];
    if (sparse) {
      for (const b of batches) {
        outBytes = align(outBytes);
        scoreOffsets.push(outBytes);
        outBytes += b.size * b.seqLen * 4;
      }
    }
    const out = this.out.ensure(outBytes);
    const raw = await this.queue.submit({
      label: 'forward',
      // + 1 per batch for the pooling dispatch, or the projection's; + the head's beside pooling.
      slots:
        batches.length * (this.graph.slots(layers) + (projection?.dispatches ?? 1) + (sparse?.projection.dispatches ?? 0)) +
        (splade ? counts.reduce((n, M) => n + splade.dispatches(M), 0) : 0),
      // Token-layers of padded rows: what the forward's GPU time grows with.
      work: layers * counts.reduce((a, b) => a + b, 0),
      encode: (encoder, uniforms) => {
        this.device.queue.writeBuffer(inputBuffer, 0, upload);
        let rowsDone = 0;
        placed.forEach((p, bi) => {
          const { batch } = p;
          const M = batch.size * batch.seqLen;
          // A SPLADE batch's rows are pooled into by max or sum: they start at zero.
          const rows = splade && { buffer: out, offset: outOffsets[bi] as number, size: batch.size * splade.vocab * 4 };
          if (rows) encoder.clearBuffer(out, rows.offset, rows.size);
          const pass = this.profiler?.pass(encoder) ?? encoder.beginComputePass({ label: `batch ${bi}` });
          const hidden = this.graph.encode(pass, uniforms, p, layers);
          if (rows) {
            splade.encode(pass, uniforms, hidden, M, { seqLen: batch.seqLen, lengths: p.lengths }, rows);
            pass.end();
          } else if (output.kind === 'pooled') {
            const o = output.options;
            this.pool.encode(pass, uniforms, hidden, p.lengths, out, {
              rows: batch.size,
              seqLen: batch.seqLen,
              hidden: H,
              dims: o.dims,
              outRow0: rowsDone,
              pooling: o.pooling,
              normalize: o.normalize,
            });
            const y = sparse?.projection.encode(pass, uniforms, hidden, M);
            pass.end();
            if (y) encoder.copyBufferToBuffer(y, 0, out, scoreOffsets[bi] as number, M * 4);
          } else {
            const y = projection ? projection.encode(pass, uniforms, hidden, M) : hidden;
            pass.end();
            encoder.copyBufferToBuffer(y, 0, out, outOffsets[bi] as number, M * rowBytes);
          }
          rowsDone += batch.size;
        });
        this.profiler?.resolve(encoder);
        return { buffer: out, bytes: outBytes };
      },
    });
    batches.forEach((batch, bi) => {
      const base = outOffsets[bi] as number;
      batch.indices.forEach((textIndex, row) => {
        if (splade) {
          results[textIndex] = new Float32Array(raw, base + row * splade.vocab * 4, splade.vocab).slice();
        } else if (output.kind === 'pooled') {
          const d = output.options.dims;
          results[textIndex] = new Float32Array(raw, base + row * d * 4, d).slice();
          if (sparse) {
            const start = (scoreOffsets[bi] as number) + row * batch.seqLen * 4;
            sparse.scores[textIndex] = new Float32Array(raw, start, batch.lengths[row] as number).slice();
          }
        } else {
          const start = base + row * batch.seqLen * rowBytes;
          const n = ((batch.computed ?? batch.lengths)[row] as number) * rowWidth;
          results[textIndex] =
            rowElem === 'f16' ? widenF16(new Uint16Array(raw, start, n)) : new Float32Array(raw, start, n).slice();
        }
      });
    });
  }

  /**
   * One batch at adaptive depth: one submission per stretch of layers between two exits, reading
   * back only the running texts' pooled vectors for the judge. The next submission first compacts
   * the stream to the rows of the texts that go on, then runs its layers over those rows only.
   * The stream stays in the graph's activation buffers between submissions: the queue's
   * exclusive hold (embedAdaptive) keeps other work off them.
   */
  private async adaptiveBatch(graph: SteppedGraph, batch: TokenBatch, o: AdaptiveOptions, judge: ExitJudge): Promise<void> {
    const H = this.config.hiddenSize;
    const rowBytes = batch.seqLen * H * ELEM_BYTES[graph.outputElem];
    // With a head or a norm before the cut, the CPU finishes full-width vectors, as in embed.
    const width = this.head || truncatesWithNorm(this.config) ? H : o.dims;
    const { upload, buffer, placed } = this.layoutInputs([batch], o.task);
    const inputs = placed[0] as BatchInputs;
    this.graph.reserve(batch.size * batch.seqLen);
    let rows = batch;
    /** The rows to compact the stream to before the next stretch (null: all go on). */
    let keep: number[] | null = null;
    let from = 0;
    for (const exit of o.exits) {
      const stretch = { ...inputs, batch: rows };
      const [start, compact, M] = [from, keep, rows.size * rows.seqLen];
      await this.prepare([M]);
      const bytes = rows.size * width * 4;
      const out = this.out.ensure(bytes);
      const data = new Float32Array(
        await this.queue.submit({
          label: 'forward',
          slots: graph.slots(exit - start) + 1,
          work: (exit - start) * M,
          encode: (encoder, uniforms) => {
            if (start === 0) this.device.queue.writeBuffer(buffer, 0, upload);
            if (compact) {
              encodeCompaction(encoder, graph.streamBuffers(), compact, rowBytes);
              this.device.queue.writeBuffer(buffer, inputs.lengths.offset ?? 0, stretch.batch.lengths);
            }
            const pass = encoder.beginComputePass({ label: `layers ${start + 1}-${exit}` });
            if (start === 0) graph.encodeEmbeddings(pass, uniforms, stretch);
            const hidden = graph.encodeLayers(pass, uniforms, stretch, start, exit);
            this.pool.encode(pass, uniforms, hidden, inputs.lengths, out, {
              rows: stretch.batch.size,
              seqLen: stretch.batch.seqLen,
              hidden: H,
              dims: width,
              outRow0: 0,
              pooling: o.pooling,
              normalize: false,
            });
            pass.end();
            return { buffer: out, bytes };
          },
        }),
      );
      for (let layer = start + 1; layer <= exit; layer++) judge.ran(layer, rows.size);
      const next: number[] = [];
      rows.indices.forEach((text, r) => {
        const v = data.subarray(r * width, (r + 1) * width);
        if (!judge.offer(text, exit, this.head ? this.head(v) : v)) next.push(r);
      });
      if (next.length === 0) return;
      keep = next.length < rows.size ? next : null;
      if (keep) rows = selectRows(rows, keep);
      from = exit;
    }
  }

  /** Compiles the tilings the forward, and `projection` where one follows it, want for batches of these token counts. */
  private async prepare(
    tokenCounts: readonly number[],
    projection: Pick<GpuTokenProjection, 'prepare'> | null = null,
  ): Promise<void> {
    await Promise.all([this.graph.prepare(tokenCounts), projection?.prepare(tokenCounts)]).catch((cause) => {
      throw new GpuError('GPU_ERROR', `compiling the forward's pipelines failed: ${String(cause)}`, { cause });
    });
  }

  /**
   * Packs word rows (with the task adapter's update where a task runs), position ids and lengths
   * of all batches into one upload, each part 256-aligned.
   */
  private layoutInputs(batches: TokenBatch[], task?: number): { upload: ArrayBuffer; buffer: GPUBuffer; placed: BatchInputs[] } {
    const H = embeddingWidth(this.config);
    let total = 0;
    const take = (bytes: number): { offset: number; size: number } => {
      const part = { offset: total, size: Math.max(4, bytes) };
      total = align(total + part.size);
      return part;
    };
    const parts = batches.map((b) => ({
      wordRows: take(b.ids.length * H * 4),
      positions: take(b.positions.length * 4),
      lengths: take(b.lengths.length * 4),
    }));
    const buffer = this.inputs.ensure(total);
    const upload = new ArrayBuffer(total);
    const placed = batches.map((batch, i) => {
      const p = parts[i] as (typeof parts)[number];
      gatherWords(this.weights, batch.ids, new Float32Array(upload, p.wordRows.offset, batch.ids.length * H), task, batch.types);
      new Uint32Array(upload, p.positions.offset, batch.positions.length).set(batch.positions);
      new Uint32Array(upload, p.lengths.offset, batch.lengths.length).set(batch.lengths);
      return {
        batch,
        wordRows: { buffer, ...p.wordRows },
        positions: { buffer, ...p.positions },
        lengths: { buffer, ...p.lengths },
        ...(task === undefined ? {} : { task }),
      };
    });
    return { upload, buffer, placed };
  }
}
