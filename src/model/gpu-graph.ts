import { type GpuContext, sharedReads } from '../gpu/device.js';
import { AttentionKernel } from '../gpu/kernels/attention.js';
import { type GpuLayerNorm, LayerNormKernel } from '../gpu/kernels/layernorm.js';
import { destroyLinear, type GpuLinear, MatmulKernel, uploadLinear } from '../gpu/kernels/matmul.js';
import type { DispatchTarget } from '../gpu/profiler.js';
import { ELEM_BYTES, type Elem, GrowableBuffer, type UniformArena, uploadBuffer } from '../gpu/resources.js';
import type { BertLayer, DecoderLayer, LayerNormParams, Linear, ModernBertLayer, Quant } from '../weights/weights.js';
import type { TokenBatch } from './batch.js';

/** Where one batch's inputs sit inside the one upload of a submission. */
export interface BatchInputs {
  batch: TokenBatch;
  /** [M, H] vocabulary rows, gathered on the CPU. */
  wordRows: GPUBufferBinding;
  /** [M] position-table rows (BERT's learned positions; RoPE models count within the row). */
  positions: GPUBufferBinding;
  lengths: GPUBufferBinding;
  /** The task adapter the batch runs (ForwardOptions.task); absent: the base weights. */
  task?: number;
}

/**
 * One architecture's forward on the GPU: its weights, kernels and activation buffers. GpuEncoder
 * owns what every architecture shares (inputs, uniforms, pooling, the submission and readback).
 */
export interface GpuGraph {
  readonly loadedLayers: number;
  /** The element type of the buffer encode returns (the exit representation). */
  readonly outputElem: Elem;
  /** Uniform slots one batch of `layers` layers takes. */
  slots(layers: number): number;
  /** The most tokens one batch may have for every activation buffer to stay within `bytes`. */
  maxTokens(bytes: number): number;
  /** Compiles the pipelines batches of these token counts need (once; later calls return at once). */
  prepare(tokenCounts: readonly number[]): Promise<void>;
  /** Grows the activation buffers for batches of up to `maxM` tokens. */
  reserve(maxM: number): void;
  /**
   * Encodes the batch's first `layers` layers into `pass` and returns the buffer whose first
   * M x H floats are the exit representation (what pooling reads).
   */
  encode(pass: DispatchTarget, uniforms: UniformArena, inputs: BatchInputs, layers: number): GPUBuffer;
  destroy(): void;
}

/**
 * A graph whose forward can stop after any layer and go on later over fewer rows (adaptive
 * depth): between submissions the stream holds each row's [seqLen, H] state, rows in batch order.
 */
export interface SteppedGraph extends GpuGraph {
  /** Encodes the embeddings into the stream. */
  encodeEmbeddings(pass: DispatchTarget, uniforms: UniformArena, inputs: BatchInputs): void;
  /** Encodes layers [from, to) over the stream; returns the buffer pooling reads. */
  encodeLayers(pass: DispatchTarget, uniforms: UniformArena, inputs: BatchInputs, from: number, to: number): GPUBuffer;
  /** The stream, and a buffer of its size free between submissions, to move rows through. */
  streamBuffers(): { stream: GPUBuffer; scratch: GPUBuffer };
}

export const isStepped = (graph: GpuGraph): graph is SteppedGraph => 'encodeLayers' in graph;

/** Uploads weights and keeps what it uploaded, so that a graph frees all of it in one call. */
export class WeightUploads {
  private readonly owned: (() => void)[] = [];
  /** What was uploaded, by the array or Linear it came from: weights that layers share (ALBERT's groups) go up once. */
  private readonly uploaded = new Map<object, GPUBuffer | GpuLinear>();

  constructor(private readonly device: GPUDevice) {}

  buffer(label: string, data: ArrayBufferView): GPUBuffer {
    const known = this.uploaded.get(data);
    if (known) return known as GPUBuffer;
    const b = uploadBuffer(this.device, label, data);
    this.owned.push(() => b.destroy());
    this.uploaded.set(data, b);
    return b;
  }

  linear(label: string, l: Linear): GpuLinear {
    const known = this.uploaded.get(l);
    if (known) return known as GpuLinear;
    const g = uploadLinear(this.device, label, l);
    this.owned.push(() => destroyLinear(g));
    this.uploaded.set(l, g);
    return g;
  }

  norm(label: string, p: LayerNormParams): GpuLayerNorm {
    return { gamma: this.buffer(`${label}.gamma`, p.gamma), beta: this.buffer(`${label}.beta`, p.beta) };
  }

  destroy(): void {
    for (const free of this.owned.splice(0)) free();
    this.uploaded.clear();
  }
}

/** The kernels of an encoder layer, common to every architecture. */
export interface LayerKernels {
  matmul: MatmulKernel;
  attention: AttentionKernel;
  layerNorm: LayerNormKernel;
}

/** The projections every architecture's layer has; each adds its own norms to them. */
export interface GpuProjections {
  qkv: GpuLinear;
  attnOut: GpuLinear;
  ffnIn: GpuLinear;
  ffnOut: GpuLinear;
}

/** A LayerNorm model's layer core: the projections and the feed-forward norm. */
export interface GpuLayerCore extends GpuProjections {
  ffnNorm: GpuLayerNorm;
}

type LayerWeights = BertLayer | ModernBertLayer | DecoderLayer;

/**
 * `elems`: the element types of the graph's activation buffers (roleElems). The kernels compile a
 * pipeline for each pair of types they may be given: matmuls read and write activations only,
 * attention reads and writes f16 or f32 alone, norms also read the f32 word rows.
 */
