import { InputError } from '../errors.js';
import { type EncoderConfig, firstExit, type Pooling } from '../weights/config.js';
import type { SparseVector } from './sparse.js';

export type BackendKind = 'webgpu' | 'cpu';

export interface ForwardOptions {
  /** Run only the first `layers` transformer layers. */
  layers: number;
  /** Keep the first `dims` numbers of the pooled vector (Matryoshka truncation). */
  dims: number;
  pooling: Pooling;
  /** L2-normalise after truncation. */
  normalize: boolean;
  /** The task adapter to run (an index into config.lora.tasks); absent: the base weights alone. */
  task?: number;
  /**
   * Per text, the position where its second segment starts: token type 1 from there on (a
   * cross-encoder's query and document pair, on a model with token types); absent: one segment.
   */
  secondSegment?: readonly number[];
}

export interface AdaptiveOptions {
  /** The trained exits a text may leave at, ascending (two or more); every text still running stops at the last. */
  exits: readonly number[];
  /** A text leaves at an exit when its vector's cosine to the previous exit's is at least this. */
  tolerance: number;
  dims: number;
  pooling: Pooling;
  normalize: boolean;
  task?: number;
}

export interface AdaptiveResult {
  vectors: Float32Array[];
  /** The exit each text left at. */
  layers: number[];
  /** Texts that ran each layer, [layer - 1]: the compute the shrinking batch really spent. */
  textsPerLayer: number[];
}

/**
 * One forward implementation (WebGPU or plain TypeScript). Inputs are token id sequences with
 * the special tokens already added; outputs come back in input order.
 */
export interface EncoderBackend {
  readonly kind: BackendKind;
  readonly config: EncoderConfig;
  /** Number of layers whose weights are loaded (an upper bound for `layers`). */
  readonly loadedLayers: number;
  /** The most tokens one text may have here: the model's positions, or fewer where the GPU's buffers hold fewer. */
  readonly maxTextTokens: number;
  embed(tokens: readonly ArrayLike<number>[], options: ForwardOptions): Promise<Float32Array[]>;
  /**
   * Per-text depth: each text leaves at the first exit whose vector agrees with the previous
   * exit's (ExitJudge), and only the texts still running go through the next layer. Throws
   * UnsupportedError for an architecture whose forward cannot drop rows between layers.
   */
  embedAdaptive(tokens: readonly ArrayLike<number>[], options: AdaptiveOptions): Promise<AdaptiveResult>;
  /**
   * Full-width, unnormalised pooled vectors after each layer count in `exits`, as [exit][text]:
   * what evaluation and the planner's quality sweep need, in one pass where the backend can.
   * `task`: as ForwardOptions.task.
   */
  pooledAtExits(
    tokens: readonly ArrayLike<number>[],
    exits: readonly number[],
    pooling: Pooling,
    task?: number,
  ): Promise<Float32Array[][]>;
  /**
   * Hidden states [length, hidden] after `layers` layers (0 = embedding output) as pooling reads
   * them (for ModernBERT, after final_norm where ExitNorm says so): what a late-interaction model
   * projects, and parity checks. `attended`: per text, how many of its first tokens are attended
   * (default all; TokenBatch.computed).
   */
  hiddenStates(tokens: readonly ArrayLike<number>[], layers: number, attended?: readonly number[]): Promise<Float32Array[]>;
  /**
   * A late-interaction model's token vectors: every token's state after `layers` layers through
   * weights.lateProjection, [length, dim] per text, not normalised; `attended` as for hiddenStates.
   */
  tokenVectors(tokens: readonly ArrayLike<number>[], layers: number, attended?: readonly number[]): Promise<Float32Array[]>;
  /**
   * `embed`, and from the same forward, on a model with a lexical-weights head (config.sparse),
   * every token's final state through weights.sparseHead: one number per token ([length] per
   * text, before the ReLU).
   */
  embedWithScores(
    tokens: readonly ArrayLike<number>[],
    options: ForwardOptions,
  ): Promise<{ vectors: Float32Array[]; scores: Float32Array[] }>;
  /**
   * A SPLADE model's weights over the vocabulary (config.splade): every token's state after
   * `layers` layers through the masked-LM head, then SpladePooling, per text.
   */
  spladeVectors(tokens: readonly ArrayLike<number>[], layers: number): Promise<SparseVector[]>;
  dispose(): void;
}

/** What spladeVectors says on a model that is no SPLADE encoder. */
export const NO_SPLADE_HEAD = 'spladeVectors: this model has no SPLADE head (it is no sparse encoder)';

/** What embedWithScores says on a model without a lexical-weights head. */
export const NO_SPARSE_HEAD = 'embedWithScores: this model has no lexical-weights (sparse) head';

