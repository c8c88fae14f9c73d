import type { CrossEncoderSpec } from '../weights/config.js';
import type { ClassifierHead } from '../weights/weights.js';
import { dense, layerNorm, matmul } from './cpu-ops.js';
import { gelu } from './math.js';

type HiddenActivation = NonNullable<CrossEncoderSpec['hidden']>['activation'];

const ACTIVATIONS: Record<HiddenActivation, (v: number) => number> = {
  tanh: Math.tanh,
  relu: (v) => Math.max(v, 0),
  gelu,
};

/**
 * A cross-encoder's head made runnable on one pooled pair state (dequantised once): the hidden
 * layer where there is one, its activation and LayerNorm where there is one (`eps`, the model's),
 * then the logit.
 */
export function cpuClassifier(head: ClassifierHead, spec: CrossEncoderSpec, eps: number): (pooled: Float32Array) => number {
  const out = dense(head.out);
  const hidden = head.hidden && spec.hidden ? { d: dense(head.hidden), act: ACTIVATIONS[spec.hidden.activation] } : null;
  return (pooled) => {
    let y = pooled;
    if (hidden) {
      y = matmul(pooled, hidden.d, 1);
      for (let i = 0; i < y.length; i++) y[i] = hidden.act(y[i] as number);
      if (head.norm) layerNorm(y, null, head.norm, hidden.d.rows, eps);
    }
    return matmul(y, out, 1)[0] as number;
  };
}
