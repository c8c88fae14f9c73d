import { ModelFormatError } from '../errors.js';
import { quantizeLinear } from '../weights/quantize.js';
import type { Linear } from '../weights/weights.js';
import type { TorchTensor } from './torch-state-dict.js';

/**
 * A torch.nn.Linear's state dict (`weight` [rows, cols], `bias` [rows] or none, nothing else) as
 * an f32 Linear, from `cols` features to `rows` (any number where null). `file` names it in errors.
 */
export function linearFromStateDict(
  stateDict: ReadonlyMap<string, TorchTensor>,
  file: string,
  cols: number,
  rows: number | null,
): Linear {
  const weight = stateDict.get('weight');
  const bias = stateDict.get('bias');
  const n = weight?.shape[0] ?? 0;
  if (weight?.shape.length !== 2 || weight.shape[1] !== cols || n < 1 || (rows !== null && n !== rows))
    throw new ModelFormatError(`${file}: weight must be [${rows ?? 'dim'}, ${cols}] (a Linear from the hidden size)`);
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== n))
    throw new ModelFormatError(`${file}: bias must hold ${n} numbers`);
  const extra = [...stateDict.keys()].filter((k) => k !== 'weight' && k !== 'bias');
  if (extra.length > 0) throw new ModelFormatError(`${file}: holds ${extra.join(', ')} besides weight and bias`);
  return quantizeLinear(weight.data, n, cols, bias?.data ?? new Float32Array(n), 'f32');
}