export async function createLayerKernels(
  gpu: GpuContext,
  o: {
    layers: readonly LayerWeights[];
    /** Weight formats of other matrices the graph multiplies by (a mixture of experts' blocks and router). */
    quants?: readonly Quant[];
    headDim: number;
    eps: number;
    rotary: boolean;
    elems: Readonly<Record<'qkv' | 'attnContext', Elem> & Record<string, Elem>>;
  },
): Promise<LayerKernels> {
  const reads = sharedReads(gpu);
  const quants = [...o.layers.flatMap((l) => [l.qkv.quant, l.attnOut.quant, l.ffnIn.quant, l.ffnOut.quant]), ...(o.quants ?? [])];
  const roles = [...new Set(Object.values(o.elems))];
  const [matmul, attention, layerNorm] = await Promise.all([
    MatmulKernel.create(gpu.device, quants.length ? quants : ['f32'], reads, roles),
    AttentionKernel.create(gpu.device, o.headDim, o.rotary, reads, [o.elems.qkv, o.elems.attnContext]),
    LayerNormKernel.create(gpu.device, o.eps, withInputs(o.elems)),
  ]);
  return { matmul, attention, layerNorm };
}

/**
 * The element type of each activation role: `activations` (f16 only where the device has
 * `shader-f16`, see GpuEncoder), except the roles in `f32` (a pre-norm residual stream, which
 * every layer adds into and which may hold values past f16's range in large models).
 */
export function roleElems<Role extends string>(
  roles: readonly Role[],
  activations: Elem,
  f32: readonly Role[] = [],
): Record<Role, Elem> {
  return Object.fromEntries(roles.map((r) => [r, f32.includes(r) ? 'f32' : activations])) as Record<Role, Elem>;
}

/** The roles' element types and f32, that of the gathered word rows a graph's first kernel reads. */
export const withInputs = (elems: Readonly<Record<string, Elem>>): Elem[] => [...new Set<Elem>(['f32', ...Object.values(elems)])];

export function uploadProjections(up: WeightUploads, i: number, l: LayerWeights): GpuProjections {
  return {
    qkv: up.linear(`layer${i}.qkv`, l.qkv),
    attnOut: up.linear(`layer${i}.attn_out`, l.attnOut),
    ffnIn: up.linear(`layer${i}.ffn_in`, l.ffnIn),
    ffnOut: up.linear(`layer${i}.ffn_out`, l.ffnOut),
  };
}

export function uploadLayerCore(up: WeightUploads, i: number, l: BertLayer | ModernBertLayer): GpuLayerCore {
  return { ...uploadProjections(up, i, l), ffnNorm: up.norm(`layer${i}.ffn_norm`, l.ffnNorm) };
}

/** What an architecture declares beside its encode: see LayerGraph. */
export interface GraphShape<Role extends string> {
  /** Values per token of each activation buffer, by the role it plays in encode. */
  activations: Record<Role, number>;
  /** The element type of each activation buffer (roleElems). */
  elems: Record<Role, Elem>;
  /** The role whose buffer encode returns. */
  output: Role;
  /** Uniform slots (dispatches) of a batch: `fixed` plus `perLayer` for each layer. */
  slots: { fixed: number; perLayer: number };
}

/**
 * The part of a GpuGraph every architecture shares: activation buffers by role, sized by
 * reserve(); pipeline preparation; freeing what was uploaded. An architecture supplies its
 * weights, its GraphShape and encode.
 */
export abstract class LayerGraph<Role extends string, Layer> implements GpuGraph {
  private readonly buffers: [Role, GrowableBuffer][];
  /** The activation buffers as sized by the last reserve(). */
  private sized: Record<Role, GPUBuffer> | null = null;

  protected constructor(
    device: GPUDevice,
    private readonly shape: GraphShape<Role>,
    protected readonly kernels: LayerKernels,
    protected readonly layers: readonly Layer[],
    private readonly uploads: WeightUploads,
  ) {
    this.buffers = (Object.keys(shape.activations) as Role[]).map((role) => [
      role,
      new GrowableBuffer(device, role, undefined, shape.elems[role]),
    ]);
  }

  abstract encode(pass: DispatchTarget, uniforms: UniformArena, inputs: BatchInputs, layers: number): GPUBuffer;

  get loadedLayers(): number {
    return this.layers.length;
  }

  get outputElem(): Elem {
    return this.shape.elems[this.shape.output];
  }

  slots(layers: number): number {
    return this.shape.slots.fixed + this.shape.slots.perLayer * layers;
  }

  maxTokens(bytes: number): number {
    const perToken = Math.max(...this.buffers.map(([role]) => this.shape.activations[role] * ELEM_BYTES[this.shape.elems[role]]));
    return Math.floor(bytes / perToken);
  }

  prepare(tokenCounts: readonly number[]): Promise<void> {
    return this.kernels.matmul.prepare(tokenCounts);
  }

  reserve(maxM: number): void {
    const sized = {} as Record<Role, GPUBuffer>;
    for (const [role, b] of this.buffers) {
      sized[role] = b.ensure(maxM * this.shape.activations[role] * ELEM_BYTES[this.shape.elems[role]]);
    }
    this.sized = sized;
  }

  /** The activation buffers for encode. */
  protected activations(): Record<Role, GPUBuffer> {
    if (!this.sized) throw new Error('GpuGraph: encode before reserve');
    return this.sized;
  }

  destroy(): void {
    this.uploads.destroy();
    for (const [, b] of this.buffers) b.destroy();
  }
}
