import { UnsupportedError } from '../errors.js';
import type { EncoderConfig, Pooling } from '../weights/config.js';
import type { EncoderWeights } from '../weights/weights.js';
import { adaptiveUnsupported, checkExits, ExitJudge } from './adaptive.js';
import { bucketize, type TokenBatch } from './batch.js';
import { runAdaptiveCpu } from './cpu-adaptive.js';
import { bertCpuStepper } from './cpu-bert.js';
import { decoderCpuForward } from './cpu-decoder.js';
import { modernBertCpuForward } from './cpu-modernbert.js';
import { type CpuForward, type CpuHead, type CpuStepper, cpuHead, pool, steppedForward } from './cpu-ops.js';
import { staticCpuForward } from './cpu-static.js';
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
  truncatesWithNorm,
} from './encoder.js';
import type { SparseVector } from './sparse.js';
import { SpladeHead, spladeOf } from './splade.js';
import { WasmKernels } from './wasm/kernels.js';
import { hardwareThreads } from './wasm/threads.js';

/** The family's forward, and its layer-at-a-time form where it has one (what adaptive depth needs). */
function forwardOf(weights: EncoderWeights, kernel: WasmKernels | null): { run: CpuForward; stepper: CpuStepper | null } {
  switch (weights.family) {
    case 'bert': {
      const stepper = bertCpuStepper(weights, kernel);
      return { run: steppedForward(stepper, weights.layers.length), stepper };
    }
    case 'modernbert':
      return { run: modernBertCpuForward(weights, kernel), stepper: null };
    case 'decoder':
      return { run: decoderCpuForward(weights, kernel), stepper: null };
    case 'static':
      return { run: staticCpuForward(weights), stepper: null };
  }
}

// Past 4 threads the shares of a small model's projections get too thin to pay for the hand-over.
const MAX_THREADS = 4;

/**
 * The CPU forward (TypeScript, projections and attention in SIMD WebAssembly): the fallback where
 * WebGPU is missing or fails, and the reference the GPU is tested against. q8 weights stay int8
 * (projections quantise their input rows to i16, within ~1e-4 of f32); other quantizations are
 * dequantized to f32 once here. Where threads can share memory (Node; a cross-origin isolated
 * page's worker), the kernels use up to MAX_THREADS cores.
 */
export class CpuEncoder implements EncoderBackend {
  readonly kind = 'cpu' as const;
  readonly config: EncoderConfig;
  readonly loadedLayers: number;
  private readonly run: CpuForward;
  private readonly stepper: CpuStepper | null;
  private readonly family: EncoderWeights['family'];
  private readonly kernel: WasmKernels | null;
  /** Pooling, then the sentence-transformers Dense modules where the model has them. */
  private readonly pooled: (tokens: Float32Array, length: number, pooling: Pooling) => Float32Array;
  /** A late-interaction model's projection of every token (in the SIMD kernels where there are some); null for other models. */
  private readonly tokenHead: CpuHead | null;
  /** A lexical-weights head over every token; null for models without one. */
  private readonly sparseHead: CpuHead | null;
  /** A SPLADE model's head and pooling; null for other models. */
  private readonly splade: SpladeHead | null;

  get maxTextTokens(): number {
    return this.config.maxTokens;
  }

  /** `threads`: kernel threads (default: the cores, at most MAX_THREADS). */
  constructor(weights: EncoderWeights, { threads = Math.min(MAX_THREADS, hardwareThreads()) }: { threads?: number } = {}) {
    this.config = weights.config;
    this.loadedLayers = weights.layers.length;
    // A static embedder's table lookups need no kernels (and no kernel threads).
    this.kernel = weights.family === 'static' ? null : WasmKernels.create({ threads });
    ({ run: this.run, stepper: this.stepper } = forwardOf(weights, this.kernel));
    this.family = weights.family;
    const head: CpuHead = cpuHead(weights.head, null, weights.quantizer);
    this.pooled = (tokens, length, pooling) => head(pool(tokens, length, this.config.hiddenSize, pooling));
    this.tokenHead = weights.lateProjection?.length ? cpuHead(weights.lateProjection, this.kernel) : null;
    this.sparseHead = weights.sparseHead ? cpuHead([{ linear: weights.sparseHead, activation: 'identity' }], this.kernel) : null;
    const splade = spladeOf(weights);
    this.splade = splade && new SpladeHead(splade, this.kernel);
  }

  async spladeVectors(tokens: readonly ArrayLike<number>[], layers: number): Promise<SparseVector[]> {
    if (!this.splade) throw new UnsupportedError(NO_SPLADE_HEAD);
    return this.splade.vectors(await this.hiddenStates(tokens, layers), tokens);
  }

  async embed(tokens: readonly ArrayLike<number>[], o: ForwardOptions): Promise<Float32Array[]> {
    return this.pooledVectors(tokens, o, null).vectors;
  }

  async embedWithScores(
    tokens: readonly ArrayLike<number>[],
    o: ForwardOptions,
  ): Promise<{ vectors: Float32Array[]; scores: Float32Array[] }> {
    if (!this.sparseHead) throw new UnsupportedError(NO_SPARSE_HEAD);
    return this.pooledVectors(tokens, o, this.sparseHead);
  }

