import { InputError } from '../errors.js';
import type { GpuAdapterSummary } from '../gpu/device.js';
import type { Elem } from '../gpu/resources.js';
import { type GpuHandle, GpuSession } from '../gpu/session.js';
import type { Pooling } from '../weights/config.js';
import type { EncoderWeights } from '../weights/weights.js';
import { CpuEncoder } from './cpu.js';
import type { AdaptiveOptions, AdaptiveResult, BackendKind, EncoderBackend, ForwardOptions } from './encoder.js';
import { GpuEncoder } from './gpu.js';
import type { SparseVector } from './sparse.js';

export type BackendChoice = BackendKind | 'auto';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['cpu', 'webgpu', 'auto'];

export interface BackendInfo {
  kind: BackendKind;
  /** The WebGPU adapter, for the webgpu backend. */
  adapter: GpuAdapterSummary | null;
  /** The element type of the webgpu backend's activations (null on the CPU). */
  activations: Elem | null;
  /** Why 'auto' fell back to the CPU, if it did. */
  fallbackReason: string | null;
}

/** A backend made by createBackend; dispose() also closes the GPU session it made for itself. */
export interface ManagedBackend extends EncoderBackend {
  readonly info: BackendInfo;
  /** The device and queue the webgpu backend runs on (null on the CPU). */
  readonly gpu: GpuHandle | null;
  /** Destroys the GPU device as a driver reset would (no-op on the CPU): for recovery tests. */
  loseDevice(): Promise<void>;
}

class Managed implements ManagedBackend {
  constructor(
    private readonly inner: EncoderBackend,
    readonly info: BackendInfo,
    readonly gpu: GpuHandle | null,
    private readonly session: GpuSession | null,
    private readonly ownsSession: boolean,
  ) {}

  get kind(): BackendKind {
    return this.inner.kind;
  }
  get config() {
    return this.inner.config;
  }
  get loadedLayers(): number {
    return this.inner.loadedLayers;
  }
  get maxTextTokens(): number {
    return this.inner.maxTextTokens;
  }
  embed(tokens: readonly ArrayLike<number>[], options: ForwardOptions): Promise<Float32Array[]> {
    return this.inner.embed(tokens, options);
  }
  embedAdaptive(tokens: readonly ArrayLike<number>[], options: AdaptiveOptions): Promise<AdaptiveResult> {
    return this.inner.embedAdaptive(tokens, options);
  }
  pooledAtExits(
    tokens: readonly ArrayLike<number>[],
    exits: readonly number[],
    pooling: Pooling,
    task?: number,
  ): Promise<Float32Array[][]> {
    return this.inner.pooledAtExits(tokens, exits, pooling, task);
  }
  hiddenStates(tokens: readonly ArrayLike<number>[], layers: number, attended?: readonly number[]): Promise<Float32Array[]> {
    return this.inner.hiddenStates(tokens, layers, attended);
  }
  tokenVectors(tokens: readonly ArrayLike<number>[], layers: number, attended?: readonly number[]): Promise<Float32Array[]> {
    return this.inner.tokenVectors(tokens, layers, attended);
  }
  embedWithScores(
    tokens: readonly ArrayLike<number>[],
    options: ForwardOptions,
  ): Promise<{ vectors: Float32Array[]; scores: Float32Array[] }> {
    return this.inner.embedWithScores(tokens, options);
  }
  spladeVectors(tokens: readonly ArrayLike<number>[], layers: number): Promise<SparseVector[]> {
    return this.inner.spladeVectors(tokens, layers);
  }
  async loseDevice(): Promise<void> {
    await this.session?.loseDevice();
  }
  dispose(): void {
    this.inner.dispose();
    if (this.ownsSession) this.session?.dispose();
  }
}

async function createGpuBackend(
  weights: EncoderWeights,
  session: GpuSession,
  owns: boolean,
  activations: Elem,
): Promise<ManagedBackend> {
  try {
    const gpu = await session.acquire();
    const encoder = await GpuEncoder.create(gpu.gpu, weights, gpu.queue, { activations });
    const info = { kind: 'webgpu' as const, adapter: gpu.gpu.adapter, activations, fallbackReason: null };
    return new Managed(encoder, info, gpu, session, owns);
  } catch (err) {
    if (owns) session.dispose();
    throw err;
  }
}

const cpuBackend = (weights: EncoderWeights, fallbackReason: string | null) =>
  new Managed(new CpuEncoder(weights), { kind: 'cpu', adapter: null, activations: null, fallbackReason }, null, null, false);

/**
 * The forward backend for `weights`: 'webgpu' (throws GpuError when WebGPU is unavailable),
 * 'cpu', or 'auto' (WebGPU, else the CPU). On WebGPU it runs on `session`'s device, shared with
 * whatever else uses that session; without one it makes a session of its own. `activations`: the
 * element type of WebGPU's activation buffers (GpuEncoderOptions).
 */
export async function createBackend(
  weights: EncoderWeights,
  kind: BackendChoice = 'auto',
  session?: GpuSession,
  activations: Elem = 'f32',
): Promise<ManagedBackend> {
  const gpuSession = session ?? new GpuSession();
  const owns = session === undefined;
  switch (kind) {
    case 'cpu':
      if (owns) gpuSession.dispose();
      return cpuBackend(weights, null);
    case 'webgpu':
      return createGpuBackend(weights, gpuSession, owns, activations);
    case 'auto':
      try {
        return await createGpuBackend(weights, gpuSession, owns, activations);
      } catch (err) {
        return cpuBackend(weights, err instanceof Error ? err.message : String(err));
      }
    default:
      if (owns) gpuSession.dispose();
      throw new InputError(`backend must be webgpu, cpu or auto, got ${JSON.stringify(kind)}`);
  }
}
