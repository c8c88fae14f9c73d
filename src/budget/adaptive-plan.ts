import { DEFAULT_TOLERANCE } from '../model/adaptive.js';
import type { AdaptiveQualityRow } from '../pack/manifest.js';
import type { EncoderConfig } from '../weights/config.js';
import type { QualityEstimate } from './quality.js';

/** What a plan with adaptive depth runs: `layers: 'adaptive'` at this tolerance. */
export interface AdaptivePlan {
  tolerance: number;
  /** Layers a text is expected to run on average: what the predicted latency is for. */
  meanLayers: number;
  /** True when meanLayers and the quality were measured on the model's dev sets (its manifest); false: assumed. */
  measured: boolean;
}

export interface AdaptiveCell extends AdaptivePlan {
  dims: number;
  quality: QualityEstimate;
}

/**
 * The adaptive-depth cells the planner weighs beside the fixed (layers, dims) ones: the measured
 * rows of the quality table, else, per width, one at the default tolerance under a stated
 * assumption. Until measured, texts are assumed to stop on average halfway between the first exit
 * they may stop at (the second) and the last, and to be worth what a fixed depth of that mean is
 * (the interpolated quality): no gain from choosing per text is assumed, only a depth between
 * two exits. None for a model with one exit or an architecture without adaptive depth (BERT only).
 */
export function adaptiveCells(
  exits: readonly number[],
  dims: readonly number[],
  config: EncoderConfig,
  measured: readonly AdaptiveQualityRow[] | undefined,
  quality: (layers: number, dims: number) => QualityEstimate,
): AdaptiveCell[] {
  const sorted = [...exits].sort((a, b) => a - b);
  if (sorted.length < 2 || config.modern || config.decoder) return [];
  if (measured?.length) {
    return measured
      .filter((r) => dims.includes(r.dims))
      .map((r) => ({
        dims: r.dims,
        tolerance: r.tolerance,
        meanLayers: r.meanLayers,
        measured: true,
        quality: { score: r.score, source: 'table', proxy: quality(r.meanLayers, r.dims).proxy },
      }));
  }
  const meanLayers = ((sorted[1] as number) + (sorted.at(-1) as number)) / 2;
  return dims.map((d) => ({
    dims: d,
    tolerance: DEFAULT_TOLERANCE,
    meanLayers,
    measured: false,
    quality: quality(meanLayers, d),
  }));
}
