import { InputError } from '../errors.js';
import { createGpuContext, type GpuAdapterSummary, type GpuContext } from '../gpu/device.js';
import type { Pooling } from '../weights/config.js';
import type { EncoderWeights } from '../weights/weights.js';
import { CpuEncoder } from './cpu.js';
import type { BackendKind, EncoderBackend, ForwardOptions } from './encoder.js';
import { GpuEncoder } from './gpu.js';

export type BackendChoice = BackendKind | 'auto';

export interface BackendInfo {
  kind: BackendKind;
  /** The WebGPU adapter, for the webgpu backend. */
  adapter: GpuAdapterSummary | null;
  /** Why 'auto' fell back to the CPU, if it did. */
  fallbackReason: string | null;
}

/** A backend made by createBackend; dispose() also destroys the GPU device it created. */
export interface ManagedBackend extends EncoderBackend {
  readonly info: BackendInfo;
  /** Destroys the GPU device as a driver reset would (no-op on the CPU): for recovery tests. */
  loseDevice(): void;
}

class Managed implements ManagedBackend {
  constructor(
    private readonly inner: EncoderBackend,
    readonly info: BackendInfo,
    private readonly gpu: GpuContext | null,
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
  embed(tokens: readonly ArrayLike<number>[], options: ForwardOptions): Promise<Float32Array[]> {
    return this.inner.embed(tokens, options);
  }
  pooledAtExits(tokens: readonly ArrayLike<number>[], exits: readonly number[], pooling: Pooling): Promise<Float32Array[][]> {
    return this.inner.pooledAtExits(tokens, exits, pooling);
  }
  hiddenStates(tokens: readonly ArrayLike<number>[], layers: number): Promise<Float32Array[]> {
    return this.inner.hiddenStates(tokens, layers);
  }
  loseDevice(): void {
    this.gpu?.device.destroy();
  }
  dispose(): void {
    this.inner.dispose();
    this.gpu?.device.destroy();
  }
}

async function createGpuBackend(weights: EncoderWeights): Promise<ManagedBackend> {
  const gpu = await createGpuContext();
  try {
    const encoder = await GpuEncoder.create(gpu, weights);
    return new Managed(encoder, { kind: 'webgpu', adapter: gpu.adapter, fallbackReason: null }, gpu);
  } catch (err) {
    gpu.device.destroy();
    throw err;
  }
}

/**
 * The forward backend for `weights`: 'webgpu' (throws GpuError when WebGPU is unavailable),
 * 'cpu', or 'auto' (WebGPU, else the CPU).
 */
export async function createBackend(weights: EncoderWeights, kind: BackendChoice = 'auto'): Promise<ManagedBackend> {
  switch (kind) {
    case 'cpu':
      return new Managed(new CpuEncoder(weights), { kind: 'cpu', adapter: null, fallbackReason: null }, null);
    case 'webgpu':
      return createGpuBackend(weights);
    case 'auto':
      try {
        return await createGpuBackend(weights);
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        return new Managed(new CpuEncoder(weights), { kind: 'cpu', adapter: null, fallbackReason: reason }, null);
      }
    default:
      throw new InputError(`backend must be webgpu, cpu or auto, got ${JSON.stringify(kind)}`);
  }
}