  /** Pooled vectors, and where `sparse` is given that head over every token of the same forward. */
  private pooledVectors(
    tokens: readonly ArrayLike<number>[],
    o: ForwardOptions,
    sparse: CpuHead | null,
  ): { vectors: Float32Array[]; scores: Float32Array[] } {
    checkForwardOptions(this, tokens, o);
    const H = this.config.hiddenSize;
    const vectors: Float32Array[] = new Array(tokens.length);
    const scores: Float32Array[] = sparse ? new Array(tokens.length) : [];
    const truncateNorm = truncatesWithNorm(this.config);
    for (const batch of bucketize(tokens, this.config, undefined, o.secondSegment)) {
      const h = this.forward(batch, o.layers, undefined, o.task);
      const weights = sparse?.(h, batch.size * batch.seqLen);
      batch.indices.forEach((textIndex, row) => {
        const length = batch.lengths[row] as number;
        const states = h.subarray(row * batch.seqLen * H, (row + 1) * batch.seqLen * H);
        vectors[textIndex] = finishVector(this.pooled(states, length, o.pooling), o.dims, o.normalize, truncateNorm);
        if (weights) scores[textIndex] = weights.slice(row * batch.seqLen, row * batch.seqLen + length);
      });
    }
    return { vectors, scores };
  }

  async embedAdaptive(tokens: readonly ArrayLike<number>[], o: AdaptiveOptions): Promise<AdaptiveResult> {
    checkExits(o.exits, this.loadedLayers);
    checkForwardOptions(this, tokens, { ...o, layers: o.exits.at(-1) as number });
    if (!this.stepper) throw adaptiveUnsupported(this.family);
    const judge = new ExitJudge(tokens.length, o, truncatesWithNorm(this.config));
    for (const batch of bucketize(tokens, this.config)) {
      runAdaptiveCpu(
        this.stepper,
        batch,
        o.exits,
        judge,
        (row, length) => this.pooled(row, length, o.pooling),
        this.config.hiddenSize,
        o.task,
      );
    }
    return judge.result;
  }

  async pooledAtExits(
    tokens: readonly ArrayLike<number>[],
    exits: readonly number[],
    pooling: Pooling,
    task?: number,
  ): Promise<Float32Array[][]> {
    const H = this.config.hiddenSize;
    const deepest = Math.max(...exits);
    checkForwardOptions(this, tokens, {
      layers: deepest,
      dims: H,
      pooling,
      normalize: false,
      ...(task === undefined ? {} : { task }),
    });
    const out = exits.map(() => new Array<Float32Array>(tokens.length));
    for (const batch of bucketize(tokens, this.config)) {
      this.forward(
        batch,
        deepest,
        (layer, h) => {
          const e = exits.indexOf(layer);
          if (e < 0) return;
          batch.indices.forEach((textIndex, row) => {
            const rowTokens = h.subarray(row * batch.seqLen * H, (row + 1) * batch.seqLen * H);
            (out[e] as Float32Array[])[textIndex] = this.pooled(rowTokens, batch.lengths[row] as number, pooling);
          });
        },
        task,
      );
    }
    return out;
  }

  async hiddenStates(
    tokens: readonly ArrayLike<number>[],
    layers: number,
    attended?: readonly number[],
  ): Promise<Float32Array[]> {
    return this.perToken(tokens, layers, attended, null);
  }

  async tokenVectors(
    tokens: readonly ArrayLike<number>[],
    layers: number,
    attended?: readonly number[],
  ): Promise<Float32Array[]> {
    if (!this.tokenHead)
      throw new UnsupportedError('tokenVectors: this model has no token projection (it is no late-interaction model)');
    return this.perToken(tokens, layers, attended, this.tokenHead);
  }

  /** Each text's rows of the states after `layers` layers, through `project` where given. */
  private perToken(
    tokens: readonly ArrayLike<number>[],
    layers: number,
    attended: readonly number[] | undefined,
    project: CpuHead | null,
  ): Float32Array[] {
    checkTokens(tokens, this.config);
    checkAttended(tokens, attended);
    const out: Float32Array[] = new Array(tokens.length);
    for (const batch of bucketize(tokens, this.config, undefined, undefined, attended)) {
      const rows = batch.size * batch.seqLen;
      // The whole block at once (padding rows too): one projection instead of one per text.
      const h = this.forward(batch, layers);
      const v = project ? project(h, rows) : h;
      const width = v.length / rows;
      batch.indices.forEach((textIndex, row) => {
        const base = row * batch.seqLen * width;
        out[textIndex] = v.slice(base, base + (tokens[textIndex] as ArrayLike<number>).length * width);
      });
    }
    return out;
  }

  dispose(): void {
    this.kernel?.dispose();
  }

  /**
   * What an exit after `layers` layers pools, [size * seqLen, H]; `afterLayer` sees each layer's
   * exit (it must not keep the array: the forward may go on writing it); `task`: as ForwardOptions.task.
   */
  forward(batch: TokenBatch, layers: number, afterLayer?: (layer: number, h: Float32Array) => void, task?: number): Float32Array {
    return this.run(batch, layers, afterLayer, task);
  }
}