/** Why a static embedder never runs on WebGPU (the engine keeps it on the CPU; GpuEncoder refuses it). */
export const STATIC_ON_CPU =
  'a static embedder (model2vec) has no layers for WebGPU to run: its vectors are table lookups and a mean, done on the CPU';

/**
 * The fewest layers a call may run (firstExit); a static embedder's texts may also have no token
 * it knows (model2vec drops unknown tokens; the mean of none is zeros).
 */
const least = (config: EncoderConfig) => firstExit(config.numLayers);

export function checkForwardOptions(backend: EncoderBackend, tokens: readonly ArrayLike<number>[], o: ForwardOptions): void {
  const { hiddenSize } = backend.config;
  const min = least(backend.config);
  if (!Number.isInteger(o.layers) || o.layers < min || o.layers > backend.loadedLayers) {
    throw new InputError(`layers must be an integer in ${min}..${backend.loadedLayers}, got ${o.layers}`);
  }
  if (!Number.isInteger(o.dims) || o.dims < 1 || o.dims > hiddenSize) {
    throw new InputError(`dims must be an integer in 1..${hiddenSize}, got ${o.dims}`);
  }
  checkTask(backend.config, o.task);
  checkTokens(tokens, backend.config);
  if (o.secondSegment !== undefined) {
    if (!Array.isArray(o.secondSegment) || o.secondSegment.length !== tokens.length) {
      throw new InputError('secondSegment must give one position per text');
    }
    o.secondSegment.forEach((s, i) => {
      if (!Number.isInteger(s) || s < 0 || s > (tokens[i] as ArrayLike<number>).length) {
        throw new InputError(`secondSegment[${i}] must be a position in 0..${(tokens[i] as ArrayLike<number>).length}, got ${s}`);
      }
    });
  }
}

export function checkTask(config: EncoderConfig, task: number | undefined): void {
  if (task === undefined) return;
  const tasks = config.lora?.tasks.length ?? 0;
  if (!Number.isInteger(task) || task < 0 || task >= tasks) {
    throw new InputError(
      tasks === 0
        ? `this model has no task adapters, got task ${task}`
        : `task must be an integer in 0..${tasks - 1}, got ${task}`,
    );
  }
}

/** `attended` (hiddenStates): one count per text, each at least 1 and at most the text's tokens. */
export function checkAttended(tokens: readonly ArrayLike<number>[], attended: readonly number[] | undefined): void {
  if (attended === undefined) return;
  if (attended.length !== tokens.length)
    throw new InputError(`attended has ${attended.length} counts for ${tokens.length} texts`);
  attended.forEach((n, i) => {
    if (!Number.isInteger(n) || n < 1 || n > (tokens[i] as ArrayLike<number>).length)
      throw new InputError(`attended[${i}] must be in 1..${(tokens[i] as ArrayLike<number>).length}, got ${n}`);
  });
}

export function checkTokens(tokens: readonly ArrayLike<number>[], config: EncoderConfig): void {
  const { maxTokens, vocabSize } = config;
  const min = least(config);
  tokens.forEach((t, i) => {
    if (t.length < min || t.length > maxTokens) {
      throw new InputError(`text ${i} has ${t.length} tokens; the model takes ${min}..${maxTokens}`);
    }
    for (let j = 0; j < t.length; j++) {
      const id = t[j] as number;
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new InputError(`text ${i} has token id ${id} outside the vocabulary (${vocabSize})`);
      }
    }
  });
}

/**
 * Truncates to `dims` and optionally L2-normalises, on a fresh copy. With `truncateNorm`
 * (GatedBertSpec: nomic-embed-text's Matryoshka recipe) a vector cut short is first
 * layer-normed, without weights, over its full width.
 */
export function finishVector(pooled: Float32Array, dims: number, normalize: boolean, truncateNorm = false): Float32Array {
  const v = (truncateNorm && dims < pooled.length ? unitLayerNorm(pooled) : pooled).slice(0, dims);
  if (normalize) {
    let ss = 0;
    for (let i = 0; i < v.length; i++) ss += (v[i] as number) ** 2;
    const inv = 1 / Math.max(Math.sqrt(ss), 1e-12);
    for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) * inv;
  }
  return v;
}

/** (x - mean) / sqrt(var + 1e-5): torch's F.layer_norm without weights, at its default eps. */
function unitLayerNorm(x: Float32Array): Float32Array {
  let mean = 0;
  for (let i = 0; i < x.length; i++) mean += x[i] as number;
  mean /= x.length;
  let variance = 0;
  for (let i = 0; i < x.length; i++) variance += ((x[i] as number) - mean) ** 2;
  const inv = 1 / Math.sqrt(variance / x.length + 1e-5);
  return x.map((v) => (v - mean) * inv);
}

/** Whether the model's vectors are layer-normed before they are cut short (see finishVector). */
export const truncatesWithNorm = (config: EncoderConfig): boolean => config.gatedBert?.truncateNorm === true;
