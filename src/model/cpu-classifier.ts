import type { CrossEncoderSpec } from '../weights/config.js';
import type { ClassifierHead } from '../weights/weights.js';
import { dense, layerNorm, matmul } from './cpu-ops.js';
import { gelu } from './math.js';

const ACTIVATIONS: Record<CrossEncoderSpec['hidden']['activation'], (v: number) => number> = {
  tanh: Math.tanh,
  relu: (v) => Math.max(v, 0),
  gelu,
};

/**
 * A cross-encoder's head made runnable on one pooled pair state (dequantised once): the hidden
 * layer, its activation and LayerNorm where there is one (`eps`, the model's), then the logit.
 */
export function cpuClassifier(head: ClassifierHead, spec: CrossEncoderSpec, eps: number): (pooled: Float32Array) => number {
  const hidden = dense(head.hidden);
  const out = dense(head.out);
  const act = ACTIVATIONS[spec.hidden.activation];
  return (pooled) => {
    const y = matmul(pooled, hidden, 1);
    for (let i = 0; i < y.length; i++) y[i] = act(y[i] as number);
    if (head.norm) layerNorm(y, null, head.norm, hidden.rows, eps);
    return matmul(y, out, 1)[0] as number;
  };
}
