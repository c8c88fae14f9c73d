import type { Linear, Projection, PromptKind } from '../weights/weights.js';
import { type DenseF32, dense, matmul } from './cpu-ops.js';
import { finishVector } from './encoder.js';

/**
 * A model's Projection run on the CPU over read-back pooled vectors: one H x H product per text,
 * far below a layer's work, so it needs no GPU pass of its own. Each exit's matrix is
 * dequantised once, when first used.
 */
export class PromptProjection {
  private readonly ready = new Map<number, DenseF32>();

  constructor(readonly source: Projection) {}

  appliesTo(kind: PromptKind | undefined): boolean {
    return kind !== undefined && this.source.kinds.includes(kind);
  }

  /** A full-width, unnormalised pooled vector that left the model after `exit` layers, projected (full width). */
  project(pooled: Float32Array, exit: number): Float32Array {
    return matmul(pooled, this.matrix(exit), 1);
  }

  /** Each `pooled[i]` (left after `layers[i]` layers) projected, then truncated to `dims` and normalised if asked. */
  finish(pooled: readonly Float32Array[], layers: readonly number[], dims: number, normalize: boolean): Float32Array[] {
    return pooled.map((v, i) => finishVector(this.project(v, layers[i] as number), dims, normalize));
  }

  private matrix(exit: number): DenseF32 {
    let d = this.ready.get(exit);
    if (!d) {
      d = dense(this.source.byExit.get(exit) as Linear);
      this.ready.set(exit, d);
    }
    return d;
  }
}
