import type { GpuLayerNorm } from '../gpu/kernels/layernorm.js';
import type { DispatchTarget } from '../gpu/profiler.js';
import { type UniformArena, uploadBuffer } from '../gpu/resources.js';
import type { LayerNormParams } from '../weights/weights.js';
import type { TokenBatch } from './batch.js';

/** Where one batch's inputs sit inside the one upload of a submission. */
export interface BatchInputs {
  batch: TokenBatch;
  /** [M, H] vocabulary rows, gathered on the CPU. */
  wordRows: GPUBufferBinding;
  /** [M] position-table rows (BERT's learned positions; RoPE models count within the row). */
  positions: GPUBufferBinding;
  lengths: GPUBufferBinding;
}

/**
 * One architecture's forward on the GPU: its weights, kernels and activation buffers. GpuEncoder
 * owns what every architecture shares (inputs, uniforms, pooling, the submission and readback).
 */
export interface GpuGraph {
  readonly loadedLayers: number;
  /** Uniform slots one batch of `layers` layers takes. */
  slots(layers: number): number;
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

export function uploadNorm(device: GPUDevice, label: string, p: LayerNormParams): GpuLayerNorm {
  return { gamma: uploadBuffer(device, `${label}.gamma`, p.gamma), beta: uploadBuffer(device, `${label}.beta`, p.beta) };
}

export function destroyNorm(n: GpuLayerNorm): void {
  n.gamma.destroy();
  n.beta.destroy();
}
