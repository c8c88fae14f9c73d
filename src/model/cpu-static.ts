import type { StaticWeights } from '../weights/weights.js';
import type { CpuForward } from './cpu-ops.js';

/** A static embedder's only exit, at zero layers: its tokens' rows, whose mean pooling takes. */
export function staticCpuForward(weights: StaticWeights): CpuForward {
  const H = weights.config.hiddenSize;
  return (batch, _layers, afterLayer) => {
    const x = new Float32Array(batch.size * batch.seqLen * H);
    weights.word.gather(batch.ids, x);
    afterLayer?.(0, x);
    return x;
  };
}
