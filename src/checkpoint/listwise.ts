import { ModelFormatError } from '../errors.js';
import type { EncoderConfig } from '../weights/config.js';
import type { DenseModule } from '../weights/weights.js';
import { readBiasedLinear } from './matrix.js';
import type { TensorSource } from './safetensors.js';

/**
 * A listwise reranker's projector (config.listwise), in f32: jina-reranker-v3's `projector.0` and
 * `projector.2` (an nn.Sequential whose module 1 is the ReLU), without biases.
 */
export async function listwiseProjector(config: EncoderConfig, source: TensorSource): Promise<DenseModule[]> {
  const spec = config.listwise;
  if (!spec) return [];
  let width = config.hiddenSize;
  const modules: DenseModule[] = [];
  for (const [k, activation] of spec.projection.entries()) {
    const name = `projector.${2 * k}.weight`;
    const shape = source.shape(name);
    const last = k === spec.projection.length - 1;
    if (shape?.length !== 2 || shape[1] !== width || (last && shape[0] !== spec.dim)) {
      throw new ModelFormatError(
        `a listwise reranker needs ${name} [${last ? spec.dim : 'rows'}, ${width}]${shape ? `, got [${shape.join(', ')}]` : ''}`,
      );
    }
    const rows = shape[0] as number;
    modules.push({ linear: await readBiasedLinear(source, [{ name, rows, bias: null }], width, 'f32'), activation });
    width = rows;
  }
  return modules;
}
